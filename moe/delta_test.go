package moe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// TestDeltaIsTheGatedSumOfTheExperts: a mixture's Delta, which computes its experts in two stacked
// products, equals Σ_e g_e·scale_e·(x·A_eᵀ)·B_eᵀ computed expert by expert, for experts of different
// ranks and scales, routed (top-2 of 3, both gates) and uniform.
func TestDeltaIsTheGatedSumOfTheExperts(t *testing.T) {
	experts := []*lora.Adapter{
		testkit.RandomAdapter(t, tinyConfig, "a", 2, 1, 0.1),
		testkit.RandomAdapter(t, tinyConfig, "b", 4, 2, 0.1),
		testkit.RandomAdapter(t, tinyConfig, "c", 3, 3, 0.1),
	}
	experts[1].Config.Alpha = 3 // a scale unlike the others'
	mod := experts[0].Modules()[0]
	in := experts[0].A[mod].Shape[1]
	rng := rand.New(rand.NewPCG(9, 1))
	xs := make([]float32, 2*5*in)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	for _, cfg := range []MixtureConfig{{TopK: 2, Seed: 4}, {TopK: 2, Seed: 4, Gate: Sigmoid}, {Uniform: true}} {
		mix, err := NewMixture("mix", experts, cfg)
		require.NoError(t, err)
		b, err := model.Backend()
		require.NoError(t, err)
		out := graph.MustExecOnceN(b, func(g *graph.Graph) []*graph.Node {
			p := model.Params{}
			for name, v := range mix.Tensors() {
				p[name] = graph.Const(g, tensors.FromFlatDataAndDimensions(v.Float32(), v.Shape...))
			}
			x := graph.Const(g, tensors.FromFlatDataAndDimensions(xs, 2, 5, in))
			got := mix.Delta(p, mod.Layer, mod.Name, x)
			var gates *graph.Node
			if !cfg.Uniform {
				logits := graph.DotGeneral(x, []int{2}, nil, p[mix.RouterTensorName(mod)], []int{1}, nil)
				gates, _ = gate(logits, mix.TopK, mix.Gate)
			}
			var want *graph.Node
			for e, a := range experts {
				h := graph.DotGeneral(x, []int{2}, nil, p[mix.ExpertTensorName(e, mod, "A")], []int{1}, nil)
				d := graph.DotGeneral(h, []int{2}, nil, p[mix.ExpertTensorName(e, mod, "B")], []int{1}, nil)
				if gates == nil {
					d = graph.MulScalar(d, a.Config.Scale()/3)
				} else {
					d = graph.Mul(graph.MulScalar(d, a.Config.Scale()), graph.SliceAxis(gates, 2, graph.AxisElem(e)))
				}
				if want == nil {
					want = d
				} else {
					want = graph.Add(want, d)
				}
			}
			return []*graph.Node{got, want}
		})
		got, want := out[0].Value().([][][]float32), out[1].Value().([][][]float32)
		big := 0.0
		for i := range want {
			for j := range want[i] {
				for k := range want[i][j] {
					big = max(big, math.Abs(float64(want[i][j][k])))
					require.InDelta(t, want[i][j][k], got[i][j][k], 1e-5, "%+v [%d %d %d]", cfg, i, j, k)
				}
			}
		}
		require.Greater(t, big, 1e-3, "the experts' deltas are not negligible")
	}
}
