package merge

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// abAdapter returns an adapter of q_proj only, on a one-layer model of hidden size h (q_proj [h, h]),
// with the given A [r, h] and B [h, r] (row-major) and scale 1.
func abAdapter(t testing.TB, name string, h, r int, A, B []float32) *lora.Adapter {
	t.Helper()
	mc := model.Config{HiddenSize: h, IntermediateSize: h, NumHiddenLayers: 1, NumAttentionHeads: 1, VocabSize: 4}
	a, err := lora.NewAdapter(name, mc, lora.Config{Rank: r, Alpha: float64(r), TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	require.Len(t, A, r*h)
	require.Len(t, B, h*r)
	copy(a.A[q2].Data, A)
	copy(a.B[q2].Data, B)
	return a
}

func TestInterferenceOfIdenticalAdapters(t *testing.T) {
	a := testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1)
	for _, density := range []float64{1, 0.2} {
		got, err := Interference([]*lora.Adapter{a, a.Clone()}, density)
		require.NoError(t, err)
		require.Len(t, got, len(a.Modules()))
		for _, mi := range got {
			require.Len(t, mi.Pairs, 1)
			p := mi.Pairs[0]
			assert.InDelta(t, 1, p.Cosine, 1e-9, mi.Module.Path())
			require.Len(t, p.Angles, 4)
			for _, ang := range p.Angles {
				assert.InDelta(t, 0, ang, 1e-6, "%s: angles %v", mi.Module.Path(), p.Angles)
			}
			assert.InDelta(t, 1, p.Overlap(), 1e-9)
			assert.Zero(t, p.SignConflict)
			assert.Zero(t, mi.SignConflict)
		}
	}
}

func TestInterferenceOfOrthogonalAdapters(t *testing.T) {
	// A_a reads inputs 0 and 1, A_b inputs 2 and 3: orthogonal subspaces, ΔW on disjoint columns.
	B := []float32{1, 2, -3, 4, 5, -6, 7, 8}
	a := abAdapter(t, "a", 4, 2, []float32{1, 0, 0, 0, 0, 1, 0, 0}, B)
	b := abAdapter(t, "b", 4, 2, []float32{0, 0, 1, 0, 0, 0, 1, 1}, B)
	got, err := Interference([]*lora.Adapter{a, b}, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	p := got[0].Pairs[0]
	assert.Equal(t, 0, p.I)
	assert.Equal(t, 1, p.J)
	assert.InDelta(t, 0, p.Cosine, 1e-12)
	require.Len(t, p.Angles, 2)
	for _, ang := range p.Angles {
		assert.InDelta(t, 90, ang*180/math.Pi, 1e-6)
	}
	assert.InDelta(t, 0, p.Overlap(), 1e-12)
	assert.Zero(t, p.SignConflict, "no entry where both are nonzero")

	// The opposite of a: cosine −1, the same subspace, every sign in conflict.
	neg := a.Clone()
	for j := range neg.B[q2].Data {
		neg.B[q2].Data[j] *= -1
	}
	got, err = Interference([]*lora.Adapter{a, neg}, 1)
	require.NoError(t, err)
	p = got[0].Pairs[0]
	assert.InDelta(t, -1, p.Cosine, 1e-12)
	assert.InDelta(t, 0, p.Angles[0], 1e-7)
	assert.InDelta(t, 0, p.Angles[1], 1e-7)
	assert.Equal(t, 1.0, p.SignConflict)
}

func TestInterferenceHandCase(t *testing.T) {
	// Rank 1, hidden size 2: A_a = e_0, A_b at 30° from it, A_c = e_1 (90° from A_a, 60° from A_b).
	s, c := math.Sin(math.Pi/6), math.Cos(math.Pi/6)
	a := abAdapter(t, "a", 2, 1, []float32{1, 0}, []float32{1, -2})
	b := abAdapter(t, "b", 2, 1, []float32{float32(c), float32(s)}, []float32{2, 1})
	cc := abAdapter(t, "c", 2, 1, []float32{0, 1}, []float32{1, 1})
	// ΔW_a = [1 0; −2 0], ΔW_b = [2c 2s; c s], ΔW_c = [0 1; 0 1].
	got, err := Interference([]*lora.Adapter{a, b, cc}, 1)
	require.NoError(t, err)
	ps := got[0].Pairs
	require.Len(t, ps, 3)
	deg := func(p PairInterference) float64 { return p.Angles[0] * 180 / math.Pi }
	assert.InDelta(t, 30, deg(ps[0]), 1e-4)
	assert.InDelta(t, 90, deg(ps[1]), 1e-4)
	assert.InDelta(t, 60, deg(ps[2]), 1e-4)
	// cos(a, b) = (2c − 2c)/… = 0; cos(a, c) = 0; cos(b, c) = (2s + s)/(√5·√2).
	assert.InDelta(t, 0, ps[0].Cosine, 1e-6)
	assert.InDelta(t, 0, ps[1].Cosine, 1e-6)
	assert.InDelta(t, 3*s/math.Sqrt(10), ps[2].Cosine, 1e-6)
	// Signs: a = (+, 0, −, 0), b = (+, +, +, +), c = (0, +, 0, +): a,b share entries 0 and 2, one in
	// conflict; b,c share 1 and 3, none; a,c share none. Over all three, entries 0..3 each have two
	// nonzeros and only entry 2 disagrees.
	assert.InDelta(t, 0.5, ps[0].SignConflict, 1e-12)
	assert.Zero(t, ps[1].SignConflict)
	assert.Zero(t, ps[2].SignConflict)
	assert.InDelta(t, 0.25, got[0].SignConflict, 1e-12)

	mean := MeanInterference(got)
	require.Len(t, mean, 3)
	assert.InDelta(t, ps[2].Cosine, mean[2].Cosine, 1e-12)
}

func TestSignConflictHandExample(t *testing.T) {
	a, b, c := []float32{1, -2, 3, 0}, []float32{2, 1, -1, 5}, []float32{1, 0, 0, 0}
	assert.InDelta(t, 2.0/3, signConflict(a, b), 1e-12)
	assert.InDelta(t, 2.0/3, signConflict(a, b, c), 1e-12) // entry 3 has one nonzero: not counted
	assert.Zero(t, signConflict(a, a))
}

func TestInterferenceTrimsAsTIES(t *testing.T) {
	// At density 0.5 each ΔW keeps its 2 largest entries: a (1, −2, 3, 0) keeps −2, 3; b (2, 1, −1, 5)
	// keeps 2, 5: no entry is nonzero in both.
	ads := []*lora.Adapter{handAdapter(t, "a", 1, -2, 3, 0), handAdapter(t, "b", 2, 1, -1, 5)}
	got, err := Interference(ads, 0.5)
	require.NoError(t, err)
	assert.Zero(t, got[0].Pairs[0].SignConflict)
	got, err = Interference(ads, 1)
	require.NoError(t, err)
	assert.InDelta(t, 2.0/3, got[0].Pairs[0].SignConflict, 1e-12)
	_, err = Interference(ads, 0)
	require.ErrorContains(t, err, "density must be in (0, 1], got 0")
	_, err = Interference(nil, 1)
	require.ErrorIs(t, err, ErrNoAdapters)
}
