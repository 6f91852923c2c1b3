package lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// These tests pin arithmetic that a mutation probe could change without any other test failing:
// dropout's rescaling, AdamW's decoupled weight decay and global-norm clipping.

// TestDropoutKeepsTheExpectedValue: in a training graph (Train's dropoutHook) each input survives with
// probability 1−p and is scaled by 1/(1−p), so E[dropout(x)] = x (PEFT's lora_dropout, torch.nn.Dropout).
func TestDropoutKeepsTheExpectedValue(t *testing.T) {
	const p = 0.25
	mc := tinyConfig.WithDefaults()
	h := mc.HiddenSize
	// Rank h, A = B = I and alpha = rank make the hook's Delta(dropout(x)) = dropout(x) on q_proj [h, h].
	a, err := NewAdapter("t", mc, Config{Rank: h, Alpha: float64(h), Dropout: p, TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	q := Module{0, "q_proj"}
	for _, x := range []*model.Tensor{a.A[q], a.B[q]} {
		clear(x.Data)
		for i := range h {
			x.Data[i*h+i] = 1
		}
	}
	require.Equal(t, 1.0, a.Config.Scale())
	b, err := model.Backend()
	require.NoError(t, err)
	const rows = 2048
	exec := graph.MustNewExec(b, func(in []*graph.Node) []*graph.Node {
		ps := model.Params{a.TensorName(q, "A"): in[0], a.TensorName(q, "B"): in[1]}
		return []*graph.Node{dropoutHook(a, ps, in[2])(0, "q_proj", graph.OnesLike(in[3]))}
	})
	defer exec.Finalize()
	x := tensors.FromShape(shapes.Make(dtypes.Float32, rows, h))
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(a.A[q].Data, h, h), tensors.FromFlatDataAndDimensions(a.B[q].Data, h, h), rngState(rand.New(rand.NewPCG(1, 2))), x)
	require.NoError(t, err)
	var zeros, sum float64
	want := float32(1 / (1 - p))
	tensors.ConstFlatData(out[0], func(d []float32) {
		for i, v := range d {
			switch {
			case v == 0:
				zeros++
			default:
				require.InDelta(t, want, v, 1e-6, "entry %d: a survivor is scaled by 1/(1−p)", i)
			}
			sum += float64(v)
		}
	})
	n := float64(rows * h)
	// 65536 Bernoulli(0.25) draws: the standard deviation of the dropped fraction is 0.0017.
	require.InDelta(t, p, zeros/n, 0.01, "fraction dropped")
	require.InDelta(t, 1, sum/n, 0.02, "mean of dropout(1)")
}

// forEachUpdater builds Train's updater of each layout over a fresh adapter's A and B (B drawn
// nonzero, then init applied to them) and calls f with it and the trained tensors.
func forEachUpdater(t *testing.T, cfg TrainConfig, init func(host map[string]*model.Tensor),
	f func(t *testing.T, u updater, names []string, host map[string]*model.Tensor)) {
	for _, layout := range []Layout{LayoutHost, LayoutDevice} {
		t.Run(string(layout), func(t *testing.T) {
			m := testmodel.Tiny(t, tinyConfig, 1)
			a, names := attachNew(t, m, Config{Rank: 2, Seed: 4, TargetModules: []string{"q_proj", "down_proj"}})
			rng := rand.New(rand.NewPCG(9, 9))
			for _, mod := range a.Modules() {
				for i := range a.B[mod].Data {
					a.B[mod].Data[i] = float32(rng.NormFloat64() * 0.1)
				}
			}
			host := a.Tensors()
			if init != nil {
				init(host)
			}
			m.UpdateWeights(names...)
			c := cfg.withDefaults()
			var u updater = newHostUpdater(m, names, host, c)
			if layout == LayoutDevice {
				d, err := newDeviceUpdater(m, names, host, c)
				require.NoError(t, err)
				u = d
			}
			defer u.close()
			f(t, u, names, host)
		})
	}
}

// constGrads returns a gradient for each of names whose entries are all v.
func constGrads(names []string, host map[string]*model.Tensor, v float32) (gs []*tensors.Tensor, size int) {
	for _, n := range names {
		d := make([]float32, len(host[n].Data))
		for i := range d {
			d[i] = v
		}
		gs = append(gs, tensors.FromFlatDataAndDimensions(d, host[n].Shape...))
		size += len(d)
	}
	return gs, size
}

// TestWeightDecayShrinksAAndB: with zero gradients an AdamW step is the decoupled decay alone, so every
// entry of A and of B is multiplied by 1 − lr·λ (Loshchilov & Hutter); with λ = 0 nothing moves.
func TestWeightDecayShrinksAAndB(t *testing.T) {
	for _, decay := range []float64{0, 0.5} {
		const lr = 0.1
		t.Run(fmt.Sprintf("decay %g", decay), func(t *testing.T) {
			forEachUpdater(t, TrainConfig{LearningRate: lr, WeightDecay: decay}, nil, func(t *testing.T, u updater, names []string, host map[string]*model.Tensor) {
				before := map[string][]float32{}
				for _, n := range names {
					before[n] = append([]float32(nil), host[n].Data...)
				}
				gs, _ := constGrads(names, host, 0)
				require.NoError(t, u.step(gs, 0, 1))
				require.NoError(t, u.commit())
				factor := 1 - lr*decay
				seen := map[string]bool{}
				for _, n := range names {
					for i, v := range host[n].Data {
						w := float64(before[n][i]) * factor
						require.InDelta(t, w, v, 1e-6*max(1e-3, math.Abs(w)), "%s[%d]: decay %g", n, i, decay)
						if before[n][i] != 0 {
							seen[n[len(n)-1:]] = true
						}
					}
				}
				require.True(t, seen["A"] && seen["B"], "A and B both have nonzero entries that decayed")
			})
		})
	}
}

// TestClipNorm: a global gradient norm at or under ClipNorm is left as it is; above it the gradient
// is scaled to ClipNorm, with ClipNorm's default 1 or the value given; a negative ClipNorm never clips.
// With parameters 0, no decay and ε = 1 the first step moves each entry by −lr·c·g/(c·|g| + ε), so the
// step shows the clipping factor c.
func TestClipNorm(t *testing.T) {
	for _, tc := range []struct {
		name       string
		clipNorm   float64
		norm, clip float64 // the gradients' global norm, the factor expected
	}{
		{"under the default", 0, 0.5, 1},
		{"over the default", 0, 4, 0.25},
		{"under a larger ClipNorm", 2, 1.5, 1},
		{"over a smaller ClipNorm", 0.25, 0.5, 0.5},
		{"negative: none", -1, 100, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const lr, eps = 0.1, 1.0
			cfg := TrainConfig{LearningRate: lr, Epsilon: eps, ClipNorm: tc.clipNorm}
			zero := func(host map[string]*model.Tensor) {
				for _, x := range host {
					clear(x.Data)
				}
			}
			forEachUpdater(t, cfg, zero, func(t *testing.T, u updater, names []string, host map[string]*model.Tensor) {
				_, size := constGrads(names, host, 0)
				g := tc.norm / math.Sqrt(float64(size))
				gs, _ := constGrads(names, host, float32(g))
				require.NoError(t, u.step(gs, 0, 1))
				require.NoError(t, u.commit())
				cg := tc.clip * g
				want := -lr * cg / (cg + eps)
				for _, n := range names {
					for i, v := range host[n].Data {
						require.InDelta(t, want, v, 1e-5*math.Abs(want), "%s[%d]: clip factor %g", n, i, tc.clip)
					}
				}
			})
		})
	}
}
