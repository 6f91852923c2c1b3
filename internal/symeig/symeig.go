package symeig

import (
	"fmt"
	"math"
	"slices"
)

// Decompose returns the eigenvalues of the symmetric n×n matrix a (row-major, only read) in descending
// order and the matching unit eigenvectors as the rows of vecs (n×n, row i for vals[i]). It panics if
// len(a) is not n².
//
// It reduces a to tridiagonal form by Householder reflections, then applies the implicit QL method
// with Wilkinson shifts (EISPACK's tred2 and tql2, as in JAMA): about ten n³ flops in all, in loops
// along rows; a 688×688 matrix takes about 0.9 s on one core (BenchmarkDecompose; the cyclic Jacobi
// method it replaced took about 14 s). The result is exact to float64 rounding; within an eigenvalue
// of multiplicity above one the eigenvectors are some orthonormal basis of its eigenspace, as with any
// method.
func Decompose(a []float64, n int) (vals, vecs []float64) {
	if len(a) != n*n {
		panic(fmt.Sprintf("symeig: Decompose: %d entries for a %d×%d matrix", len(a), n, n))
	}
	if n == 0 {
		return nil, nil
	}
	// tred2 works on the lower triangle of z = a and leaves in z the orthogonal Q of a = Q·T·Qᵀ.
	// The rows of z are used where JAMA uses the columns of V (a is symmetric, so z starts as aᵀ),
	// so that the inner loops run along rows.
	z := slices.Clone(a)
	d := make([]float64, n)
	e := make([]float64, n)
	tred2(z, d, e, n)
	tql2(z, d, e, n)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return -cmpFloat(d[i], d[j]) })
	vals = make([]float64, n)
	vecs = make([]float64, n*n)
	for r, i := range order {
		vals[r] = d[i]
		copy(vecs[r*n:(r+1)*n], z[i*n:(i+1)*n])
	}
	return vals, vecs
}

// tred2 reduces the symmetric matrix in z to tridiagonal form by Householder reflections: on return
// d holds the diagonal, e[1:] the subdiagonal (e[0] = 0), and row j of z is column j of the
// orthogonal matrix that performs the reduction. In JAMA's notation V[k][j] is z[j*n+k] here.
func tred2(z, d, e []float64, n int) {
	for j := range n {
		d[j] = z[j*n+n-1] // V[n-1][j]
	}
	for i := n - 1; i > 0; i-- {
		var scale, h float64
		for k := range i {
			scale += math.Abs(d[k])
		}
		if scale == 0 {
			e[i] = d[i-1]
			for j := range i {
				d[j] = z[j*n+i-1] // V[i-1][j]
				z[j*n+i] = 0      // V[i][j]
				z[i*n+j] = 0      // V[j][i]
			}
			d[i] = h
			continue
		}
		for k := range i {
			d[k] /= scale
			h += d[k] * d[k]
		}
		f := d[i-1]
		g := math.Sqrt(h)
		if f > 0 {
			g = -g
		}
		e[i] = scale * g
		h -= f * g
		d[i-1] = f - g
		for j := range i {
			e[j] = 0
		}
		for j := range i {
			f = d[j]
			z[i*n+j] = f // V[j][i]
			zj := z[j*n : j*n+i]
			g = e[j] + zj[j]*f
			for k := j + 1; k < i; k++ { // V[k][j] = zj[k]
				g += zj[k] * d[k]
				e[k] += zj[k] * f
			}
			e[j] = g
		}
		f = 0
		for j := range i {
			e[j] /= h
			f += e[j] * d[j]
		}
		hh := f / (h + h)
		for j := range i {
			e[j] -= hh * d[j]
		}
		for j := range i {
			f, g = d[j], e[j]
			zj := z[j*n : j*n+i]
			for k := j; k < i; k++ {
				zj[k] -= f*e[k] + g*d[k]
			}
			d[j] = zj[i-1] // V[i-1][j]
			z[j*n+i] = 0   // V[i][j]
		}
		d[i] = h
	}
	// Accumulate the transformations.
	for i := 0; i < n-1; i++ {
		z[i*n+n-1] = z[i*n+i] // V[n-1][i] = V[i][i]
		z[i*n+i] = 1
		h := d[i+1]
		zi1 := z[(i+1)*n : (i+1)*n+i+1] // V[k][i+1], k ≤ i
		if h != 0 {
			for k := range i + 1 {
				d[k] = zi1[k] / h
			}
			for j := range i + 1 {
				zj := z[j*n : j*n+i+1]
				var g float64
				for k := range i + 1 {
					g += zi1[k] * zj[k]
				}
				for k := range i + 1 {
					zj[k] -= g * d[k]
				}
			}
		}
		for k := range i + 1 {
			zi1[k] = 0
		}
	}
	for j := range n {
		d[j] = z[j*n+n-1]
		z[j*n+n-1] = 0
	}
	z[(n-1)*n+n-1] = 1
	e[0] = 0
}

// tql2 diagonalises the symmetric tridiagonal matrix (d, e[1:]) by the implicit QL method, applying
// the rotations to the rows of z: on return d holds the eigenvalues (unsorted) and row j of z the unit
// eigenvector of d[j].
func tql2(z, d, e []float64, n int) {
	for i := 1; i < n; i++ {
		e[i-1] = e[i]
	}
	e[n-1] = 0
	var f, tst1 float64
	eps := math.Pow(2, -52)
	for l := range n {
		tst1 = math.Max(tst1, math.Abs(d[l])+math.Abs(e[l]))
		m := l
		for m < n-1 && math.Abs(e[m]) > eps*tst1 {
			m++
		}
		if m > l {
			for iter := 0; ; iter++ {
				if iter == 200 {
					panic(fmt.Sprintf("symeig: Decompose: no convergence at eigenvalue %d of %d", l, n))
				}
				g := d[l]
				p := (d[l+1] - g) / (2 * e[l])
				r := math.Hypot(p, 1)
				if p < 0 {
					r = -r
				}
				d[l] = e[l] / (p + r)
				d[l+1] = e[l] * (p + r)
				dl1 := d[l+1]
				h := g - d[l]
				for i := l + 2; i < n; i++ {
					d[i] -= h
				}
				f += h
				p = d[m]
				c, c2, c3 := 1.0, 1.0, 1.0
				el1 := e[l+1]
				var s, s2 float64
				for i := m - 1; i >= l; i-- {
					c3, c2, s2 = c2, c, s
					g = c * e[i]
					h = c * p
					r = math.Hypot(p, e[i])
					e[i+1] = s * r
					s, c = e[i]/r, p/r
					p = c*d[i] - s*g
					d[i+1] = h + s*(c*g+s*d[i])
					zi, zi1 := z[i*n:(i+1)*n], z[(i+1)*n:(i+2)*n]
					for k := range zi {
						h = zi1[k]
						zi1[k] = s*zi[k] + c*h
						zi[k] = c*zi[k] - s*h
					}
				}
				p = -s * s2 * c3 * el1 * e[l] / dl1
				e[l] = s * p
				d[l] = c * p
				if !(math.Abs(e[l]) > eps*tst1) {
					break
				}
			}
		}
		d[l] += f
		e[l] = 0
	}
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
