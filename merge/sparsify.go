package merge

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// ascendingMagnitude fills order with the indices of d sorted by ascending |d| (ties by position).
func ascendingMagnitude(d []float32, order []int32) {
	for j := range order {
		order[j] = int32(j)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		return cmp.Compare(math.Abs(float64(d[a])), math.Abs(float64(d[b])))
	})
}

// magprune is DELLA's MAGPRUNE (Deep et al., arXiv 2406.11617) on each row of d (rows of length in):
// the entry of magnitude rank r (0 the smallest, ties by position) is kept with probability
// q_r = density − eps + 2·eps·r/(in−1) (density for a row of one entry) and rescaled by 1/q_r, else
// zeroed. The draws follow rank order within a row, rows in order. At density ≥ 1 d is unchanged.
// order has length in.
func magprune(d []float32, in int, density, eps float64, rng *rand.Rand, order []int32) {
	if density >= 1 {
		return
	}
	for off := 0; off < len(d); off += in {
		row := d[off : off+in]
		ascendingMagnitude(row, order)
		for r, j := range order {
			q := density
			if in > 1 {
				q = density - eps + 2*eps*float64(r)/float64(in-1)
			}
			if rng.Float64() < q {
				row[j] = float32(float64(row[j]) / q)
			} else {
				row[j] = 0
			}
		}
	}
}

// breadcrumbs masks both tails of d (Davari & Belilovsky, arXiv 2312.06795): of n entries it keeps
// k = ⌊density·n⌋, dropping the ⌊outliers·n⌋ of largest magnitude (fewer when k + ⌊outliers·n⌋ > n) and
// the smallest ones; ties in magnitude are ranked by position. At density ≥ 1 d is unchanged. order
// has len(d).
func breadcrumbs(d []float32, density, outliers float64, order []int32) {
	n := len(d)
	if density >= 1 || n == 0 {
		return
	}
	keep := int(density * float64(n))
	top := int(outliers * float64(n))
	bot := n - keep - top
	if bot < 0 {
		top += bot
		bot = 0
	}
	ascendingMagnitude(d, order)
	for _, j := range order[:bot] {
		d[j] = 0
	}
	for _, j := range order[n-top:] {
		d[j] = 0
	}
}
