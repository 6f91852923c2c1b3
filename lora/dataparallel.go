package lora

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/model"
)

// dataAxis is the name of the one axis of the data-parallel DeviceMesh.
const dataAxis = "data"

// program is a compiled computation over every device of a mesh: its arguments and results are laid
// out device after device (GoMLX's graph.Exec under AutoSharding).
type program interface {
	Exec(args ...any) ([]*tensors.Tensor, error)
	Finalize()
}

// dataParallel runs Train's graphs on the devices of a one-axis DeviceMesh ("data") through GoMLX's
// AutoSharding (XLA Shardy), for TrainConfig.Devices > 1. The graphs are the one-device graphs,
// written without collectives: the inputs' sharding specs say that each micro-batch's tokens,
// positions, targets and loss mask are split along the batch axis (device k holds rows
// [k·B/n, (k+1)·B/n)) and that the parameters, the micro-batch's weight and the dropout RNG state are
// replicated; every output (the losses, the gradients, AdamW's new parameters and moments) is
// replicated, so XLA adds the all-reduce of the gradients. The loss is the mean over the whole
// micro-batch's answer tokens, as on one device, so the update is the one-device update of the same
// batch up to the order of float32 sums. AdamW runs on every device on identical inputs.
//
// Device 0's parameter values are the model's (Model.ParamTensors, Model.SetParamTensors), so that
// the one-device commit and restore apply unchanged; the copies on the other devices live in
// replicas for one Train call.
type dataParallel struct {
	b       backends.Backend
	mesh    *distributed.DeviceMesh
	devices []backends.DeviceNum // the backend device of each mesh position
	repl    *distributed.ShardingSpec
	// compile builds fn (a graph function, as for graph.NewExecAny) over the mesh with the inputs'
	// and outputs' sharding specs (the last one repeats for the remaining ones).
	compile func(fn any, in, out []*distributed.ShardingSpec) program
	// replicas holds the parameters' values on mesh positions 1..n−1 by name.
	replicas map[string][]*tensors.Tensor
	steps    map[[3]int]program
}

// makeMesh returns the runner of a mesh of n devices of b, or an error naming TrainConfig.Devices
// when b has fewer. It allocates nothing on the devices. Tests replace it to simulate a mesh on one
// device.
var makeMesh = xlaMesh

// newDataParallel returns the runner of cfg.Devices devices of m's backend, nil for one device, or an
// error naming the field when the run cannot be split (checkDevices, makeMesh).
func newDataParallel(m *model.Model, cfg TrainConfig) (*dataParallel, error) {
	if cfg.Devices <= 1 {
		return nil, nil
	}
	if err := checkDevices(cfg); err != nil {
		return nil, err
	}
	return makeMesh(m.Backend(), cfg.Devices)
}

// checkDevices refuses cfg.Devices > 1 with the host layout and a micro-batch that the devices do not
// divide; cfg has its defaults. (A CPU backend, whose default is the host layout, has one device:
// makeMesh refuses it by name.)
func checkDevices(cfg TrainConfig) error {
	n := cfg.Devices
	if n <= 1 {
		return nil
	}
	if cfg.Layout == LayoutHost {
		return fmt.Errorf("lora: TrainConfig.Devices %d needs the device layout, but Layout is %q (AdamW on the host runs on one device)", n, cfg.Layout)
	}
	if cfg.MicroBatchSize%n != 0 {
		what := "BatchSize"
		if cfg.MicroBatchSize < cfg.BatchSize {
			what = "MicroBatchSize"
		}
		return fmt.Errorf("lora: TrainConfig.Devices %d does not divide the micro-batch of %d sequences (TrainConfig.%s): each device takes an equal share",
			n, cfg.MicroBatchSize, what)
	}
	return nil
}

// checkDeviceCount refuses want devices on a backend that has fewer.
func checkDeviceCount(backend string, have, want int) error {
	if want <= have {
		return nil
	}
	unit := "devices"
	if have == 1 {
		unit = "device"
	}
	return fmt.Errorf("lora: TrainConfig.Devices %d but backend %s has %d %s", want, backend, have, unit)
}

// backendLabel names b as GOMLX_BACKEND would: "xla:cuda" for XLA (from its description), else its
// name.
func backendLabel(b backends.Backend) string {
	name, desc := b.String(), b.Description()
	if i := strings.Index(desc, " - "); i > 0 && strings.HasPrefix(desc, name+":") {
		return desc[:i]
	}
	return name
}

// dataMesh is the one-axis mesh of n devices, axis "data".
func dataMesh(n int) (*distributed.DeviceMesh, error) {
	return distributed.NewDeviceMesh([]int{n}, []string{dataAxis})
}

// batchSpec splits a [B, T] tensor's batch axis over the mesh's "data" axis and replicates T.
func batchSpec(mesh *distributed.DeviceMesh) *distributed.ShardingSpec {
	return &distributed.ShardingSpec{Mesh: mesh, Axes: []distributed.AxisSpec{{dataAxis}, distributed.ReplicatedAxis}}
}

// stepShardings are the step graph's input specs (see stepGraph): numParams replicated parameters,
// then tokens, positions, the answer window, targets and the loss mask split along their batch axis
// (axis 0), then the
// micro-batch's weight and, with dropout, the RNG state, replicated.
func stepShardings(mesh *distributed.DeviceMesh, numParams int, dropout bool) []*distributed.ShardingSpec {
	repl := distributed.NewReplicatedShardingSpec(mesh)
	batch := batchSpec(mesh)
	specs := make([]*distributed.ShardingSpec, 0, numParams+7)
	for range numParams {
		specs = append(specs, repl)
	}
	specs = append(specs, batch, batch, batch, batch, batch, repl)
	if dropout {
		specs = append(specs, repl)
	}
	return specs
}

// shardBatch splits each of batchArgs' tensors ([B, T] and [B, A]) along the batch axis as spec says: it returns
// shards[i][k], the rows of args[i] that mesh position k holds, as host tensors.
func shardBatch(spec *distributed.ShardingSpec, args []any) ([][]*tensors.Tensor, error) {
	shards := make([][]*tensors.Tensor, len(args))
	for i, a := range args {
		t, ok := a.(*tensors.Tensor)
		if !ok {
			return nil, fmt.Errorf("lora: data parallel: batch input %d is a %T, not a tensor", i, a)
		}
		d, err := distributed.ShardTensor(spec, t)
		if err != nil {
			return nil, fmt.Errorf("lora: data parallel: splitting batch input %d %v over %d devices: %w", i, t.Shape(), spec.Mesh.NumDevices(), err)
		}
		shards[i] = d.Shards()
	}
	return shards, nil
}

// xlaMesh is makeMesh on a backend that runs AutoSharding (XLA): mesh position k is device k.
func xlaMesh(b backends.Backend, n int) (*dataParallel, error) {
	if err := checkDeviceCount(backendLabel(b), b.NumDevices(), n); err != nil {
		return nil, err
	}
	mesh, err := dataMesh(n)
	if err != nil {
		return nil, fmt.Errorf("lora: TrainConfig.Devices %d: %w", n, err)
	}
	devices := make([]backends.DeviceNum, n)
	for k := range devices {
		devices[k] = backends.DeviceNum(k)
	}
	compile := func(fn any, in, out []*distributed.ShardingSpec) program {
		e, err := graph.NewExecAny(b, fn)
		if err != nil {
			panic(err)
		}
		return e.AutoSharding(mesh).WithDeviceAssignment(devices).WithInputShardingSpecs(in...).WithOutputShardingSpecs(out...)
	}
	return newMeshRunner(b, mesh, devices, compile), nil
}

func newMeshRunner(b backends.Backend, mesh *distributed.DeviceMesh, devices []backends.DeviceNum,
	compile func(fn any, in, out []*distributed.ShardingSpec) program) *dataParallel {
	return &dataParallel{
		b: b, mesh: mesh, devices: devices, repl: distributed.NewReplicatedShardingSpec(mesh), compile: compile,
		replicas: map[string][]*tensors.Tensor{}, steps: map[[3]int]program{},
	}
}

// n returns the number of devices: 1 for a nil runner.
func (dp *dataParallel) n() int {
	if dp == nil {
		return 1
	}
	return len(dp.devices)
}

// device returns the backend device of mesh position k (device 0 for a nil runner).
func (dp *dataParallel) device(k int) backends.DeviceNum {
	if dp == nil {
		return 0
	}
	return dp.devices[k]
}

// compileReplicated builds fn over the mesh with every input and output replicated.
func (dp *dataParallel) compileReplicated(fn any) program {
	specs := []*distributed.ShardingSpec{dp.repl}
	return dp.compile(fn, specs, specs)
}

// params returns the values of the named parameters on every device: params[k][i] is names[i] on
// mesh position k. Position 0's are the model's; the others are copied from them on first use.
func (dp *dataParallel) params(m *model.Model, names []string) ([][]*tensors.Tensor, error) {
	n := dp.n()
	out := make([][]*tensors.Tensor, n)
	out[0] = m.ParamTensors(names)
	for k := 1; k < n; k++ {
		out[k] = make([]*tensors.Tensor, len(names))
	}
	for i, name := range names {
		reps, ok := dp.replicas[name]
		if !ok {
			reps = make([]*tensors.Tensor, n-1)
			for k := 1; k < n; k++ {
				t, err := out[0][i].OnDeviceClone(dp.b, dp.devices[k])
				if err != nil {
					finalize(reps)
					return nil, fmt.Errorf("lora: data parallel: copying %q %v to device %d: %w", name, out[0][i].Shape(), dp.devices[k], err)
				}
				reps[k-1] = t
			}
			dp.replicas[name] = reps
		}
		for k := 1; k < n; k++ {
			out[k][i] = reps[k-1]
		}
	}
	return out, nil
}

// setParams installs new values of the named parameters, vals[k][i] for names[i] on mesh position
// k, and takes ownership of them: position 0's in the model (Model.SetParamTensors), the others in
// the replicas.
func (dp *dataParallel) setParams(m *model.Model, names []string, vals [][]*tensors.Tensor) {
	m.SetParamTensors(names, vals[0])
	for i, name := range names {
		reps := dp.replicas[name]
		if reps == nil {
			reps = make([]*tensors.Tensor, dp.n()-1)
			dp.replicas[name] = reps
		}
		for k := 1; k < dp.n(); k++ {
			if old := reps[k-1]; old != nil && old != vals[k][i] {
				old.FinalizeAll()
			}
			reps[k-1] = vals[k][i]
		}
	}
}

// step is stepGraph.run on the mesh: the batch is split over the devices, and the gradients of every
// device come back device after device.
func (dp *dataParallel) step(s *stepGraph, args []any, shape [3]int, w float32, rngState *tensors.Tensor) (loss, extra float64, grads []*tensors.Tensor, err error) {
	n := dp.n()
	e, ok := dp.steps[shape]
	if !ok {
		e = dp.compile(s.build, stepShardings(dp.mesh, len(s.names), s.drop != nil), []*distributed.ShardingSpec{dp.repl})
		dp.steps[shape] = e
	}
	params, err := dp.params(s.m, s.names)
	if err != nil {
		return 0, 0, nil, err
	}
	shards, err := shardBatch(batchSpec(dp.mesh), args)
	if err != nil {
		return 0, 0, nil, err
	}
	var state []uint64
	if rngState != nil {
		tensors.ConstFlatData(rngState, func(f []uint64) { state = append(state, f...) })
	}
	all := make([]any, 0, n*(len(s.names)+len(args)+2))
	for k := range n {
		for _, t := range params[k] {
			all = append(all, t)
		}
		for i := range shards {
			all = append(all, shards[i][k])
		}
		all = append(all, w)
		if state != nil {
			all = append(all, tensors.FromFlatDataAndDimensions(state, len(state))) // a copy for each device
		}
	}
	out, err := e.Exec(all...)
	if err != nil {
		return 0, 0, nil, err
	}
	per := len(out) / n
	loss, extra = scalar(out[0]), scalar(out[1])
	grads = make([]*tensors.Tensor, 0, n*(per-2))
	for k := range n {
		finalize(out[k*per : k*per+2])
		grads = append(grads, out[k*per+2:(k+1)*per]...)
	}
	return loss, extra, grads, nil
}

// close releases the replicas and the compiled steps; a nil runner does nothing.
func (dp *dataParallel) close() {
	if dp == nil {
		return
	}
	for _, reps := range dp.replicas {
		finalize(reps)
	}
	clear(dp.replicas)
	for _, e := range dp.steps {
		e.Finalize()
	}
	clear(dp.steps)
}
