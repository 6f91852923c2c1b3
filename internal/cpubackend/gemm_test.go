package cpubackend

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSGEMM checks the blocked SGEMM, with the assembly kernel and with the Go fallback, against a
// float64 reference for shapes around the block sizes and for strided (transposed) operands.
func TestSGEMM(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	sizes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 5}, {13, 33, 257}, {97, 31, 300}, {5, 200, 9}, {150, 40, 70},
		{1, 512, 128}, {3, 7, 9}, {4, 33, 17}, {16, 50, 300}, {13, 2, 64}, {9, 301, 31}}
	saved := hasFMA
	defer func() { hasFMA = saved }()
	for _, fma := range []bool{false, saved} {
		hasFMA = fma
		for _, s := range sizes {
			m, n, k := s[0], s[1], s[2]
			a, b := make([]float32, m*k), make([]float32, k*n)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			for _, trans := range [][2]bool{{false, false}, {true, true}, {false, true}} {
				am := matrix{data: a, rs: k, cs: 1}
				bm := matrix{data: b, rs: n, cs: 1}
				if trans[0] { // read a as a column-major m×k
					am = matrix{data: a, rs: 1, cs: m}
				}
				if trans[1] {
					bm = matrix{data: b, rs: 1, cs: k}
				}
				c := make([]float32, m*n)
				sgemm(m, n, k, am, bm, c, n)
				for i := range m {
					for j := range n {
						var want, mag float64
						for p := range k {
							x := float64(am.data[i*am.rs+p*am.cs]) * float64(bm.data[p*bm.rs+j*bm.cs])
							want += x
							mag += math.Abs(x)
						}
						if d := math.Abs(want - float64(c[i*n+j])); d > 1e-5*max(1, mag) {
							t.Fatalf("fma=%v %v trans=%v: c[%d,%d] = %g, want %g", fma, s, trans, i, j, c[i*n+j], want)
						}
					}
				}
			}
		}
	}
}
