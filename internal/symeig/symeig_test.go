package symeig

import (
	"math/rand/v2"
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
