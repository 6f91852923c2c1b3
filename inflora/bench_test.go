package inflora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/accrete/accrete/model"
)

// randomCovariance returns Σ x·xᵀ over t random inputs x [n] whose energy falls off along the axes
// (like a layer's activations), and an orthonormal memory of k random rows.
func randomCovariance(n, t, k int, seed uint64) (Covariance, Memory) {
	rng := rand.New(rand.NewPCG(seed, 7))
	c := Covariance{In: n, Data: make([]float64, n*n)}
	x := make([]float64, n)
	for range t {
		for i := range x {
			x[i] = rng.NormFloat64() / (1 + float64(i)/8)
		}
		for i := range n {
			for j := range n {
				c.Data[i*n+j] += x[i] * x[j]
			}
		}
	}
	M := &model.Tensor{Shape: []int{0, n}}
	v := make([]float64, n)
	for M.Shape[0] < k {
		for i := range v {
			v[i] = rng.NormFloat64() / (1 + float64(i)/8)
		}
		offMemory(v, M)
		offMemory(v, M)
		var norm float64
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		for _, x := range v {
			M.Data = append(M.Data, float32(x/norm))
		}
		M.Shape[0]++
	}
	return c, M
}

// BenchmarkDesignExtend: one module's work in a round (Design before training, Extend after) at the
// study model's input sizes, with a memory of a quarter of the space.
func BenchmarkDesignExtend(b *testing.B) {
	for _, n := range []int{256, 688} {
		c, M := randomCovariance(n, 2*n, n/4, 1)
		b.Run(fmt.Sprintf("in=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Design(c, M, 8)
				Extend(c, M, 0.95)
			}
		})
	}
}
