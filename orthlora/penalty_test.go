package orthlora

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

var smallConfig = model.Config{HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 2, NumAttentionHeads: 2, VocabSize: 32}

func randomize(t *model.Tensor, rng *rand.Rand, scale float64) {
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * scale)
	}
}

// randomAdapter has random A and B (B too, so the L2 term has a gradient everywhere).
func randomAdapter(t *testing.T, name string, seed uint64, zeroB bool) *lora.Adapter {
	a, err := lora.NewAdapter(name, smallConfig, lora.Config{Rank: 3, TargetModules: []string{"q_proj", "v_proj", "down_proj"}, Seed: seed})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 9))
	for _, m := range a.Modules() {
		randomize(a.A[m], rng, 0.3)
		if !zeroB {
			randomize(a.B[m], rng, 0.3)
		}
	}
	return a
}

// penaltyAndGrads evaluates Penalty on the backend and its gradient with respect to each of a's
// tensors, by name.
func penaltyAndGrads(t *testing.T, a *lora.Adapter, past Past, lambda, lambda2 float64) (float64, map[string][]float32) {
	t.Helper()
	b, err := model.Backend()
	require.NoError(t, err)
	ts := a.Tensors()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range ts {
			if !yield(n) {
				return
			}
		}
	})
	e := graph.MustNewExec(b, func(in []*graph.Node) []*graph.Node {
		p := model.BuildParams(names, in)
		pen := Penalty(p, a, past, lambda, lambda2)
		return append([]*graph.Node{pen}, graph.Gradient(pen, in...)...)
	})
	defer e.Finalize()
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = tensors.FromFlatDataAndDimensions(ts[n].Data, ts[n].Shape...)
	}
	out, err := e.Exec(args...)
	require.NoError(t, err)
	var v float64
	tensors.ConstFlatData(out[0], func(f []float32) { v = float64(f[0]) })
	grads := map[string][]float32{}
	for i, n := range names {
		tensors.ConstFlatData(out[i+1], func(f []float32) { grads[n] = slices.Clone(f) })
	}
	return v, grads
}

func TestPenaltyMatchesHost(t *testing.T) {
	p1, p2 := randomAdapter(t, "p1", 1, false), randomAdapter(t, "p2", 2, false)
	a := randomAdapter(t, "new", 3, false)
	past, err := PastOf(p1, p2)
	require.NoError(t, err)
	delete(past, lora.Module{Layer: 1, Name: "v_proj"}) // a module without a past contributes nothing
	for _, tc := range []struct{ lambda, lambda2 float64 }{{0.5, 0}, {5, 0}, {0, 0.3}, {0.5, 0.3}, {0, 0}} {
		got, _ := penaltyAndGrads(t, a, past, tc.lambda, tc.lambda2)
		want := tc.lambda*OverlapPast(a, past) + tc.lambda2*Norm(a)
		assert.InDelta(t, want, got, 1e-5*max(1, want), "λ=%g λ2=%g", tc.lambda, tc.lambda2)
	}
	// Stacking is summing over the past adapters.
	full, err := PastOf(p1, p2)
	require.NoError(t, err)
	assert.InDelta(t, Overlap(a, []*lora.Adapter{p1, p2}), OverlapPast(a, full), 1e-9)
	// Hand computation on a 1×2 · (2×2)ᵀ case: |1·3+2·4| + |1·(−5)+2·1| = 11 + 3.
	A := &model.Tensor{Shape: []int{1, 2}, Data: []float32{1, 2}}
	P := &model.Tensor{Shape: []int{2, 2}, Data: []float32{3, 4, -5, 1}}
	assert.Equal(t, 14.0, overlapL1(A, P, lora.Module{}))
}

func TestPenaltyGradientReachesOnlyA(t *testing.T) {
	p1 := randomAdapter(t, "p1", 1, false)
	a := randomAdapter(t, "new", 3, false)
	past, err := PastOf(p1)
	require.NoError(t, err)
	const lambda = 1.5
	_, grads := penaltyAndGrads(t, a, past, lambda, 0)
	for _, m := range a.Modules() {
		gB := grads[a.TensorName(m, "B")]
		assert.Equal(t, make([]float32, len(gB)), gB, "the penalty's gradient on %s's B must be zero", m.Path())
		// d/dA λ·Σ|A·Pᵀ| = λ·sign(A·Pᵀ)·P.
		A, P := a.A[m], past[m]
		r, in, q := A.Shape[0], A.Shape[1], P.Shape[0]
		want := make([]float64, r*in)
		for j := range r {
			for k := range q {
				var d float64
				for i := range in {
					d += float64(A.Data[j*in+i]) * float64(P.Data[k*in+i])
				}
				s := math.Copysign(lambda, d)
				for i := range in {
					want[j*in+i] += s * float64(P.Data[k*in+i])
				}
			}
		}
		gA := grads[a.TensorName(m, "A")]
		for i := range want {
			require.InDelta(t, want[i], gA[i], 1e-5, "%s A[%d]", m.Path(), i)
		}
	}
}

func TestL2TermGradient(t *testing.T) {
	// At initialisation B = 0: the norm's gradient there is 0 (as PyTorch's), not NaN.
	a := randomAdapter(t, "new", 3, true)
	v, grads := penaltyAndGrads(t, a, Past{}, 0, 0.2)
	assert.InDelta(t, 0.2*Norm(a), v, 1e-5)
	for _, m := range a.Modules() {
		gB := grads[a.TensorName(m, "B")]
		assert.Equal(t, make([]float32, len(gB)), gB)
		A := a.A[m]
		var n float64
		for _, x := range A.Data {
			n += float64(x) * float64(x)
		}
		gA := grads[a.TensorName(m, "A")]
		for i, x := range A.Data {
			require.InDelta(t, 0.2*float64(x)/math.Sqrt(n), gA[i], 1e-6)
		}
	}
}

type golden struct {
	Lambda   float64 `json:"lambda"`
	Rank     int     `json:"rank"`
	Expected float64 `json:"expected"`
	Modules  []struct {
		Path  string    `json:"path"`
		DIn   int       `json:"d_in"`
		ANew  []float32 `json:"a_new"`
		APast []float32 `json:"a_past"`
	} `json:"modules"`
}

// TestGoldenTorchReference compares with olora_orth_loss of the PyTorch reference (llama_ref.py) on
// random matrices; testdata/gen_golden.py wrote the file.
func TestGoldenTorchReference(t *testing.T) {
	data, err := os.ReadFile("testdata/olora_golden.json")
	require.NoError(t, err)
	var g golden
	require.NoError(t, json.Unmarshal(data, &g))
	a, err := lora.NewAdapter("golden", smallConfig, lora.Config{Rank: g.Rank, TargetModules: []string{"q_proj", "v_proj", "down_proj"}})
	require.NoError(t, err)
	byPath := map[string]lora.Module{}
	for _, m := range a.Modules() {
		byPath[m.Path()] = m
	}
	require.Len(t, g.Modules, len(byPath))
	past := Past{}
	for _, gm := range g.Modules {
		m, ok := byPath[gm.Path]
		require.True(t, ok, gm.Path)
		require.Len(t, gm.ANew, len(a.A[m].Data), gm.Path)
		copy(a.A[m].Data, gm.ANew)
		if gm.APast != nil {
			past[m] = &model.Tensor{Shape: []int{len(gm.APast) / gm.DIn, gm.DIn}, Data: gm.APast}
		}
	}
	require.Len(t, past, len(byPath)-1)
	got, _ := penaltyAndGrads(t, a, past, g.Lambda, 0)
	assert.InDelta(t, g.Expected, got, 1e-5*g.Expected, "graph")
	assert.InDelta(t, g.Expected, g.Lambda*OverlapPast(a, past), 1e-5*g.Expected, "host")
}

// TestScaleDivisor checks each Scale's divisor on a hand-computed case: one module with a 1×2 A_new
// against a 2×2 past, whose |A·Pᵀ| entries are 11 and 3.
func TestScaleDivisor(t *testing.T) {
	a, err := lora.NewAdapter("new", smallConfig, lora.Config{Rank: 1, TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	m0, m1 := lora.Module{Layer: 0, Name: "q_proj"}, lora.Module{Layer: 1, Name: "q_proj"}
	for _, m := range []lora.Module{m0, m1} {
		clear(a.A[m].Data)
	}
	a.A[m0].Data[0], a.A[m0].Data[1] = 1, 2
	P := model.NewTensor(2, smallConfig.HiddenSize)
	P.Data[0], P.Data[1] = 3, 4
	P.Data[smallConfig.HiddenSize], P.Data[smallConfig.HiddenSize+1] = -5, 1
	past := Past{m0: P} // layer 1 has no past: it adds no entries
	require.Equal(t, 14.0, OverlapPast(a, past))
	assert.Equal(t, 2, Entries(a, past))
	for _, tc := range []struct {
		s    Scale
		name string
		want float64
	}{{Initial, "initial", 14}, {Mean, "mean", 2}, {Sum, "sum", 1}} {
		assert.Equal(t, tc.want, tc.s.Divisor(a, past), tc.name)
		assert.Equal(t, tc.name, tc.s.String())
	}
	// Normalised penalties: Initial starts at λ, Mean is λ × the mean |entry| (14/2 = 7).
	assert.Equal(t, 0.5, 0.5*OverlapPast(a, past)/Initial.Divisor(a, past))
	assert.Equal(t, 3.5, 0.5*OverlapPast(a, past)/Mean.Divisor(a, past))
	// Nothing to divide by (no past): 1, so λ/Divisor stays finite.
	for _, s := range []Scale{Initial, Mean, Sum} {
		assert.Equal(t, 1.0, s.Divisor(a, Past{}), s.String())
	}
	assert.Panics(t, func() { Scale(7).Divisor(a, past) })
}

// TestStrategyDividesPenalty: under Initial the graph's penalty at the freshly initialised adapter is
// λ, under Mean λ × the mean |entry|, under Sum the raw λ-weighted sum.
func TestStrategyDividesPenalty(t *testing.T) {
	past, err := PastOf(randomAdapter(t, "p1", 1, false), randomAdapter(t, "p2", 2, false))
	require.NoError(t, err)
	a := randomAdapter(t, "new", 3, true)
	raw := OverlapPast(a, past)
	for _, tc := range []struct {
		s    Scale
		want float64
	}{{Initial, 0.5}, {Mean, 0.5 * raw / float64(Entries(a, past))}, {Sum, 0.5 * raw}} {
		got, _ := penaltyAndGrads(t, a, past, 0.5/tc.s.Divisor(a, past), 0)
		assert.InDelta(t, tc.want, got, 1e-5*max(1, tc.want), tc.s.String())
	}
}
