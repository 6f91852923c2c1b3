package symeig

import (
	"fmt"
	"math"
	"slices"
)

// Decompose returns the eigenvalues of the symmetric n×n matrix a (row-major, only read) in descending
// order and the matching unit eigenvectors as the rows of vecs (n×n, row i for vals[i]). It panics if
// len(a) is not n².
func Decompose(a []float64, n int) (vals, vecs []float64) {
	if len(a) != n*n {
		panic(fmt.Sprintf("symeig: Decompose: %d entries for a %d×%d matrix", len(a), n, n))
	}
	m := slices.Clone(a)
	v := make([]float64, n*n) // columns are the eigenvectors
	for i := range n {
		v[i*n+i] = 1
	}
	var total float64
	for _, x := range m {
		total += x * x
	}
	for sweep := 0; sweep < 64; sweep++ {
		var off float64
		for p := range n {
			for q := p + 1; q < n; q++ {
				off += m[p*n+q] * m[p*n+q]
			}
		}
		if off <= 1e-30*total || off == 0 {
			break
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				apq := m[p*n+q]
				if apq == 0 {
					continue
				}
				theta := (m[q*n+q] - m[p*n+p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range n { // columns p and q
					kp, kq := m[k*n+p], m[k*n+q]
					m[k*n+p], m[k*n+q] = c*kp-s*kq, s*kp+c*kq
				}
				for k := range n { // rows p and q
					pk, qk := m[p*n+k], m[q*n+k]
					m[p*n+k], m[q*n+k] = c*pk-s*qk, s*pk+c*qk
				}
				for k := range n {
					kp, kq := v[k*n+p], v[k*n+q]
					v[k*n+p], v[k*n+q] = c*kp-s*kq, s*kp+c*kq
				}
			}
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return -cmpFloat(m[i*n+i], m[j*n+j]) })
	vals = make([]float64, n)
	vecs = make([]float64, n*n)
	for r, i := range order {
		vals[r] = m[i*n+i]
		for k := range n {
			vecs[r*n+k] = v[k*n+i]
		}
	}
	return vals, vecs
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
