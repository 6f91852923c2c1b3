package lora

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/model"
)

// Layout says where Train keeps the trained tensors and the optimizer state.
type Layout string

// Layouts of TrainConfig.
const (
	// LayoutAuto is LayoutHost on the CPU backends (accrete, go) and LayoutDevice on the others.
	LayoutAuto Layout = ""
	// LayoutHost keeps the trained tensors and AdamW's moments in host memory and updates them there
	// (fastest on a CPU): every step moves the gradients to the host and the trained tensors back.
	LayoutHost Layout = "host"
	// LayoutDevice keeps the trained tensors and AdamW's moments as backend buffers and updates them in
	// a graph that takes them as donated inputs: a step moves the batch to the device and the loss
	// back, and the trained tensors come to the host once, at the end of the run.
	LayoutDevice Layout = "device"
)

// updater applies the optimizer to the trained tensors of a Train call.
type updater interface {
	// add returns the sum of two micro-batches' gradients, consuming both.
	add(acc, g []*tensors.Tensor) ([]*tensors.Tensor, error)
	// step applies one AdamW step (0-based, of total) with grads, consuming them.
	step(grads []*tensors.Tensor, step, total int) error
	// commit writes the trained values to the host tensors at the end of a successful run.
	commit() error
	// restore returns the trained tensors, on the host and on the device, to their values before the run.
	restore() error
	// close releases the updater's state and programs.
	close()
}

// hostUpdater is LayoutHost: AdamW on host memory (adamW), the device copies refreshed after each step.
// A tensor stored as bfloat16 has a float32 master on the host that AdamW updates; after each step
// the tensor holds the master rounded (master.go).
type hostUpdater struct {
	m        *model.Model
	names    []string
	host     map[string]*model.Tensor
	snapshot *restoreCopy
	opt      *adamW
	vals     [][]float32 // AdamW's values, in names order: Data, or the master of a bfloat16 tensor
	bf16     []int       // the indices of the bfloat16 tensors
}

func newHostUpdater(m *model.Model, names []string, host map[string]*model.Tensor, cfg TrainConfig) *hostUpdater {
	u := &hostUpdater{m: m, names: names, host: host, snapshot: takeSnapshot(host)}
	u.vals, u.bf16 = masterValues(names, host)
	u.opt = newAdamW(u.vals, cfg)
	return u
}

func (u *hostUpdater) add(acc, g []*tensors.Tensor) ([]*tensors.Tensor, error) {
	accumulate(acc, g)
	finalize(g)
	return acc, nil
}

func (u *hostUpdater) step(grads []*tensors.Tensor, step, total int) error {
	u.opt.step(grads, step, total)
	finalize(grads)
	roundMasters(u.names, u.host, u.vals, u.bf16)
	u.m.UpdateWeights(u.names...)
	return nil
}

func (u *hostUpdater) commit() error { return nil }

func (u *hostUpdater) restore() error {
	err := u.snapshot.restore(u.host)
	u.m.UpdateWeights(u.names...)
	return err
}

func (u *hostUpdater) close() { u.snapshot.close() }

// deviceUpdater is LayoutDevice: the trained tensors live in the model's device values
// (Model.SetParamTensors), the moments in backend buffers, and one graph applies AdamW to them with
// donated inputs. The host tensors are not written until commit, so restore only drops the device
// values.
//
// A tensor stored as bfloat16 stays bfloat16 in the model's device values; its float32 master is a
// device buffer made from it in a graph (nothing crosses from the host), AdamW updates the master, and
// the same graph writes the master rounded to bfloat16 as the new device value (master.go). commit
// copies the bfloat16 values to the host tensor.
//
// On several devices (dp, TrainConfig.Devices) every device holds the trained tensors and the moments
// whole and runs the same update on the same all-reduced gradients; the gradients and the moments are
// laid out device after device (m1[k·n+i] is tensor i's on mesh position k, master[k·nb+j] the j-th
// bfloat16 tensor's), the model holds device 0's values and dp the others'.
type deviceUpdater struct {
	m      *model.Model
	b      backends.Backend
	cfg    TrainConfig
	names  []string
	host   map[string]*model.Tensor
	dp     *dataParallel // nil: one device
	m1, m2 []*tensors.Tensor
	bf16   []bool            // names[i] is stored as bfloat16
	nb     int               // how many are
	master []*tensors.Tensor // the float32 masters of the bfloat16 tensors
	// update: params, masters, m1, m2, grads, stepSize, sqrtBc2, decay → params, masters, m1, m2 (per
	// device).
	update  program
	sum     program // a, b → a + b, per tensor (per device)
	changed bool
}

func newDeviceUpdater(m *model.Model, names []string, host map[string]*model.Tensor, cfg TrainConfig) (*deviceUpdater, error) {
	return newMeshUpdater(m, names, host, cfg, nil)
}

// newMeshUpdater is newDeviceUpdater on dp's devices (nil: one device).
func newMeshUpdater(m *model.Model, names []string, host map[string]*model.Tensor, cfg TrainConfig, dp *dataParallel) (*deviceUpdater, error) {
	u := &deviceUpdater{m: m, b: m.Backend(), cfg: cfg, names: names, host: host, dp: dp}
	n := len(names)
	shs := make([]shapes.Shape, n)
	var bf16Names []string
	u.bf16 = make([]bool, n)
	for i, name := range names {
		shs[i] = shapes.Make(dtypes.Float32, host[name].Shape...)
		if host[name].IsBF16() {
			u.bf16[i] = true
			bf16Names = append(bf16Names, name)
		}
	}
	u.nb = len(bf16Names)
	// The moments start as zeros made on the device: nothing of their size crosses from the host.
	zeros := u.compile(func(g *graph.Graph) []*graph.Node {
		out := make([]*graph.Node, 0, 2*n)
		for range 2 {
			for _, s := range shs {
				out = append(out, graph.Zeros(g, s))
			}
		}
		return out
	})
	defer zeros.Finalize()
	z, err := zeros.Exec()
	if err != nil {
		return nil, fmt.Errorf("lora: Train: optimizer state on the device: %w", err)
	}
	for k := range dp.n() {
		u.m1 = append(u.m1, z[2*n*k:2*n*k+n]...)
		u.m2 = append(u.m2, z[2*n*k+n:2*n*(k+1)]...)
	}
	var round func(*graph.Node) *graph.Node
	if u.nb > 0 {
		if err := u.initMasters(bf16Names); err != nil {
			finalize(u.m1)
			finalize(u.m2)
			return nil, fmt.Errorf("lora: Train: float32 master weights on the device: %w", err)
		}
		round = bf16Rounder(u.b)
	}
	u.update = u.compile(func(in []*graph.Node) []*graph.Node { return adamWGraph(cfg, u.bf16, round, in) })
	u.sum = u.compile(func(in []*graph.Node) []*graph.Node {
		out := make([]*graph.Node, n)
		for i := range n {
			out[i] = graph.Add(in[i], in[n+i])
		}
		return out
	})
	return u, nil
}

// compile builds a graph function (as for graph.NewExecAny) for one device, or replicated over dp's.
func (u *deviceUpdater) compile(fn any) program {
	if u.dp != nil {
		return u.dp.compileReplicated(fn)
	}
	e, err := graph.NewExecAny(u.b, fn)
	if err != nil {
		panic(err)
	}
	return e
}

// initMasters makes the float32 masters of the named bfloat16 parameters on every device, widened
// from their device values in a graph.
func (u *deviceUpdater) initMasters(names []string) error {
	widen := u.compile(func(in []*graph.Node) []*graph.Node {
		out := make([]*graph.Node, len(in))
		for i, x := range in {
			out[i] = graph.ConvertDType(x, dtypes.Float32)
		}
		return out
	})
	defer widen.Finalize()
	params := [][]*tensors.Tensor{u.m.ParamTensors(names)}
	if u.dp != nil {
		var err error
		if params, err = u.dp.params(u.m, names); err != nil {
			return err
		}
	}
	var args []any
	for _, ps := range params {
		for _, t := range ps {
			args = append(args, t)
		}
	}
	out, err := widen.Exec(args...)
	if err != nil {
		return err
	}
	u.master = out
	return nil
}

// adamWGraph is AdamW in the graph, the same arithmetic as internal/adamw.Update. With n = len(bf16)
// trained tensors, of which nb are stored as bfloat16 (bf16[i]), in holds the n stored parameters,
// the nb float32 masters of the bfloat16 ones, the n first and n second moments, the n gradients
// (float32) and the scalars stepSize, sqrtBc2 and decay; it returns the n new stored parameters, the
// nb new masters and the new moments. AdamW updates a float32 parameter itself and a bfloat16 one's
// master, and the new bfloat16 parameter is the master rounded (round); the old bfloat16 value is an
// input only to be donated. Global-norm clipping is computed here, in float32, over all n gradients.
func adamWGraph(cfg TrainConfig, bf16 []bool, round func(*graph.Node) *graph.Node, in []*graph.Node) []*graph.Node {
	n, nb := len(bf16), 0
	for _, b := range bf16 {
		if b {
			nb++
		}
	}
	stored, masters := in[:n], in[n:n+nb]
	in = in[n+nb:]
	p := slices.Clone(stored)
	for i, j := 0, 0; i < n; i++ {
		if bf16[i] {
			p[i] = masters[j]
			j++
		}
	}
	m1, m2, gs := in[:n], in[n:2*n], in[2*n:3*n]
	stepSize, sqrtBc2, decay := in[3*n], in[3*n+1], in[3*n+2]
	g := stepSize.Graph()
	clip := graph.Scalar(g, dtypes.Float32, 1)
	if cfg.ClipNorm > 0 {
		var norm2 *graph.Node
		for _, x := range gs {
			s := graph.ReduceAllSum(graph.Mul(x, x))
			if norm2 == nil {
				norm2 = s
			} else {
				norm2 = graph.Add(norm2, s)
			}
		}
		norm := graph.Sqrt(norm2)
		maxNorm := graph.Scalar(g, dtypes.Float32, cfg.ClipNorm)
		clip = graph.Where(graph.GreaterThan(norm, maxNorm), graph.Div(maxNorm, norm), clip)
	}
	b1, b2 := float32(cfg.Beta1), float32(cfg.Beta2)
	c1, c2 := 1-b1, 1-b2
	eps := graph.Scalar(g, dtypes.Float32, float32(cfg.Epsilon))
	out := make([]*graph.Node, 3*n+nb)
	newMasters, moments := out[n:n+nb], out[n+nb:]
	for i, j := 0, 0; i < n; i++ {
		gj := graph.Mul(gs[i], clip)
		a := graph.Add(graph.MulScalar(m1[i], b1), graph.MulScalar(gj, c1))
		v := graph.Add(graph.MulScalar(m2[i], b2), graph.Mul(graph.MulScalar(gj, c2), gj))
		den := graph.Add(graph.Div(graph.Sqrt(v), sqrtBc2), eps)
		np := graph.Sub(graph.Mul(p[i], decay), graph.Div(graph.Mul(stepSize, a), den))
		out[i] = np
		if bf16[i] {
			newMasters[j] = np
			out[i] = round(np)
			j++
		}
		moments[i], moments[n+i] = a, v
	}
	return out
}

// donated returns t's buffer on mesh position k for donation to the next graph, or t itself where the
// backend refuses.
func (u *deviceUpdater) donated(t *tensors.Tensor, k int) any {
	d, err := graph.DonateTensorBuffer(t, u.b, u.dp.device(k))
	if err != nil {
		return t
	}
	return d
}

func (u *deviceUpdater) add(acc, g []*tensors.Tensor) ([]*tensors.Tensor, error) {
	n := len(u.names)
	args := make([]any, 0, 2*len(acc))
	for k := range u.dp.n() {
		for _, t := range slices.Concat(acc[k*n:(k+1)*n], g[k*n:(k+1)*n]) {
			args = append(args, u.donated(t, k))
		}
	}
	out, err := u.sum.Exec(args...)
	finalize(acc)
	finalize(g)
	return out, err
}

func (u *deviceUpdater) step(grads []*tensors.Tensor, step, total int) error {
	c := u.cfg
	lr := c.lrAt(step, total)
	t := float64(step + 1)
	bc1, bc2 := 1-math.Pow(c.Beta1, t), 1-math.Pow(c.Beta2, t)
	n, nb, devs := len(u.names), u.nb, u.dp.n()
	params := [][]*tensors.Tensor{u.m.ParamTensors(u.names)}
	if u.dp != nil {
		var err error
		if params, err = u.dp.params(u.m, u.names); err != nil {
			finalize(grads)
			return err
		}
	}
	args := make([]any, 0, devs*(4*n+nb+3))
	for k := range devs {
		for _, x := range slices.Concat(params[k], u.master[k*nb:(k+1)*nb], u.m1[k*n:(k+1)*n], u.m2[k*n:(k+1)*n], grads[k*n:(k+1)*n]) {
			args = append(args, u.donated(x, k))
		}
		args = append(args, tensors.FromScalar(float32(lr/bc1)), tensors.FromScalar(float32(math.Sqrt(bc2))),
			tensors.FromScalar(float32(1-lr*c.WeightDecay)))
	}
	u.changed = true // the parameters' buffers may be donated now, whatever Exec returns
	out, err := u.update.Exec(args...)
	finalize(grads)
	finalize(u.master)
	finalize(u.m1)
	finalize(u.m2)
	u.master, u.m1, u.m2 = nil, nil, nil
	if err != nil {
		return err
	}
	vals := make([][]*tensors.Tensor, devs)
	per := 3*n + nb
	for k := range devs {
		o := out[per*k : per*(k+1)]
		vals[k] = o[:n]
		u.master = append(u.master, o[n:n+nb]...)
		u.m1 = append(u.m1, o[n+nb:2*n+nb]...)
		u.m2 = append(u.m2, o[2*n+nb:]...)
	}
	if u.dp != nil {
		u.dp.setParams(u.m, u.names, vals)
	} else {
		u.m.SetParamTensors(u.names, vals[0])
	}
	return nil
}

func (u *deviceUpdater) commit() error {
	if !u.changed {
		return nil
	}
	for i, t := range u.m.ParamTensors(u.names) {
		name := u.names[i]
		var flat any = u.host[name].Data
		if u.bf16[i] {
			flat = bf16Flat(u.host[name])
		}
		buf, err := t.Buffer(u.b, 0)
		if err == nil {
			err = u.b.BufferToFlatData(buf, flat)
		}
		if err != nil {
			return fmt.Errorf("lora: Train: copying trained tensor %q %v to the host: %w", name, u.host[name].Shape, err)
		}
	}
	return nil
}

func (u *deviceUpdater) restore() error {
	if u.changed {
		u.m.UpdateWeights(u.names...)
	}
	return nil
}

func (u *deviceUpdater) close() {
	finalize(u.master)
	finalize(u.m1)
	finalize(u.m2)
	u.update.Finalize()
	u.sum.Finalize()
}
