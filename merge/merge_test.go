package merge

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

var tinyConfig = testmodel.Config(48)

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func logitsDiff(t testing.TB, a, b [][][]float32) float64 {
	t.Helper()
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = max(d, maxAbsDiff(a[i][j], b[i][j]))
		}
	}
	return d
}

func TestOneAdapterWithWeightOneIsReproduced(t *testing.T) {
	a := testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1)
	for _, method := range Methods {
		t.Run(string(method), func(t *testing.T) {
			got, err := Dense([]*lora.Adapter{a}, Config{Method: method, Weights: []float64{1}, Density: 1})
			require.NoError(t, err)
			require.Len(t, got, len(a.Modules()))
			for _, m := range a.Modules() {
				require.Equal(t, a.DeltaW(m).Data, got[m].Data, "%s: one adapter at weight 1 must be its own ΔW, bit for bit", m.Path())
			}
		})
	}
}

func TestOneAdapterFoldedGivesTheAdaptersLogits(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	a := testkit.RandomAdapter(t, m.Config, "a", 4, 2, 0.1)
	seqs := [][]int{{1, 5, 6, 7, 8, 9}, {1, 30, 31}}
	m.SetAdapter(a)
	want, err := m.Logits(seqs)
	require.NoError(t, err)
	m.SetAdapter(nil)
	for _, method := range []Method{Linear, TaskArithmetic, TIES, DARETIES, Concat} {
		t.Run(string(method), func(t *testing.T) {
			w := m.Weights.Clone()
			m2, err := model.New(m.Backend(), m.Config, w)
			require.NoError(t, err)
			require.NoError(t, Merge([]*lora.Adapter{a}, Config{Method: method, Weights: []float64{1}, Density: 1}, FoldInto(w)))
			got, err := m2.Logits(seqs)
			require.NoError(t, err)
			require.Less(t, logitsDiff(t, got, want), 1e-4)
		})
	}
}

func TestIdenticalAdaptersAveragedReproduceTheAdapter(t *testing.T) {
	a := testkit.RandomAdapter(t, tinyConfig, "a", 4, 3, 0.1)
	ads := []*lora.Adapter{a, a.Clone(), a.Clone()}
	for _, cfg := range []Config{{Method: Linear}, {Method: Magnitude, Density: 1}, {Method: TIES, Density: 1},
		{Method: Linear, Weights: []float64{0.2, 0.5, 3}}} {
		got, err := Dense(ads, cfg)
		require.NoError(t, err)
		for _, m := range a.Modules() {
			want := a.DeltaW(m)
			require.Less(t, maxAbsDiff(want.Data, got[m].Data), 1e-6, "%+v %s", cfg, m.Path())
		}
	}
}

func TestConcatIsExact(t *testing.T) {
	mdl := testmodel.Tiny(t, tinyConfig, 4)
	ads := []*lora.Adapter{testkit.RandomAdapter(t, mdl.Config, "a", 4, 5, 0.1), testkit.RandomAdapter(t, mdl.Config, "b", 8, 6, 0.1),
		testkit.RandomAdapter(t, mdl.Config, "c", 2, 7, 0.2)}
	cfg := Config{Method: Concat, Weights: []float64{0.5, -1, 2}, Scale: 1.5}
	cat, err := Concatenate("cat", ads, cfg)
	require.NoError(t, err)
	require.Equal(t, 14, cat.Config.Rank)
	dense, err := Dense(ads, cfg)
	require.NoError(t, err)
	for _, m := range cat.Modules() {
		want := make([]float64, len(dense[m].Data))
		for i, a := range ads {
			for j, v := range a.DeltaW(m).Data {
				want[j] += 1.5 * cfg.Weights[i] * float64(v)
			}
		}
		got := cat.DeltaW(m)
		for j := range want {
			require.InDelta(t, want[j], got.Data[j], 1e-5, "%s entry %d: B·A of the concatenation", m.Path(), j)
			require.InDelta(t, want[j], dense[m].Data[j], 1e-5, "%s entry %d: dense Concat", m.Path(), j)
		}
	}
	seqs := [][]int{{1, 5, 6, 7, 8, 9}, {1, 30, 31}}
	mdl.SetAdapter(cat)
	got, err := mdl.Logits(seqs)
	require.NoError(t, err)
	mdl.SetAdapter(nil)
	require.NoError(t, Merge(ads, cfg, FoldInto(mdl.Weights)))
	mdl.UpdateWeights()
	want, err := mdl.Logits(seqs)
	require.NoError(t, err)
	require.Less(t, logitsDiff(t, got, want), 1e-4, "the concatenated LoRA must give the dense merge's logits")
}

// disjointAdapters returns adapters whose deltas live on disjoint rows (adapter i owns rows ≡ i mod n).
func disjointAdapters(t testing.TB, n int) []*lora.Adapter {
	var ads []*lora.Adapter
	for i := range n {
		a := testkit.RandomAdapter(t, tinyConfig, string(rune('a'+i)), 4, uint64(10+i), 0.1)
		for _, m := range a.Modules() {
			B := a.B[m]
			r := B.Shape[1]
			for row := range B.Shape[0] {
				if row%n != i {
					clear(B.Data[row*r : (row+1)*r])
				}
			}
		}
		ads = append(ads, a)
	}
	return ads
}

func TestTIESWithoutConflictsIsTheSum(t *testing.T) {
	ads := disjointAdapters(t, 3)
	for _, method := range []Method{TIES, DARETIES} {
		got, err := Dense(ads, Config{Method: method, Density: 1})
		require.NoError(t, err)
		sum, err := Dense(ads, Config{Method: TaskArithmetic})
		require.NoError(t, err)
		for m, d := range sum {
			require.Less(t, maxAbsDiff(d.Data, got[m].Data), 1e-7, "%s %s", method, m.Path())
		}
	}
}

func TestTIESAgreeingSignsIsTheWeightedMean(t *testing.T) {
	// A ≥ 0 and B ≥ 0 make every ΔW entry ≥ 0: no sign conflicts, so TIES at density 1 is the
	// disjoint weighted mean Σ w_i τ_i / Σ w_i over the non-zero entries, here all of them.
	var ads []*lora.Adapter
	for i := range 2 {
		a := testkit.RandomAdapter(t, tinyConfig, "p", 4, uint64(20+i), 0.1)
		for _, m := range a.Modules() {
			for _, x := range [][]float32{a.A[m].Data, a.B[m].Data} {
				for j := range x {
					x[j] = float32(math.Abs(float64(x[j]))) + 1e-3
				}
			}
		}
		ads = append(ads, a)
	}
	w := []float64{1, 3}
	got, err := Dense(ads, Config{Method: TIES, Density: 1, Weights: w, Scale: 2})
	require.NoError(t, err)
	for m, d := range got {
		a, b := ads[0].DeltaW(m), ads[1].DeltaW(m)
		for j := range d.Data {
			want := 2 * (float64(a.Data[j]) + 3*float64(b.Data[j])) / 4
			require.InDelta(t, want, d.Data[j], 1e-6)
		}
	}
}

func TestDisjointMeanHandExample(t *testing.T) {
	// Entry 0: +3, −1, +2 → elected +, mean of 3 and 2. Entry 1: −4, +1, 0 → elected −, −4.
	// Entry 2: +1, −1, 0 → sum 0: 0.
	d := [][]float32{{3, -4, 1}, {-1, 1, -1}, {2, 0, 0}}
	w := []float64{1, 1, 1}
	sum := make([]float64, 3)
	for i := range d {
		for j := range 3 {
			sum[j] += w[i] * float64(d[i][j])
		}
	}
	dst := make([]float32, 3)
	disjointMean(dst, sum, d, w, 1)
	require.Equal(t, []float32{2.5, -4, 0}, dst)
}

func TestTrim(t *testing.T) {
	for _, tc := range []struct {
		in      []float32
		density float64
		want    []float32
	}{
		{[]float32{0.1, -5, 3, -0.2, 3, 1}, 0.5, []float32{0, -5, 3, 0, 3, 0}},
		{[]float32{1, -1, 1, 1}, 0.5, []float32{1, -1, 0, 0}},
		{[]float32{1, 2, 3}, 1, []float32{1, 2, 3}},
		{[]float32{1, 2, 3}, 0.2, []float32{0, 0, 0}},
		{[]float32{-7, 2, 3, 0}, 0.25, []float32{-7, 0, 0, 0}},
	} {
		d := slices.Clone(tc.in)
		trim(d, tc.density, make([]float32, len(d)))
		assert.Equal(t, tc.want, d, "trim(%v, %g)", tc.in, tc.density)
	}
}

func TestKthLargestMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		n := 1 + rng.IntN(60)
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.IntN(10)) // many ties
		}
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		k := 1 + rng.IntN(n)
		require.Equal(t, sorted[n-k], kthLargest(slices.Clone(s), k))
	}
}

func TestDAREWithZeroDropIsLinear(t *testing.T) {
	ads := []*lora.Adapter{testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1), testkit.RandomAdapter(t, tinyConfig, "b", 4, 2, 0.1)}
	w := []float64{0.3, 0.9}
	for _, pair := range [][2]Config{
		{{Method: DARELinear, Density: 1, Weights: w, Seed: 9}, {Method: Linear, Weights: w}},
		{{Method: DARETIES, Density: 1, Weights: w, Seed: 9}, {Method: TIES, Density: 1, Weights: w}},
	} {
		got, err := Dense(ads, pair[0])
		require.NoError(t, err)
		want, err := Dense(ads, pair[1])
		require.NoError(t, err)
		for m := range want {
			require.Equal(t, want[m].Data, got[m].Data, "%s vs %s at %s", pair[0].Method, pair[1].Method, m.Path())
		}
	}
}

func TestDAREIsUnbiased(t *testing.T) {
	a := testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1)
	const seeds, p = 300, 0.5
	mods := a.Modules()[:4]
	sum := map[lora.Module][]float64{}
	zeros, total := 0, 0
	for s := range seeds {
		got, err := Dense([]*lora.Adapter{a}, Config{Method: DARELinear, DropP: p, Weights: []float64{1}, Seed: uint64(s)})
		require.NoError(t, err)
		for _, m := range mods {
			if sum[m] == nil {
				sum[m] = make([]float64, len(got[m].Data))
			}
			for j, v := range got[m].Data {
				sum[m][j] += float64(v)
				if v == 0 {
					zeros++
				}
				total++
			}
		}
	}
	assert.InDelta(t, p, float64(zeros)/float64(total), 0.01, "fraction dropped")
	for _, m := range mods {
		want := a.DeltaW(m)
		var num, den float64
		for j, v := range want.Data {
			e := sum[m][j]/seeds - float64(v)
			num += e * e
			den += float64(v) * float64(v)
		}
		// Each entry's mean over 300 draws has a standard error of |v|·√(p/(1−p))/√300 ≈ 0.058·|v|.
		assert.Less(t, math.Sqrt(num/den), 0.09, "%s: mean of DARE over seeds must approach ΔW", m.Path())
	}
	// Different seeds give different masks; the same seed the same one.
	x, _ := Dense([]*lora.Adapter{a}, Config{Method: DARELinear, DropP: p, Weights: []float64{1}, Seed: 1})
	y, _ := Dense([]*lora.Adapter{a}, Config{Method: DARELinear, DropP: p, Weights: []float64{1}, Seed: 1})
	z, _ := Dense([]*lora.Adapter{a}, Config{Method: DARELinear, DropP: p, Weights: []float64{1}, Seed: 2})
	require.Equal(t, x[mods[0]].Data, y[mods[0]].Data)
	require.NotEqual(t, x[mods[0]].Data, z[mods[0]].Data)
}

func TestDefaultWeights(t *testing.T) {
	ads := []*lora.Adapter{testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1), testkit.RandomAdapter(t, tinyConfig, "b", 4, 2, 0.1)}
	m := ads[0].Modules()[0]
	avg, err := Dense(ads, Config{})
	require.NoError(t, err)
	sum, err := Dense(ads, Config{Method: TaskArithmetic})
	require.NoError(t, err)
	cat, err := Dense(ads, Config{Method: Concat})
	require.NoError(t, err)
	for j := range avg[m].Data {
		require.InDelta(t, sum[m].Data[j]/2, avg[m].Data[j], 1e-7)
		require.InDelta(t, avg[m].Data[j], cat[m].Data[j], 1e-7)
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Method: "svd"}, "Method"},
		{Config{Weights: []float64{1, math.NaN()}}, "Weights[1]"},
		{Config{Density: 1.5}, "Density"},
		{Config{Density: -0.1}, "Density"},
		{Config{DropP: 1}, "DropP"},
		{Config{DropP: -0.5}, "DropP"},
		{Config{Scale: math.Inf(1)}, "Scale"},
		{Config{LoRA: &lora.Config{Dropout: 2}}, "LoRA"},
		{Config{Train: &lora.TrainConfig{LearningRate: -1}}, "Train"},
	} {
		err := tc.cfg.Validate()
		require.Error(t, err, "%+v", tc.cfg)
		require.Contains(t, err.Error(), tc.field)
	}
	require.NoError(t, Config{}.Validate())
	require.NoError(t, Config{Method: DARETIES, Density: 1}.Validate())
}

func TestMergeErrors(t *testing.T) {
	a := testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1)
	noop := func(lora.Module, *model.Tensor) error { return nil }
	require.ErrorIs(t, Merge(nil, Config{}, noop), ErrNoAdapters)
	err := Merge([]*lora.Adapter{a, a}, Config{Weights: []float64{1}}, noop)
	require.ErrorContains(t, err, "Weights has 1 entries for 2 adapters")
	err = Merge([]*lora.Adapter{a, a}, Config{Weights: []float64{1, -1}}, noop)
	require.ErrorContains(t, err, "sum of Weights")
	b, err := lora.NewAdapter("b", tinyConfig, lora.Config{Rank: 4, TargetModules: []string{"q_proj", "v_proj"}})
	require.NoError(t, err)
	err = Merge([]*lora.Adapter{a, b}, Config{}, noop)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), `"b"`), err.Error())
	w := model.Weights{}
	require.ErrorContains(t, Merge([]*lora.Adapter{a}, Config{}, FoldInto(w)), "model.layers.0.self_attn.q_proj.weight")
}
