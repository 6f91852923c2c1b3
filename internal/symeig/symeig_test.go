package symeig

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecomposeHandCase(t *testing.T) {
	// [[2, 1], [1, 2]] has eigenvalues 3 and 1, eigenvectors (1, 1)/√2 and (1, −1)/√2.
	vals, vecs := Decompose([]float64{2, 1, 1, 2}, 2)
	assert.InDeltaSlice(t, []float64{3, 1}, vals, 1e-12)
	assert.InDelta(t, 1.0, abs(vecs[0]+vecs[1])/1.4142135623730951, 1e-12)
	assert.InDelta(t, 0.0, vecs[0]-vecs[1], 1e-12)
	assert.InDelta(t, 0.0, vecs[2]+vecs[3], 1e-12)
	assert.Panics(t, func() { Decompose([]float64{1, 2, 3}, 2) })
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestDecomposeReconstructs: V·diag(vals)·Vᵀ = A and V orthonormal, on a random symmetric 12×12.
func TestDecomposeReconstructs(t *testing.T) {
	const n = 12
	rng := rand.New(rand.NewPCG(1, 2))
	a := make([]float64, n*n)
	for i := range n {
		for j := i; j < n; j++ {
			a[i*n+j] = rng.NormFloat64()
			a[j*n+i] = a[i*n+j]
		}
	}
	vals, vecs := Decompose(a, n)
	for i := 1; i < n; i++ {
		require.GreaterOrEqual(t, vals[i-1], vals[i])
	}
	for i := range n {
		for j := range n {
			var rec, dot float64
			for k := range n {
				rec += vecs[k*n+i] * vals[k] * vecs[k*n+j]
				dot += vecs[i*n+k] * vecs[j*n+k]
			}
			require.InDelta(t, a[i*n+j], rec, 1e-10)
			want := 0.0
			if i == j {
				want = 1
			}
			require.InDelta(t, want, dot, 1e-10)
		}
	}
}

// TestDecomposeMatchesJacobi: on random symmetric matrices, a low-rank covariance, and ones with
// repeated, zero and negative eigenvalues, Decompose's eigenvalues are the cyclic Jacobi method's (an
// independent algorithm, below) to float64 rounding, its eigenvectors are orthonormal, and
// V·diag(vals)·Vᵀ rebuilds the matrix.
func TestDecomposeMatchesJacobi(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	diag := func(d ...float64) []float64 {
		n := len(d)
		a := make([]float64, n*n)
		for i, v := range d {
			a[i*n+i] = v
		}
		return a
	}
	cases := map[string][]float64{
		"1×1": {2.5}, "2×2": {2, 1, 1, 2}, "zero 3×3": make([]float64, 9),
		"repeated": diag(3, 1, 3, 0, 1, 3), "negative": diag(-2, 5, 0, -7),
		"random 17": randomSymmetric(rng, 17), "random 64": randomSymmetric(rng, 64),
		"covariance rank 10 of 40": lowRankCovariance(rng, 40, 10),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			n := int(math.Sqrt(float64(len(a))))
			vals, vecs := Decompose(a, n)
			want, _ := jacobi(a, n)
			var scale float64
			for _, v := range a {
				scale = math.Max(scale, math.Abs(v))
			}
			tol := 1e-12 * float64(n) * math.Max(scale, 1)
			assert.InDeltaSlice(t, want, vals, tol, "eigenvalues, descending")
			for i := range n {
				for j := range n {
					var dot, rebuilt float64
					for k := range n {
						dot += vecs[i*n+k] * vecs[j*n+k]
						rebuilt += vecs[k*n+i] * vals[k] * vecs[k*n+j]
					}
					want := 0.0
					if i == j {
						want = 1
					}
					assert.InDelta(t, want, dot, 1e-12*float64(n), "vᵢ·vⱼ, %d %d", i, j)
					assert.InDelta(t, a[i*n+j], rebuilt, tol, "V·Λ·Vᵀ entry %d %d", i, j)
				}
			}
		})
	}
}

func randomSymmetric(rng *rand.Rand, n int) []float64 {
	a := make([]float64, n*n)
	for i := range n {
		for j := i; j < n; j++ {
			a[i*n+j] = rng.NormFloat64()
			a[j*n+i] = a[i*n+j]
		}
	}
	return a
}

// lowRankCovariance is XᵀX for t random rows X of n columns (rank t < n, like a covariance of few
// tokens).
func lowRankCovariance(rng *rand.Rand, n, t int) []float64 {
	x := make([]float64, t*n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	a := make([]float64, n*n)
	for i := range n {
		for j := range n {
			for k := range t {
				a[i*n+j] += x[k*n+i] * x[k*n+j]
			}
		}
	}
	return a
}

// BenchmarkDecompose times Decompose and the Jacobi method it replaced on random symmetric matrices
// of the study model's input sizes (Jacobi at 688 takes about 14 s an operation, so only at 256).
func BenchmarkDecompose(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{256, 688} {
		a := randomSymmetric(rng, n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				Decompose(a, n)
			}
		})
		if n <= 256 {
			b.Run(fmt.Sprintf("jacobi/n=%d", n), func(b *testing.B) {
				for b.Loop() {
					jacobi(a, n)
				}
			})
		}
	}
}

// jacobi is the cyclic Jacobi method Decompose used before (kept as an independent reference for
// the tests): it returns the eigenvalues of the symmetric n×n matrix a (row-major, only read) in descending
// order and the matching unit eigenvectors as the rows of vecs (n×n, row i for vals[i]). It panics if
// len(a) is not n².
func jacobi(a []float64, n int) (vals, vecs []float64) {
	if len(a) != n*n {
		panic(fmt.Sprintf("symeig: jacobi: %d entries for a %d×%d matrix", len(a), n, n))
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
