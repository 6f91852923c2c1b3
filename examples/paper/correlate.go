package main

import (
	"cmp"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
)

// The statistics of the interference study (interference.go): Pearson's and Spearman's correlation
// over pairs of tasks, their 95% Fisher-z intervals, and permutation p-values that relabel the tasks
// (a Mantel test), which respects that the pairs of one seed share their tasks.

// z975 is the 0.975 quantile of the standard normal distribution.
const z975 = 1.959963984540054

// pearson is the Pearson correlation of x and y (equal lengths), NaN for fewer than two points or
// when either has no spread.
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 2 {
		return math.NaN()
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxx, syy, sxy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	if !(sxx > 0 && syy > 0) {
		return math.NaN()
	}
	return max(-1, min(1, sxy/math.Sqrt(sxx*syy)))
}

// ranks returns the 1-based ranks of x, tied values sharing the mean of their ranks.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// spearman is Spearman's rank correlation of x and y: Pearson's on their ranks (mid-ranks for ties).
func spearman(x, y []float64) float64 { return pearson(ranks(x), ranks(y)) }

// fisherInterval is the 95% interval of a correlation r over n points by Fisher's z: tanh(atanh r ±
// z_{0.975}·se·/√(n−3)), se being 1 for Pearson's r and √1.06 for Spearman's ρ (Fieller, Hartley &
// Pearson 1957). NaN for n < 4 or an undefined r.
func fisherInterval(r float64, n int, se float64) (lo, hi float64) {
	if n < 4 || math.IsNaN(r) {
		return math.NaN(), math.NaN()
	}
	z, h := math.Atanh(r), z975*se/math.Sqrt(float64(n-3))
	return math.Tanh(z - h), math.Tanh(z + h)
}

// pairSample is the pairs a correlation is computed over: x[k] and y[k] were measured on the pair of
// tasks (a[k], b[k]), numbered within stratum s[k] (a seed: each seed has its own adapters).
type pairSample struct {
	s, a, b []int
	x, y    []float64
}

// finite returns the x and y of the pairs where both are finite.
func (p pairSample) finite(y []float64) (xs, ys []float64) {
	for k := range p.x {
		if isFinite(p.x[k]) && isFinite(y[k]) {
			xs, ys = append(xs, p.x[k]), append(ys, y[k])
		}
	}
	return xs, ys
}

// exactLimit is the most relabellings permutationTest enumerates; above it, it draws at random.
const exactLimit = 50000

// permutationTest returns the two-sided p-value of stat(x, y) under the null hypothesis that the tasks
// are exchangeable within each stratum: y is recomputed with every stratum's tasks relabelled (y of
// pair (i, j) taken from pair (π(i), π(j)), the Mantel test's permutation), x kept, and p is the share
// of relabellings whose |stat| is at least the observed one. Every relabelling is enumerated, the
// identity included, when there are at most exactLimit of them (exact = true, p = count/perms);
// otherwise draws random ones from rng (p = (count+1)/(draws+1)). Pairs with a non-finite x or y are
// left out of each statistic. p is NaN when the observed statistic is.
func permutationTest(p pairSample, stat func(x, y []float64) float64, draws int, rng *rand.Rand) (pval float64, perms int, exact bool) {
	obs := stat(p.finite(p.y))
	if math.IsNaN(obs) {
		return math.NaN(), 0, false
	}
	// Per stratum: its number of tasks and which observation each pair is.
	tasks := map[int]int{}
	for k := range p.s {
		tasks[p.s[k]] = max(tasks[p.s[k]], p.a[k]+1, p.b[k]+1)
	}
	strata := slices.Sorted(func(yield func(int) bool) {
		for s := range tasks {
			if !yield(s) {
				return
			}
		}
	})
	type key struct{ s, a, b int }
	at := map[key]int{}
	for k := range p.s {
		at[key{p.s[k], p.a[k], p.b[k]}] = k
		at[key{p.s[k], p.b[k], p.a[k]}] = k
	}
	pi := map[int][]int{} // the current relabelling of each stratum
	yp := make([]float64, len(p.y))
	count := 0
	tol := 1e-12 * max(1, math.Abs(obs))
	try := func() {
		for k := range p.s {
			j, ok := at[key{p.s[k], pi[p.s[k]][p.a[k]], pi[p.s[k]][p.b[k]]}]
			if ok {
				yp[k] = p.y[j]
			} else {
				yp[k] = math.NaN() // that pair was not measured
			}
		}
		if t := stat(p.finite(yp)); math.Abs(t) >= math.Abs(obs)-tol {
			count++
		}
	}
	total := 1
	for _, s := range strata {
		total = satMul(total, factorial(tasks[s]))
	}
	if total <= exactLimit {
		all := map[int][][]int{}
		for _, s := range strata {
			all[s] = permutations(tasks[s])
		}
		digit := make([]int, len(strata)) // a mixed-radix counter over the strata's relabellings
		for {
			for i, s := range strata {
				pi[s] = all[s][digit[i]]
			}
			try()
			i := 0
			for ; i < len(strata); i++ {
				if digit[i]++; digit[i] < len(all[strata[i]]) {
					break
				}
				digit[i] = 0
			}
			if i == len(strata) {
				return float64(count) / float64(total), total, true
			}
		}
	}
	for range draws {
		for _, s := range strata {
			pi[s] = rng.Perm(tasks[s])
		}
		try()
	}
	return float64(count+1) / float64(draws+1), draws, false
}

// holm returns Holm's step-down adjustment of the p-values ps (NaN ones are left out of the family
// and stay NaN): the family-wise error rate over the tests is at most the adjusted p.
func holm(ps []float64) []float64 {
	var idx []int
	for i, p := range ps {
		if !math.IsNaN(p) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ps[a], ps[b]) })
	out := make([]float64, len(ps))
	for i := range out {
		out[i] = math.NaN()
	}
	running := 0.0
	for rank, i := range idx {
		running = max(running, min(1, float64(len(idx)-rank)*ps[i]))
		out[i] = running
	}
	return out
}

// permutations returns every permutation of 0..n−1, the identity first.
func permutations(n int) [][]int {
	var out [][]int
	cur := make([]int, n)
	for i := range cur {
		cur[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			out = append(out, slices.Clone(cur))
			return
		}
		for i := k; i < n; i++ {
			cur[k], cur[i] = cur[i], cur[k]
			rec(k + 1)
			cur[k], cur[i] = cur[i], cur[k]
		}
	}
	rec(0)
	return out
}

func factorial(n int) int {
	f := 1
	for i := 2; i <= n; i++ {
		f = satMul(f, i)
	}
	return f
}

// satMul is a·b, or math.MaxInt where that overflows (a, b ≥ 0).
func satMul(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// jnum is a float64 that JSON encodes as null when it is NaN or infinite.
type jnum float64

// MarshalJSON implements json.Marshaler.
func (x jnum) MarshalJSON() ([]byte, error) {
	if !isFinite(float64(x)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(x))
}
