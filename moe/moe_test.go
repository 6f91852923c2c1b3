package moe

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

var tinyConfig = testmodel.Config(64)

// randomAdapter returns a rank-4 adapter for tinyConfig whose B is drawn N(0, 0.1²).
func randomAdapter(t testing.TB, name string, seed uint64) *lora.Adapter {
	t.Helper()
	return testkit.RandomAdapter(t, tinyConfig, name, 4, seed, 0.1)
}

func logitsDiff(a, b [][][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			for k := range a[i][j] {
				d = max(d, math.Abs(float64(a[i][j][k]-b[i][j][k])))
			}
		}
	}
	return d
}

func TestUniformMixtureIsTheAverageOfTheDeltas(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	experts := []*lora.Adapter{randomAdapter(t, "a", 1), randomAdapter(t, "b", 2), randomAdapter(t, "c", 3)}
	mix, err := NewMixture("mix", experts, MixtureConfig{Uniform: true})
	require.NoError(t, err)
	require.Nil(t, mix.Router)
	seqs := [][]int{{1, 5, 6, 7, 8, 9}, {1, 30, 31}}
	prompts := [][]int{{1, 5, 6}, {1, 30, 31, 40}}
	m.SetAdapter(mix)
	got, err := m.Logits(seqs)
	require.NoError(t, err)
	gen, err := m.Generate(context.Background(), prompts, model.GenerateOptions{MaxNewTokens: 6, StopTokens: []int{}})
	require.NoError(t, err)
	m.SetAdapter(nil)

	folded := m.Weights.Clone()
	for _, a := range experts {
		for _, mod := range a.Modules() {
			W := folded[model.ModuleWeightName(mod.Layer, mod.Name)]
			for i, v := range a.DeltaW(mod).Data {
				W.Data[i] += v / 3
			}
		}
	}
	fm, err := model.New(m.Backend(), m.Config, folded)
	require.NoError(t, err)
	want, err := fm.Logits(seqs)
	require.NoError(t, err)
	require.Less(t, logitsDiff(got, want), 1e-4)
	wantGen, err := fm.Generate(context.Background(), prompts, model.GenerateOptions{MaxNewTokens: 6, StopTokens: []int{}})
	require.NoError(t, err)
	require.Equal(t, wantGen, gen, "greedy decoding with the KV cache must match the folded average")
}

// runGate evaluates gate on hand-written logits.
func runGate(t *testing.T, logits [][]float32, k int, kind Gate) (gates, mask [][]float32) {
	t.Helper()
	b, err := model.Backend()
	require.NoError(t, err)
	n := len(logits[0])
	var flat []float32
	for _, row := range logits {
		flat = append(flat, row...)
	}
	out := graph.MustExecOnceN(b, func(l *graph.Node) []*graph.Node {
		g, m := gate(l, k, kind)
		return []*graph.Node{g, m}
	}, tensors.FromFlatDataAndDimensions(flat, len(logits), n))
	split := func(t *tensors.Tensor) [][]float32 {
		f := tensors.MustCopyFlatData[float32](t)
		var rows [][]float32
		for i := range logits {
			rows = append(rows, f[i*n:(i+1)*n])
		}
		return rows
	}
	return split(out[0]), split(out[1])
}

func TestTopKGatesOnAHandExample(t *testing.T) {
	logits := [][]float32{{1, 3, 2, 0}, {2, 2, 2, 1}, {-1, -3, 5, 4}}
	e := func(x float64) float64 { return math.Exp(x) }
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	gates, mask := runGate(t, logits, 2, Softmax)
	require.Equal(t, [][]float32{{0, 1, 1, 0}, {1, 1, 0, 0}, {0, 0, 1, 1}}, mask, "top-2, the lower index first among equals")
	want := [][]float64{
		{0, e(3) / (e(3) + e(2)), e(2) / (e(3) + e(2)), 0},
		{0.5, 0.5, 0, 0},
		{0, 0, e(5) / (e(5) + e(4)), e(4) / (e(5) + e(4))},
	}
	for i := range want {
		for j := range want[i] {
			require.InDelta(t, want[i][j], gates[i][j], 1e-6, "softmax row %d expert %d", i, j)
		}
	}
	gates, _ = runGate(t, logits, 1, Sigmoid)
	require.InDelta(t, sig(3), gates[0][1], 1e-6)
	require.InDelta(t, sig(2), gates[1][0], 1e-6)
	require.InDelta(t, sig(5), gates[2][2], 1e-6)
	for i, row := range gates {
		nz := 0
		for _, v := range row {
			if v != 0 {
				nz++
			}
		}
		require.Equal(t, 1, nz, "sigmoid top-1 row %d: %v", i, row)
	}
	gates, mask = runGate(t, logits, 4, Softmax)
	for i, row := range gates {
		require.Equal(t, []float32{1, 1, 1, 1}, mask[i])
		var s, z float64
		for j, v := range row {
			s += float64(v)
			z += e(float64(logits[i][j]))
		}
		require.InDelta(t, 1, s, 1e-6)
		require.InDelta(t, e(float64(logits[i][0]))/z, row[0], 1e-6, "top-k ≥ n is the plain softmax")
	}
}

func TestTopKMaskingInTheModel(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 2)
	experts := []*lora.Adapter{randomAdapter(t, "a", 1), randomAdapter(t, "b", 2), randomAdapter(t, "c", 3)}
	mix, err := NewMixture("mix", experts, MixtureConfig{TopK: 1, Seed: 4})
	require.NoError(t, err)
	m.SetAdapter(mix)
	g, err := mix.Gates(m, [][]int{{1, 5, 6, 7}})
	require.NoError(t, err)
	require.Len(t, g, len(mix.Modules()))
	for mod, seqs := range g {
		for _, tok := range seqs[0] {
			ones := 0
			for _, v := range tok {
				require.True(t, v == 0 || v == 1, "%s: top-1 softmax gates are one-hot: %v", mod.Path(), tok)
				if v == 1 {
					ones++
				}
			}
			require.Equal(t, 1, ones, "%s: %v", mod.Path(), tok)
		}
	}
}

func TestBalanceLoss(t *testing.T) {
	b, err := model.Backend()
	require.NoError(t, err)
	eval := func(logits [][]float32, k int) float64 {
		n := len(logits[0])
		var flat []float32
		for _, r := range logits {
			flat = append(flat, r...)
		}
		out := graph.MustExecOnce(b, func(l *graph.Node) *graph.Node {
			_, mask := gate(l, k, Softmax)
			return balanceLoss([]routing{{logits: l, mask: mask}}, k)
		}, tensors.FromFlatDataAndDimensions(flat, len(logits), n))
		return float64(tensors.MustCopyFlatData[float32](out)[0])
	}
	require.InDelta(t, 1, eval([][]float32{{5, -5}, {-5, 5}}, 1), 1e-3, "balanced routing")
	require.InDelta(t, 2, eval([][]float32{{9, -9}, {9, -9}}, 1), 1e-3, "everything on one expert: n")
}
