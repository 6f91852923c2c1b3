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
type hostUpdater struct {
	m        *model.Model
	names    []string
	host     map[string]*model.Tensor
	snapshot *restoreCopy
	opt      *adamW
}

func newHostUpdater(m *model.Model, names []string, host map[string]*model.Tensor, cfg TrainConfig) *hostUpdater {
	u := &hostUpdater{m: m, names: names, host: host, snapshot: takeSnapshot(host)}
	u.opt = newAdamW(names, host, cfg)
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
// On several devices (dp, TrainConfig.Devices) every device holds the trained tensors and the moments
// whole and runs the same update on the same all-reduced gradients; the gradients and the moments are
// laid out device after device (m1[k·n+i] is tensor i's on mesh position k), the model holds device
// 0's values and dp the others'.
type deviceUpdater struct {
	m       *model.Model
	b       backends.Backend
	cfg     TrainConfig
	names   []string
	host    map[string]*model.Tensor
	dp      *dataParallel // nil: one device
	m1, m2  []*tensors.Tensor
	update  program // params, m1, m2, grads, stepSize, sqrtBc2, decay → params, m1, m2 (per device)
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
	for i, name := range names {
		shs[i] = shapes.Make(dtypes.Float32, host[name].Shape...)
	}
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
	u.update = u.compile(func(in []*graph.Node) []*graph.Node { return adamWGraph(cfg, n, in) })
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

// adamWGraph is AdamW in the graph, the same arithmetic as internal/adamw.Update: in holds the n
// parameters, the n first and n second moments, the n gradients and the scalars stepSize, sqrtBc2 and
// decay; it returns the new parameters and moments. Global-norm clipping is computed here, in
// float32, over all n gradients.
func adamWGraph(cfg TrainConfig, n int, in []*graph.Node) []*graph.Node {
	p, m1, m2, gs := in[:n], in[n:2*n], in[2*n:3*n], in[3*n:4*n]
	stepSize, sqrtBc2, decay := in[4*n], in[4*n+1], in[4*n+2]
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
	out := make([]*graph.Node, 3*n)
	for i := range n {
		gj := graph.Mul(gs[i], clip)
		a := graph.Add(graph.MulScalar(m1[i], b1), graph.MulScalar(gj, c1))
		v := graph.Add(graph.MulScalar(m2[i], b2), graph.Mul(graph.MulScalar(gj, c2), gj))
		den := graph.Add(graph.Div(graph.Sqrt(v), sqrtBc2), eps)
		out[i] = graph.Sub(graph.Mul(p[i], decay), graph.Div(graph.Mul(stepSize, a), den))
		out[n+i], out[2*n+i] = a, v
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
	n, devs := len(u.names), u.dp.n()
	params := [][]*tensors.Tensor{u.m.ParamTensors(u.names)}
	if u.dp != nil {
		var err error
		if params, err = u.dp.params(u.m, u.names); err != nil {
			finalize(grads)
			return err
		}
	}
	args := make([]any, 0, devs*(4*n+3))
	for k := range devs {
		for _, x := range slices.Concat(params[k], u.m1[k*n:(k+1)*n], u.m2[k*n:(k+1)*n], grads[k*n:(k+1)*n]) {
			args = append(args, u.donated(x, k))
		}
		args = append(args, tensors.FromScalar(float32(lr/bc1)), tensors.FromScalar(float32(math.Sqrt(bc2))),
			tensors.FromScalar(float32(1-lr*c.WeightDecay)))
	}
	u.changed = true // the parameters' buffers may be donated now, whatever Exec returns
	out, err := u.update.Exec(args...)
	finalize(grads)
	finalize(u.m1)
	finalize(u.m2)
	u.m1, u.m2 = nil, nil
	if err != nil {
		return err
	}
	vals := make([][]*tensors.Tensor, devs)
	for k := range devs {
		o := out[3*n*k : 3*n*(k+1)]
		vals[k] = o[:n]
		u.m1 = append(u.m1, o[n:2*n]...)
		u.m2 = append(u.m2, o[2*n:]...)
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
		buf, err := t.Buffer(u.b, 0)
		if err == nil {
			err = u.b.BufferToFlatData(buf, u.host[name].Data)
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
	finalize(u.m1)
	finalize(u.m2)
	u.update.Finalize()
	u.sum.Finalize()
}
