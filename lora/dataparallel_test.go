package lora

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/distributed"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// TestDataParallelRefusals: Train refuses a run it cannot split over TrainConfig.Devices before it
// allocates anything, naming the field, and leaves the model as it was.
func TestDataParallelRefusals(t *testing.T) {
	require.ErrorContains(t, TrainConfig{Devices: -1}.Validate(), "Devices must be ≥ 0, got -1")
	require.NoError(t, TrainConfig{Devices: 1}.Validate())
	for _, tc := range []struct {
		name string
		cfg  TrainConfig
		want string
	}{
		// The default backend (accrete's CPU backend, or GoMLX's pure-Go one under
		// GOMLX_BACKEND=go as CI's second pass runs it) has one device.
		{"more devices than the backend", TrainConfig{Devices: 2, BatchSize: 4},
			"lora: TrainConfig.Devices 2 but backend " + defaultBackendName(t) + " has 1 device"},
		{"host layout", TrainConfig{Devices: 2, BatchSize: 4, Layout: LayoutHost},
			"lora: TrainConfig.Devices 2 needs the device layout, but Layout is \"host\" (AdamW on the host runs on one device)"},
		{"batch not divisible", TrainConfig{Devices: 3, BatchSize: 8, Layout: LayoutDevice},
			"lora: TrainConfig.Devices 3 does not divide the micro-batch of 8 sequences (TrainConfig.BatchSize): each device takes an equal share"},
		{"micro-batch not divisible", TrainConfig{Devices: 4, BatchSize: 8, MicroBatchSize: 2, Layout: LayoutDevice},
			"lora: TrainConfig.Devices 4 does not divide the micro-batch of 2 sequences (TrainConfig.MicroBatchSize): each device takes an equal share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testmodel.Tiny(t, tinyConfig, 3)
			a, names := attachNew(t, m, Config{Rank: 4, Seed: 1})
			before := snapshot(m, a)
			_, err := Train(context.Background(), m, names, tinyFacts(8, 1), tc.cfg)
			require.EqualError(t, err, tc.want)
			require.Equal(t, before, snapshot(m, a))
		})
	}
	require.EqualError(t, checkDeviceCount("xla:cpu", 1, 4), "lora: TrainConfig.Devices 4 but backend xla:cpu has 1 device")
	require.EqualError(t, checkDeviceCount("xla:cuda", 2, 8), "lora: TrainConfig.Devices 8 but backend xla:cuda has 2 devices")
	require.NoError(t, checkDeviceCount("xla:cuda", 8, 8))
}

// defaultBackendName is the name of the backend the tests run on: "accrete" unless GOMLX_BACKEND
// picks another (CI runs the package a second time on GoMLX's "go" backend).
func defaultBackendName(t *testing.T) string {
	b, err := model.Backend()
	require.NoError(t, err)
	return b.String()
}

// labelled is a backend with another name and description.
type labelled struct {
	backends.Backend
	name, desc string
}

func (b labelled) String() string      { return b.name }
func (b labelled) Description() string { return b.desc }

func TestBackendLabel(t *testing.T) {
	b := testmodel.Tiny(t, tinyConfig, 1).Backend()
	require.Equal(t, defaultBackendName(t), backendLabel(b))
	require.Equal(t, "xla:cuda", backendLabel(labelled{b, "xla", "xla:cuda - PJRT \"cuda\" [2 device(s)]"}))
	require.Equal(t, "xla", backendLabel(labelled{b, "xla", "xla: in an invalid state!"}))
}

// TestDataParallelShardings: the step graph's inputs are the replicated parameters, the batch's four
// [B, T] tensors split along B over the mesh's "data" axis, and the replicated weight and RNG state.
func TestDataParallelShardings(t *testing.T) {
	mesh, err := dataMesh(4)
	require.NoError(t, err)
	require.Equal(t, 4, mesh.NumDevices())
	require.Equal(t, []string{"data"}, mesh.AxesNames())
	for _, dropout := range []bool{false, true} {
		specs := stepShardings(mesh, 3, dropout)
		kinds := make([]string, len(specs))
		for i, s := range specs {
			require.NoError(t, s.Validate())
			require.Same(t, mesh, s.Mesh)
			kinds[i] = "R"
			if !s.IsReplicated() {
				kinds[i] = fmt.Sprint(s.Axes)
				require.Equal(t, 4, s.NumDevicesShardingAxis(0))
				require.Equal(t, 1, s.NumDevicesShardingAxis(1))
				require.Equal(t, shapes.Make(dtypes.Float32, 2, 16), s.ShardShape(shapes.Make(dtypes.Float32, 8, 16)))
			}
		}
		want := []string{"R", "R", "R", "[[data] []]", "[[data] []]", "[[data] []]", "[[data] []]", "[[data] []]", "R"}
		if dropout {
			want = append(want, "R")
		}
		require.Equal(t, want, kinds, "dropout %v", dropout)
	}
	require.Equal(t, [][]string{{"data"}, nil}, batchSpec(mesh).ToBackendsSpec().Axes)
}

// TestShardBatch: mesh position k gets rows [k·B/n, (k+1)·B/n) of each of batchArgs' tensors.
func TestShardBatch(t *testing.T) {
	data := raggedData(6, 4)
	args, shape, _ := batchArgs(data, 6)
	B, T, A := shape[0], shape[1], shape[2]
	mesh, err := dataMesh(3)
	require.NoError(t, err)
	shards, err := shardBatch(batchSpec(mesh), args)
	require.NoError(t, err)
	require.Len(t, shards, 5)
	for i, a := range args {
		full := a.(*tensors.Tensor)
		require.Len(t, shards[i], 3)
		var joined []byte
		width := T // tokens and positions; then the answer window's positions, targets and mask
		if i >= 2 {
			width = A
		}
		for k, s := range shards[i] {
			require.Equal(t, []int{B / 3, width}, s.Shape().Dimensions, "input %d device %d", i, k)
			require.NoError(t, s.ConstBytes(func(b []byte) { joined = append(joined, b...) }))
		}
		require.NoError(t, full.ConstBytes(func(b []byte) { require.Equal(t, b, joined, "input %d", i) }))
	}
	// Row 2 (the first of device 1) is example 2's tokens.
	tensors.ConstFlatData(shards[0][1], func(f []int32) {
		for j, id := range data[2].Tokens {
			require.Equal(t, int32(id), f[j])
		}
	})
	mesh4, err := dataMesh(4)
	require.NoError(t, err)
	_, err = shardBatch(batchSpec(mesh4), args)
	require.ErrorContains(t, err, "over 4 devices")
}

// simMesh simulates a program over n devices on one: each device's call gets its own replicated
// arguments and the concatenation of every device's shards of a split one (the logical tensor, as
// XLA's partitioner sees it), and the replicated results of all devices must agree bit for bit, so
// that a device whose parameters or moments drifted from device 0's fails the call.
type simMesh struct {
	n    int
	in   []*distributed.ShardingSpec
	exec *graph.Exec
	log  *simLog
}

// simLog records what the simulated programs saw.
type simLog struct {
	calls int
	rows  []int // the first dimension of every logical split input
}

func (p *simMesh) spec(i int) *distributed.ShardingSpec {
	if i < len(p.in) {
		return p.in[i]
	}
	return p.in[len(p.in)-1]
}

func (p *simMesh) Exec(args ...any) ([]*tensors.Tensor, error) {
	if len(args)%p.n != 0 {
		return nil, fmt.Errorf("simulated mesh: %d arguments for %d devices", len(args), p.n)
	}
	p.log.calls++
	per := len(args) / p.n
	var outs [][]*tensors.Tensor
	for k := range p.n {
		dev := slices.Clone(args[k*per : (k+1)*per])
		for i := range per {
			if s := p.spec(i); s.IsReplicated() {
				continue
			}
			var joined []byte
			var shape shapes.Shape
			for j := range p.n {
				sh, ok := args[j*per+i].(*tensors.Tensor)
				if !ok {
					return nil, fmt.Errorf("simulated mesh: split input %d of device %d is a %T", i, j, args[j*per+i])
				}
				if j == 0 {
					shape = sh.Shape().Clone()
				} else if !sh.Shape().Equal(shape) {
					return nil, fmt.Errorf("simulated mesh: split input %d: shard %v on device %d, %v on device 0", i, sh.Shape(), j, shape)
				}
				if err := sh.ConstBytes(func(b []byte) { joined = append(joined, b...) }); err != nil {
					return nil, err
				}
			}
			shape.Dimensions[0] *= p.n
			if k == 0 {
				p.log.rows = append(p.log.rows, shape.Dimensions[0])
			}
			whole := tensors.FromShape(shape)
			if err := whole.MutableBytes(func(b []byte) { copy(b, joined) }); err != nil {
				return nil, err
			}
			dev[i] = whole
		}
		out, err := p.exec.Exec(dev...)
		if err != nil {
			return nil, err
		}
		outs = append(outs, out)
	}
	for k := 1; k < p.n; k++ {
		for i, o := range outs[k] {
			var a, b []byte
			outs[0][i].ConstBytes(func(f []byte) { a = slices.Clone(f) })
			o.ConstBytes(func(f []byte) { b = slices.Clone(f) })
			if !bytes.Equal(a, b) {
				return nil, fmt.Errorf("simulated mesh: replicated result %d differs between devices 0 and %d", i, k)
			}
		}
	}
	return slices.Concat(outs...), nil
}

func (p *simMesh) Finalize() { p.exec.Finalize() }

// simulateMesh makes Train run its data-parallel path on a mesh simulated on the test backend's one
// device, for the rest of the test.
func simulateMesh(t *testing.T) *simLog {
	log := &simLog{}
	old := makeMesh
	t.Cleanup(func() { makeMesh = old })
	makeMesh = func(b backends.Backend, n int) (*dataParallel, error) {
		mesh, err := dataMesh(n)
		if err != nil {
			return nil, err
		}
		return newMeshRunner(b, mesh, make([]backends.DeviceNum, n), func(fn any, in, out []*distributed.ShardingSpec) program {
			for _, s := range out {
				require.True(t, s.IsReplicated(), "every result is replicated")
			}
			e, err := graph.NewExecAny(b, fn)
			require.NoError(t, err)
			return &simMesh{n: n, in: in, exec: e, log: log}
		}), nil
	}
	return log
}

// TestTrainDataParallelSimulated runs Train's data-parallel path on a simulated mesh of 2 and 4
// devices: it splits each micro-batch into equal shares, keeps every device's parameters and moments
// identical, and ends with the weights of the one-device run, bit for bit (the simulation computes
// the logical graph, so the sums are in the same order; on real devices XLA's all-reduce may add the
// shares' float32 gradients in another order). What it cannot check is XLA's partitioning itself.
func TestTrainDataParallelSimulated(t *testing.T) {
	data := raggedData(24, 3)
	for _, mode := range []string{"lora", "fft"} {
		for _, tc := range []struct {
			name    string
			devices int
			cfg     TrainConfig
		}{
			{"2 devices", 2, TrainConfig{BatchSize: 6, MaxSteps: 4, WeightDecay: 0.1, ClipNorm: 0.5}},
			{"4 devices accumulated", 4, TrainConfig{BatchSize: 10, MicroBatchSize: 4, MaxSteps: 3, Schedule: Cosine}},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				run := func(devices int) (map[string][]float32, Result) {
					cfg := tc.cfg
					cfg.LearningRate, cfg.Seed, cfg.Layout, cfg.Devices = 1e-2, 5, LayoutDevice, devices
					return trainTinyMode(t, mode, data, cfg, false)
				}
				one, res1 := run(1)
				log := simulateMesh(t)
				several, res := run(tc.devices)
				require.Positive(t, log.calls, "the data-parallel path ran")
				micro := cmpOrInt(tc.cfg.MicroBatchSize, tc.cfg.BatchSize)
				for _, r := range log.rows {
					require.Equal(t, micro, r, "each split input is one micro-batch, in %d equal shares", tc.devices)
				}
				require.Zero(t, len(log.rows)%5, "five split inputs a call")
				require.GreaterOrEqual(t, len(log.rows), 5*res.Steps)
				require.Equal(t, res1, res)
				require.Equal(t, one, several)
			})
		}
	}
}

func cmpOrInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// TestPlanMemoryDataParallel: one device of n holds the weights, gradients and optimizer state whole
// and 1/n of the batch's activations and logits: its plan is the one-device plan of its share.
func TestPlanMemoryDataParallel(t *testing.T) {
	cfg := tinyConfig
	for _, method := range []Method{MethodLoRA, MethodFFT} {
		split := PlanMemory(cfg, PlanOptions{Method: method, Batch: 8, SeqLen: 64, Device: true, Devices: 4})
		share := PlanMemory(cfg, PlanOptions{Method: method, Batch: 2, SeqLen: 64, Device: true})
		whole := PlanMemory(cfg, PlanOptions{Method: method, Batch: 8, SeqLen: 64, Device: true})
		require.Equal(t, share.Total(), split.Total(), method)
		require.Equal(t, whole.Weights, split.Weights)
		require.Equal(t, whole.Gradients, split.Gradients)
		require.Equal(t, whole.Optimizer, split.Optimizer)
		require.Equal(t, whole.Activations/4, split.Activations)
		require.Equal(t, whole.Logits/4, split.Logits)
		require.Contains(t, split.String(), "device layout, per device of 4, B8 T64")
	}
	// An uneven split plans the largest share.
	odd := PlanMemory(cfg, PlanOptions{Batch: 6, Device: true, Devices: 4})
	require.Equal(t, PlanMemory(cfg, PlanOptions{Batch: 2, Device: true}).Total(), odd.Total())
	require.ErrorContains(t, PlanOptions{Devices: -2}.Validate(), "Devices must be ≥ 0, got -2")
}
