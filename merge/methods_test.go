package merge

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// q2 is the only module of the hand-made adapters: q_proj of a one-layer model of hidden size 2.
var q2 = lora.Module{Layer: 0, Name: "q_proj"}

// handAdapter returns an adapter of q_proj only whose ΔW [2, 2] is exactly delta (row-major): A = I,
// B = delta, scale 1.
func handAdapter(t testing.TB, name string, delta ...float32) *lora.Adapter {
	t.Helper()
	mc := model.Config{HiddenSize: 2, IntermediateSize: 2, NumHiddenLayers: 1, NumAttentionHeads: 1, VocabSize: 4}
	a, err := lora.NewAdapter(name, mc, lora.Config{Rank: 2, Alpha: 2, TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	require.Len(t, delta, 4)
	copy(a.A[q2].Data, []float32{1, 0, 0, 1})
	copy(a.B[q2].Data, delta)
	require.Equal(t, delta, a.DeltaW(q2).Data)
	return a
}

// mergeHand merges the hand-made adapters and returns the merged ΔW of q_proj.
func mergeHand(t testing.TB, ads []*lora.Adapter, cfg Config) []float32 {
	t.Helper()
	got, err := Dense(ads, cfg)
	require.NoError(t, err)
	return got[q2].Data
}

func requireClose(t testing.TB, want []float64, got []float32, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for j := range want {
		require.InDelta(t, want[j], got[j], 1e-6, "%s: entry %d of %v", msg, j, got)
	}
}

func TestNewMethodsHandCases(t *testing.T) {
	r2 := math.Sqrt2
	for _, tc := range []struct {
		name string
		a, b []float32
		cfg  Config
		want []float64
	}{
		// Density 1 keeps every entry: DELLA is TIES's election and disjoint mean. Sums 3, −1, 2, 0
		// elect +, −, +, none: mean(1, 2), −2, 3, 0.
		{"della at density 1", []float32{1, -2, 3, 0}, []float32{2, 1, -1, 0}, Config{Method: DELLA, Density: 1},
			[]float64{1.5, -2, 3, 0}},
		{"della_linear at density 1", []float32{1, -2, 3, 0}, []float32{2, 1, -1, 0},
			Config{Method: DELLALinear, Density: 1, Weights: []float64{1, 3}}, []float64{7.0 / 4, 1.0 / 4, 0, 0}},
		// 4 entries, keep 2, drop 1 outlier: a keeps 2, 3 (drops 1 and −4); b keeps −1, 2 (drops 0.5 and
		// 5); summed with weights 1 and 0.5.
		{"breadcrumbs", []float32{1, -4, 2, 3}, []float32{-1, 0.5, 5, 2},
			Config{Method: Breadcrumbs, Density: 0.5, Outliers: 0.25, Weights: []float64{1, 0.5}}, []float64{-0.5, 0, 2, 4}},
		// cosθ = 1/√2, t = 2c/(1+c) = 2(√2−1); the average is (1, 0.5, 0, 0).
		{"model_stock", []float32{1, 0, 0, 0}, []float32{1, 1, 0, 0}, Config{Method: ModelStock},
			[]float64{2 * (r2 - 1), (r2 - 1), 0, 0}},
		// Opposed task vectors: cosθ clamps to 0, t = 0, the base.
		{"model_stock opposed", []float32{1, 0, 0, 0}, []float32{-1, 0, 0, 0}, Config{Method: ModelStock}, []float64{0, 0, 0, 0}},
		// Orthogonal, t = 1/2: sin(π/4)/sin(π/2) of each.
		{"nuslerp orthogonal", []float32{1, 0, 0, 0}, []float32{0, 2, 0, 0}, Config{Method: NuSLERP},
			[]float64{r2 / 2, r2, 0, 0}},
		// Row by row: row 0 orthogonal at t = 3/4; row 1 colinear, so linear.
		{"nuslerp rows", []float32{1, 0, 1, 1}, []float32{0, 2, 2, 2}, Config{Method: NuSLERP, SlerpRows: true, Weights: []float64{1, 3}},
			[]float64{math.Sin(math.Pi / 8), 2 * math.Sin(3*math.Pi/8), 0.25 + 1.5, 0.25 + 1.5}},
		// Orthogonal units with weights 1/4, 3/4: the mean is at 3/4 of the right angle from a, the
		// magnitude ¼·3 + ¾·1.
		{"karcher", []float32{3, 0, 0, 0}, []float32{0, 1, 0, 0}, Config{Method: Karcher, Weights: []float64{1, 3}},
			[]float64{1.5 * math.Cos(3*math.Pi/8), 1.5 * math.Sin(3*math.Pi/8), 0, 0}},
		{"karcher equal", []float32{3, 0, 0, 0}, []float32{0, 1, 0, 0}, Config{Method: Karcher, Scale: 2},
			[]float64{2 * 2 / r2, 2 * 2 / r2, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ads := []*lora.Adapter{handAdapter(t, "a", tc.a...), handAdapter(t, "b", tc.b...)}
			requireClose(t, tc.want, mergeHand(t, ads, tc.cfg), tc.name)
		})
	}
}

func TestNuSLERPWholeTensor(t *testing.T) {
	a, b := []float32{1, 0, 1, 1}, []float32{0, 2, 2, 2}
	ads := []*lora.Adapter{handAdapter(t, "a", a...), handAdapter(t, "b", b...)}
	theta := math.Acos(4 / (math.Sqrt(3) * math.Sqrt(12))) // cos = 2/3
	c := math.Sin(theta/2) / math.Sin(theta)
	want := make([]float64, 4)
	for j := range want {
		want[j] = c * float64(a[j]+b[j])
	}
	requireClose(t, want, mergeHand(t, ads, Config{Method: NuSLERP}), "nuslerp")
	// SLERP at t = 0 and 1 returns the ends.
	requireClose(t, []float64{1, 0, 1, 1}, mergeHand(t, ads, Config{Method: NuSLERP, Weights: []float64{1, 0}}), "t = 0")
	requireClose(t, []float64{0, 2, 2, 2}, mergeHand(t, ads, Config{Method: NuSLERP, Weights: []float64{0, 1}}), "t = 1")
	_, err := Dense([]*lora.Adapter{ads[0], ads[1], ads[0]}, Config{Method: NuSLERP})
	require.ErrorContains(t, err, "nuslerp merges 1 or 2 adapters, got 3")
}

func TestKarcherOnRandomAdapters(t *testing.T) {
	// The Karcher mean of two points lies on their geodesic at fraction t = w_1/(w_0+w_1) of the angle
	// θ from u_0: (sin((1−t)θ)·u_0 + sin(tθ)·u_1)/sinθ, with the weighted mean magnitude.
	ads := []*lora.Adapter{testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1), testkit.RandomAdapter(t, tinyConfig, "b", 4, 2, 0.1)}
	w := []float64{0.3, 0.7}
	k, err := Dense(ads, Config{Method: Karcher, Weights: w, KarcherIters: 50, KarcherTol: 1e-9})
	require.NoError(t, err)
	for _, m := range ads[0].Modules() {
		a, b := ads[0].DeltaW(m).Data, ads[1].DeltaW(m).Data
		na, nb := math.Sqrt(dot(a, a)), math.Sqrt(dot(b, b))
		theta := math.Acos(dot(a, b) / (na * nb))
		c0, c1 := math.Sin(0.3*theta)/math.Sin(theta)/na, math.Sin(0.7*theta)/math.Sin(theta)/nb
		norm := 0.3*na + 0.7*nb
		for j := range a {
			want := norm * (c0*float64(a[j]) + c1*float64(b[j]))
			require.InDelta(t, want, k[m].Data[j], 1e-6, "%s entry %d", m.Path(), j)
		}
	}
	// Three identical directions of different magnitudes: the direction, at the weighted mean magnitude.
	a := ads[0]
	b, c := a.Clone(), a.Clone()
	for _, m := range a.Modules() {
		for j := range b.B[m].Data {
			b.B[m].Data[j] *= 2
			c.B[m].Data[j] *= 4
		}
	}
	got, err := Dense([]*lora.Adapter{a, b, c}, Config{Method: Karcher})
	require.NoError(t, err)
	for _, m := range a.Modules() {
		want := a.DeltaW(m)
		for j, v := range want.Data {
			require.InDelta(t, 7.0/3*float64(v), got[m].Data[j], 1e-6)
		}
	}
}

func TestModelStockOfIdenticalAdaptersIsTheAdapter(t *testing.T) {
	a := testkit.RandomAdapter(t, tinyConfig, "a", 4, 3, 0.1)
	got, err := Dense([]*lora.Adapter{a, a.Clone(), a.Clone()}, Config{Method: ModelStock})
	require.NoError(t, err)
	for _, m := range a.Modules() {
		require.Less(t, maxAbsDiff(a.DeltaW(m).Data, got[m].Data), 1e-6, m.Path())
	}
}

func TestMagprune(t *testing.T) {
	// One row [1, −3, 2] at density 0.5, ε 0.2: ranks 0, 2, 1, keep probabilities 0.3, 0.7, 0.5; a
	// survivor is v/q.
	row := []float32{1, -3, 2}
	q := []float64{0.3, 0.7, 0.5}
	const draws = 20000
	kept := make([]int, 3)
	sum := make([]float64, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int32, 3)
	for range draws {
		d := slices.Clone(row)
		magprune(d, 3, 0.5, 0.2, rng, order)
		for j, v := range d {
			if v != 0 {
				kept[j]++
				require.InDelta(t, float64(row[j])/q[j], v, 1e-6, "entry %d rescaled by 1/q", j)
			}
			sum[j] += float64(v)
		}
	}
	for j := range row {
		se := math.Sqrt(q[j] * (1 - q[j]) / draws)
		assert.InDelta(t, q[j], float64(kept[j])/draws, 5*se, "keep rate of entry %d", j)
		assert.InDelta(t, float64(row[j]), sum[j]/draws, 0.05*math.Abs(float64(row[j])), "entry %d is unbiased", j)
	}
	// Rows are ranked separately; density 1 keeps everything.
	d := []float32{5, 4, 3, 0.1, 0.2, 0.3}
	magprune(d, 3, 1, 0, rng, order)
	require.Equal(t, []float32{5, 4, 3, 0.1, 0.2, 0.3}, d)
}

func TestDELLAIsSeededAndUnbiased(t *testing.T) {
	a := testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1)
	x, err := Dense([]*lora.Adapter{a}, Config{Method: DELLALinear, Weights: []float64{1}, Density: 0.5, Seed: 1})
	require.NoError(t, err)
	y, _ := Dense([]*lora.Adapter{a}, Config{Method: DELLALinear, Weights: []float64{1}, Density: 0.5, Seed: 1})
	z, _ := Dense([]*lora.Adapter{a}, Config{Method: DELLALinear, Weights: []float64{1}, Density: 0.5, Seed: 2})
	m := a.Modules()[0]
	require.Equal(t, x[m].Data, y[m].Data)
	require.NotEqual(t, x[m].Data, z[m].Data)
	zeros := 0
	for _, v := range x[m].Data {
		if v == 0 {
			zeros++
		}
	}
	assert.InDelta(t, 0.5, float64(zeros)/float64(len(x[m].Data)), 0.05, "DELLA at density 0.5 drops about half")
}

func TestBreadcrumbs(t *testing.T) {
	for _, tc := range []struct {
		in                []float32
		density, outliers float64
		want              []float32
	}{
		{[]float32{1, -4, 2, 3}, 0.5, 0.25, []float32{0, 0, 2, 3}},
		{[]float32{1, -4, 2, 3}, 0.5, 0, []float32{0, -4, 0, 3}},   // no outliers: Magnitude's trim
		{[]float32{1, -4, 2, 3}, 0.75, 0.5, []float32{1, 0, 2, 3}}, // keep 3 of 4: only 1 outlier can go
		{[]float32{1, -4, 2, 3}, 1, 0.5, []float32{1, -4, 2, 3}},
		{[]float32{1, 1, 1, 1, 1}, 0.4, 0.2, []float32{0, 0, 1, 1, 0}}, // ties ranked by position
	} {
		d := slices.Clone(tc.in)
		breadcrumbs(d, tc.density, tc.outliers, make([]int32, len(d)))
		assert.Equal(t, tc.want, d, "breadcrumbs(%v, %g, %g)", tc.in, tc.density, tc.outliers)
	}
}

func TestNewConfigFieldsValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Epsilon: 0.3}, "Epsilon"}, // 0.2 − 0.3 < 0
		{Config{Epsilon: -1}, "Epsilon"},
		{Config{Density: 0.9, Epsilon: 0.2}, "Epsilon"},
		{Config{Outliers: 1}, "Outliers"},
		{Config{Outliers: -0.1}, "Outliers"},
		{Config{KarcherIters: -1}, "KarcherIters"},
		{Config{KarcherTol: -1}, "KarcherTol"},
	} {
		err := tc.cfg.Validate()
		require.Error(t, err, "%+v", tc.cfg)
		require.Contains(t, err.Error(), tc.field)
	}
	d := Config{}.WithDefaults()
	require.Equal(t, 0.1, d.Epsilon)
	require.Equal(t, 0.01, d.Outliers)
	require.Equal(t, 10, d.KarcherIters)
	require.NoError(t, Config{Method: DELLA, Density: 1}.Validate())
	require.NoError(t, Config{Method: DELLA, Density: 0.95}.Validate())
}
