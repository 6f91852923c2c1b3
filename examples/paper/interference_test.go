package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/merge"
	"github.com/accrete/accrete/model"
)

// refPearson is Pearson's r by the one-pass textbook formula, a reference independent of pearson's.
func refPearson(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy, sxx, syy, sxy float64
	for i := range x {
		sx, sy = sx+x[i], sy+y[i]
		sxx, syy, sxy = sxx+x[i]*x[i], syy+y[i]*y[i], sxy+x[i]*y[i]
	}
	return (n*sxy - sx*sy) / math.Sqrt((n*sxx-sx*sx)*(n*syy-sy*sy))
}

// refRanks ranks distinct values 1..n.
func refRanks(x []float64) []float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	r := make([]float64, len(x))
	for i, v := range x {
		r[i] = float64(sort.SearchFloat64s(s, v) + 1)
	}
	return r
}

func TestCorrelationCoefficients(t *testing.T) {
	x := []float64{-2, -1, 0, 1, 2}
	assert.InDelta(t, 1, pearson(x, []float64{2, 4, 6, 8, 10}), 1e-15, "a line")
	assert.InDelta(t, -1, pearson(x, []float64{5, 3, 1, -1, -3}), 1e-15)
	assert.InDelta(t, 0, pearson(x, []float64{4, 1, 0, 1, 4}), 1e-15, "y = x² is uncorrelated on a symmetric x")
	assert.InDelta(t, 1, spearman(x, []float64{-8, -1, 0, 1, 8}), 1e-15, "monotone: ρ = 1 where r < 1")
	assert.Less(t, pearson(x, []float64{-8, -1, 0, 1, 8}), 0.95)
	assert.True(t, math.IsNaN(pearson([]float64{1, 1, 1}, []float64{1, 2, 3})), "no spread")
	assert.True(t, math.IsNaN(pearson([]float64{1}, []float64{1})))
	assert.Equal(t, []float64{3.5, 1, 3.5, 2}, ranks([]float64{3, 1, 3, 2}), "ties share their mean rank")

	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float64, 40), make([]float64, 40)
	for i := range a {
		a[i] = rng.NormFloat64()
		b[i] = a[i] + rng.NormFloat64()
	}
	assert.InDelta(t, refPearson(a, b), pearson(a, b), 1e-12)
	assert.InDelta(t, refPearson(refRanks(a), refRanks(b)), spearman(a, b), 1e-12)
}

func TestFisherInterval(t *testing.T) {
	// atanh 0.5 = 0.5493; ± 1.96/√25 → tanh(0.1573), tanh(0.9413).
	lo, hi := fisherInterval(0.5, 28, 1)
	assert.InDelta(t, 0.156028, lo, 1e-6)
	assert.InDelta(t, 0.735818, hi, 1e-6)
	lo, hi = fisherInterval(0.5, 28, math.Sqrt(1.06))
	assert.InDelta(t, 0.144702, lo, 1e-6)
	assert.InDelta(t, 0.741087, hi, 1e-6)
	lo, hi = fisherInterval(0.5, 3, 1)
	assert.True(t, math.IsNaN(lo) && math.IsNaN(hi), "n < 4")
}

func TestHolm(t *testing.T) {
	// Sorted 0.01, 0.03, 0.04 of a family of 3: 3·0.01, 2·0.03, max(0.06, 1·0.04).
	got := holm([]float64{0.01, 0.04, 0.03, math.NaN()})
	assert.InDeltaSlice(t, []float64{0.03, 0.06, 0.06}, got[:3], 1e-15)
	assert.True(t, math.IsNaN(got[3]))
	assert.Equal(t, []float64{1, 1}, holm([]float64{0.6, 0.9}), "capped at 1")
}

// triangle is the three pairs of three tasks in one stratum, x and y rising together.
func triangle() pairSample {
	return pairSample{s: []int{0, 0, 0}, a: []int{0, 0, 1}, b: []int{1, 2, 2},
		x: []float64{0.1, 0.5, 0.9}, y: []float64{1, 2, 3}}
}

func TestPermutationTestByHand(t *testing.T) {
	// Relabelling three tasks permutes their three pairs in all 3! ways; |r| = 1 for the identity
	// and the reversal only (the others give ±0.5): p = 2/6.
	for name, stat := range map[string]func(x, y []float64) float64{"pearson": pearson, "spearman": spearman} {
		p, n, exact := permutationTest(triangle(), stat, 100, rand.New(rand.NewPCG(1, 1)))
		assert.True(t, exact, name)
		assert.Equal(t, 6, n, name)
		assert.InDelta(t, 1.0/3, p, 1e-15, name)
	}
	s := triangle()
	s.y = []float64{1, 1, 1}
	p, _, _ := permutationTest(s, pearson, 100, rand.New(rand.NewPCG(1, 1)))
	assert.True(t, math.IsNaN(p), "no statistic, no p-value")
}

func TestPermutationTestAgainstBruteForce(t *testing.T) {
	// Two strata (seeds) of four tasks: 24² = 576 relabellings, enumerated here independently.
	rng := rand.New(rand.NewPCG(3, 4))
	var s pairSample
	for st := range 2 {
		for i := range 4 {
			for j := i + 1; j < 4; j++ {
				s.s, s.a, s.b = append(s.s, st), append(s.a, i), append(s.b, j)
				x := rng.Float64()
				s.x, s.y = append(s.x, x), append(s.y, x+0.3*rng.NormFloat64())
			}
		}
	}
	p, n, exact := permutationTest(s, spearman, 100, rng)
	require.True(t, exact)
	require.Equal(t, 576, n)
	obs := math.Abs(refPearson(refRanks(s.x), refRanks(s.y)))
	perms := permutations(4)
	count := 0
	for _, p0 := range perms {
		for _, p1 := range perms {
			pi := [][]int{p0, p1}
			y := make([]float64, len(s.y))
			for k := range s.y {
				a, b := pi[s.s[k]][s.a[k]], pi[s.s[k]][s.b[k]]
				for m := range s.y { // the observation of pair (a, b) in the same stratum
					if s.s[m] == s.s[k] && ((s.a[m] == a && s.b[m] == b) || (s.a[m] == b && s.b[m] == a)) {
						y[k] = s.y[m]
					}
				}
			}
			if math.Abs(refPearson(refRanks(s.x), refRanks(y))) >= obs-1e-12 {
				count++
			}
		}
	}
	assert.InDelta(t, float64(count)/576, p, 1e-15)
	assert.Less(t, p, 0.05, "y follows x")

	// Too many relabellings to enumerate (7!² > exactLimit): random draws, p ≥ 1/(draws+1).
	var big pairSample
	for st := range 2 {
		for i := range 7 {
			for j := i + 1; j < 7; j++ {
				big.s, big.a, big.b = append(big.s, st), append(big.a, i), append(big.b, j)
				x := float64(i*7 + j)
				big.x, big.y = append(big.x, x), append(big.y, x*x)
			}
		}
	}
	p, n, exact = permutationTest(big, spearman, 999, rng)
	assert.False(t, exact)
	assert.Equal(t, 999, n)
	assert.InDelta(t, 1.0/1000, p, 1e-15, "a perfect monotone relation: only the identity keeps ρ = 1")
}

// lineAdapter is a rank-1 adapter of q_proj on a one-layer model of hidden size 4 whose ΔW is
// e₀·(cos θ, sin θ, 0, 0): unit norm, and the ΔW of two such adapters have cosine cos(θ₁ − θ₂).
func lineAdapter(t *testing.T, name string, theta float64) *lora.Adapter {
	t.Helper()
	mc := model.Config{HiddenSize: 4, IntermediateSize: 4, NumHiddenLayers: 1, NumAttentionHeads: 1, VocabSize: 4}
	a, err := lora.NewAdapter(name, mc, lora.Config{Rank: 1, Alpha: 1, TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	m := lora.Module{Layer: 0, Name: "q_proj"}
	copy(a.A[m].Data, []float32{float32(math.Cos(theta)), float32(math.Sin(theta)), 0, 0})
	copy(a.B[m].Data, []float32{1, 0, 0, 0})
	return a
}

// distanceMeasure is a measureFunc on ΔW alone: a task's "score" is 1 − ‖M − ΔW_t‖_F and its "NLL"
// ‖M − ΔW_t‖²_F, M being the merged ΔW: merging two unit ΔW by their average then loses ½·√(2 − 2c)
// of each task's score and adds ¼·(2 − 2c) to its NLL, c the cosine of the two ΔW.
func distanceMeasure(own []*lora.Adapter) measureFunc {
	return func(_ context.Context, ads []*lora.Adapter, cfg merge.Config, which []int) ([]taskOutcome, error) {
		var merged []float32
		if err := merge.Merge(ads, cfg, func(_ lora.Module, d *model.Tensor) error {
			merged = append([]float32(nil), d.Data...)
			return nil
		}); err != nil {
			return nil, err
		}
		out := make([]taskOutcome, len(which))
		for k, i := range which {
			var ss float64
			for e, v := range own[i].DeltaW(lora.Module{Layer: 0, Name: "q_proj"}).Data {
				ss += float64(merged[e]-v) * float64(merged[e]-v)
			}
			out[k] = taskOutcome{1 - math.Sqrt(ss), ss}
		}
		return out, nil
	}
}

func TestInterferenceStudyOfConstructedAdapters(t *testing.T) {
	// Two seeds of four tasks whose adapters' ΔW lie at angles θ in one plane: the cosine of a pair is
	// cos(θ_i − θ_j), some negative, and the averaging merge's loss ½·√(2 − 2c) falls as the cosine
	// rises: Spearman's ρ is −1 exactly and Pearson's r is that of the formula's values.
	angles := [][]float64{{0, 0.3, 1.0, 1.8}, {0, 0.5, 0.9, 2.6}}
	merges := []mergeSpec{{"merge average", merge.Config{Method: merge.Linear}},
		{"merge TIES", merge.Config{Method: merge.TIES, Density: 0.5}}}
	var points []pairPoint
	var wantC, wantLoss []float64
	for k, th := range angles {
		var ads []*lora.Adapter
		names := []string{"a", "b", "c", "d"}
		for i, a := range th {
			ads = append(ads, lineAdapter(t, names[i], a))
		}
		ps, mods, err := measurePairs(context.Background(), uint64(k+1), names, ads, merges, distanceMeasure(ads))
		require.NoError(t, err)
		require.Equal(t, 1, mods)
		require.Len(t, ps, 2*6)
		for _, p := range ps {
			c := math.Cos(th[p.I] - th[p.J])
			assert.InDelta(t, c, float64(p.Cosine), 1e-6, "pair %v", p.Tasks)
			assert.InDelta(t, c*c, float64(p.Overlap), 1e-6, "rank-1 A: cos² of the angle between the lines")
			assert.InDelta(t, 0, float64(p.Own[0])-1, 1e-6, "an adapter alone is itself")
			if p.Merge == "merge average" {
				assert.InDelta(t, math.Sqrt(2-2*c)/2, float64(p.ScoreLoss), 1e-6, "pair %v", p.Tasks)
				assert.InDelta(t, (2-2*c)/4, float64(p.NLLIncrease), 1e-6, "pair %v", p.Tasks)
				wantC, wantLoss = append(wantC, c), append(wantLoss, math.Sqrt(2-2*c)/2)
			}
		}
		points = append(points, ps...)
	}
	cs := correlate(points, rand.New(rand.NewPCG(1, 1)))
	require.Len(t, cs, 2*len(interferenceMeasures)*len(interferenceOutcomes))
	var got correlation
	for _, c := range cs {
		if c.Merge == "merge average" && c.Measure == "cosine" && c.Outcome == "score_loss" {
			got = c
		}
	}
	assert.Equal(t, 12, got.N)
	assert.InDelta(t, -1, float64(got.Spearman.R), 1e-12, "the loss is a falling function of the cosine")
	assert.InDelta(t, refPearson(wantC, wantLoss), float64(got.Pearson.R), 1e-6)
	assert.Less(t, float64(got.Pearson.R), -0.95)
	assert.True(t, got.Exact)
	assert.Equal(t, 576, got.Permutations)
	assert.Less(t, float64(got.Spearman.P), 0.05)
	assert.GreaterOrEqual(t, float64(got.Spearman.Holm), float64(got.Spearman.P))
	assert.Less(t, float64(got.Pearson.Lo), float64(got.Pearson.R))
	assert.Greater(t, float64(got.Pearson.Hi), float64(got.Pearson.R))

	// The section, the JSON and the figure.
	ir := &interferenceReport{Tasks: []string{"a", "b", "c", "d"}, Seeds: []uint64{1, 2}, SignDensity: signDensity,
		Modules: 1, Correlation: cs, Pairs: points}
	ir.How = interferenceHow(ir)
	dir := t.TempDir()
	r := &eval.Report{Title: "t", Methods: []eval.MethodResult{{Method: "m", Acquisition: 0.5, AcquisitionTrained: math.NaN(),
		Retention: 0.5, DeltaBPB: math.NaN()}}}
	require.NoError(t, saveInterference(dir, r, ir))
	require.NoError(t, interferenceFigure(dir, ir))
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "| m |", "the report itself comes first")
	assert.Contains(t, string(md), "## Interference and merge loss")
	assert.Contains(t, string(md), "| merge average | ΔW cosine | score loss | 12 | -0.9")
	var j struct {
		Methods      []json.RawMessage `json:"methods"`
		Interference struct {
			Pairs        []map[string]any `json:"pairs"`
			Correlations []map[string]any `json:"correlations"`
		} `json:"interference"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &j))
	assert.Len(t, j.Methods, 1)
	assert.Len(t, j.Interference.Pairs, 24)
	assert.Len(t, j.Interference.Correlations, 12)
	st, err := os.Stat(filepath.Join(dir, "figure7_interference.png"))
	require.NoError(t, err)
	assert.Positive(t, st.Size())
	var out bytes.Buffer
	require.NoError(t, writeInterference(&out, ir))
	assert.True(t, strings.HasPrefix(out.String(), "\n## Interference and merge loss"))
}

func TestInterferenceFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 3},                // the default run has merges: their 3 rounds
		{[]string{"-full"}, 10}, // every round
		{[]string{"-methods", "lora1,seq-lora"}, 0}, // no merge: off
		{[]string{"-methods", "lora1", "-interference", "5"}, 5},
		{[]string{"-interference", "0"}, 0},
		{[]string{"-interference", "40"}, 10}, // at most every task
	} {
		o, err := parse(tc.args, nil)
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.want, interferenceTasks(o, 10), "%v", tc.args)
	}
	for _, bad := range []string{"1", "-2"} {
		_, err := parse([]string{"-interference", bad}, nil)
		assert.ErrorContains(t, err, "-interference must be 0 (off) or ≥ 2 tasks", bad)
	}
	o, err := parse([]string{"-methods", "merge-ties"}, nil)
	require.NoError(t, err)
	ms := interferenceMerges(o)
	require.Len(t, ms, 1)
	assert.Equal(t, "merge TIES", ms[0].label)
	assert.Equal(t, merge.TIES, ms[0].cfg.Method)
	o, err = parse([]string{"-methods", "lora1", "-interference", "4"}, nil)
	require.NoError(t, err)
	assert.Len(t, interferenceMerges(o), 3, "no merge in the run: the study's three")
}

func TestSmallStudyWithInterferenceAndStrengths(t *testing.T) {
	if testing.Short() {
		t.Skip("trains adapters on the shipped model")
	}
	dir, _ := runStudy(t, "-methods", "merge-avg,ewc", "-rounds", "3", "-limit", "4", "-knowledge", "4",
		"-epochs", "1", "-min-steps", "2", "-seeds", "2", "-lr-grid=false", "-bpb-docs", "0", "-quiet")
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "Interference study (part of every run with a merge method; -interference 0 turns it off)")
	assert.Contains(t, string(md), "## Interference and merge loss")
	assert.Contains(t, string(md), "| merge average | ΔW cosine | score loss | 6 |", "3 pairs × 2 seeds")
	assert.Contains(t, string(md), "Strengths of the methods beyond the paper, chosen on the validation items over 3 rounds")
	assert.Regexp(t, `\| EWC λ=[0-9.e-]+ \| semi-cooperative \| 2 \|`, string(md), "the row carries its chosen λ")
	var j struct {
		Interference struct {
			Pairs []pairPoint `json:"pairs"`
		} `json:"interference"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &j))
	require.Len(t, j.Interference.Pairs, 6)
	for _, p := range j.Interference.Pairs {
		assert.Equal(t, "merge average", p.Merge)
		assert.NotZero(t, p.Cosine, "measured")
	}
	st, err := os.Stat(filepath.Join(dir, "figure7_interference.png"))
	require.NoError(t, err)
	assert.Positive(t, st.Size())
}
