package cpubackend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// withKernel runs f with g as sgemm's kernel (and, for the Go kernel, without the AVX2 dotKernel).
func withKernel(g *gemmKernel, f func()) {
	savedK, savedFMA := curKernel, hasFMA
	defer func() { setGemmKernel(savedK); hasFMA = savedFMA }()
	setGemmKernel(g)
	if g == goKernel {
		hasFMA = false
	}
	f()
}

// checkGemm compares C0 + A·B computed by sgemm against a float64 reference; A, B are random m×k,
// k×n views (transposed per trans), C has leading dimension ldc ≥ n and starts random.
func checkGemm(t *testing.T, r *rand.Rand, m, n, k int, trans [2]bool, ldc int) {
	t.Helper()
	a, b := make([]float32, m*k+3), make([]float32, k*n+5)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	am := matrix{data: a, off: 3, rs: k, cs: 1}
	bm := matrix{data: b, off: 5, rs: n, cs: 1}
	if trans[0] { // read a as a column-major m×k
		am = matrix{data: a, off: 3, rs: 1, cs: m}
	}
	if trans[1] {
		bm = matrix{data: b, off: 5, rs: 1, cs: k}
	}
	c := make([]float32, (m-1)*ldc+n)
	for i := range c {
		c[i] = float32(r.NormFloat64())
	}
	c0 := append([]float32(nil), c...)
	sgemm(m, n, k, am, bm, c, ldc)
	for i := range m {
		for j := range n {
			want, mag := float64(c0[i*ldc+j]), math.Abs(float64(c0[i*ldc+j]))
			for p := range k {
				x := float64(am.data[am.off+i*am.rs+p*am.cs]) * float64(bm.data[bm.off+p*bm.rs+j*bm.cs])
				want += x
				mag += math.Abs(x)
			}
			if d := math.Abs(want - float64(c[i*ldc+j])); d > 1e-5*max(1, mag) {
				t.Fatalf("%s %dx%dx%d trans=%v ldc=%d: c[%d,%d] = %g, want %g", curKernel.name, m, n, k, trans, ldc, i, j, c[i*ldc+j], want)
			}
		}
		// Columns past n (up to ldc) must be untouched.
		if i < m-1 {
			for j := n; j < ldc; j++ {
				if c[i*ldc+j] != c0[i*ldc+j] {
					t.Fatalf("%s %dx%dx%d trans=%v ldc=%d: c[%d,%d] past n was written", curKernel.name, m, n, k, trans, ldc, i, j)
				}
			}
		}
	}
}

// TestSGEMM checks the blocked SGEMM with every kernel this CPU runs (AVX-512, AVX2, pure Go)
// against a float64 reference, for shapes around the tile and block sizes and for strided
// (transposed) operands.
func TestSGEMM(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 5}, {13, 33, 257}, {97, 31, 300}, {5, 200, 9}, {150, 40, 70},
		{1, 512, 128}, {3, 7, 9}, {4, 33, 17}, {16, 50, 300}, {13, 2, 64}, {9, 301, 31},
		{14, 32, 1}, {15, 33, 1}, {28, 64, 40}, {29, 65, 513}, {17, 97, 3}, {170, 70, 20}, {200, 33, 600}}
	for _, g := range gemmKernels {
		t.Run(g.name, func(t *testing.T) {
			withKernel(g, func() {
				r := rand.New(rand.NewPCG(7, 7))
				for _, s := range sizes {
					for _, trans := range [][2]bool{{false, false}, {true, true}, {false, true}, {true, false}} {
						checkGemm(t, r, s[0], s[1], s[2], trans, s[1])
					}
				}
				// Random shapes, some with C wider than n.
				n := 60
				if testing.Short() {
					n = 20
				}
				for range n {
					m, nn, k := 1+r.IntN(80), 1+r.IntN(150), 1+r.IntN(300)
					trans := [2]bool{r.IntN(2) == 1, r.IntN(2) == 1}
					checkGemm(t, r, m, nn, k, trans, nn+r.IntN(3)*7)
				}
			})
		})
	}
}

// TestGemmKernels checks each micro-kernel alone on full tiles against the Go kernel's formula.
func TestGemmKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	for _, g := range gemmKernels {
		for _, k := range []int{1, 2, 3, 4, 5, 7, 8, 9, 31, 256} {
			a, b := make([]float32, g.mr*k), make([]float32, k*g.nr)
			for i := range a {
				a[i] = float32(r.NormFloat64())
			}
			for i := range b {
				b[i] = float32(r.NormFloat64())
			}
			ldc := g.nr + 3
			c := make([]float32, g.mr*ldc)
			for i := range c {
				c[i] = float32(i)
			}
			g.micro(k, a, b, c, ldc)
			for i := range g.mr {
				for j := range ldc {
					want := float64(i*ldc + j)
					if j < g.nr {
						for p := range k {
							want += float64(a[p*g.mr+i]) * float64(b[p*g.nr+j])
						}
					}
					if d := math.Abs(want - float64(c[i*ldc+j])); d > 1e-4*max(1, math.Abs(want)) {
						t.Fatalf("%s k=%d: c[%d,%d] = %g, want %g", g.name, k, i, j, c[i*ldc+j], want)
					}
				}
			}
		}
	}
}

// BenchmarkSGEMM times the single-threaded SGEMM per kernel on the 1024³ product and on the LM-head
// shapes (logits, and its two gradients) of a 288-wide model with a 32000 vocabulary.
func BenchmarkSGEMM(b *testing.B) {
	type shape struct {
		name    string
		m, n, k int
		ta, tb  bool
	}
	shapes := []shape{{"1024", 1024, 1024, 1024, false, false}, {"head", 1024, 32000, 288, false, true},
		{"head_dW", 288, 32000, 1024, true, false}, {"head_dx", 1024, 288, 32000, false, false}}
	for _, s := range shapes {
		r := rand.New(rand.NewPCG(1, 2))
		a, bb := make([]float32, s.m*s.k), make([]float32, s.k*s.n)
		for i := range a {
			a[i] = r.Float32()
		}
		for i := range bb {
			bb[i] = r.Float32()
		}
		am, bm := matrix{data: a, rs: s.k, cs: 1}, matrix{data: bb, rs: s.n, cs: 1}
		if s.ta {
			am = matrix{data: a, rs: 1, cs: s.m}
		}
		if s.tb {
			bm = matrix{data: bb, rs: 1, cs: s.k}
		}
		c := make([]float32, s.m*s.n)
		for _, g := range gemmKernels {
			if g == goKernel {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", s.name, g.name), func(b *testing.B) {
				withKernel(g, func() {
					for b.Loop() {
						sgemm(s.m, s.n, s.k, am, bm, c, s.n)
					}
				})
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestSmallGemm checks the few-row paths of sgemm (smallGemmT for a B with contiguous columns,
// smallGemmN for contiguous rows) at every SIMD level against the float64 reference: every m in
// 1..16, n around the 16-column blocks, k a multiple of 16 (288, the stories15M width) or not, and
// strided (transposed) operands and C wider than n.
func TestSmallGemm(t *testing.T) {
	forEachVecLevel(t, func(level string) {
		withKernel(curKernel, func() {
			if level == "go" {
				hasFMA = false
			}
			r := rand.New(rand.NewPCG(3, 5))
			savedPF := smallTPrefetch
			defer func() { smallTPrefetch = savedPF }()
			for m := 1; m <= maxSmallM; m++ {
				smallTPrefetch = m % 3 // the kernels' prefetching loops too
				for _, nk := range [][2]int{{1000, 288}, {16, 288}, {47, 17}, {33, 7}, {257, 301}, {17, 16}, {64, 1}} {
					n, k := nk[0], nk[1]
					if m*n*k < 4096 {
						continue // naiveGemm
					}
					for _, trans := range [][2]bool{{false, true}, {true, true}, {false, false}} {
						ldc := n
						if m%3 == 0 {
							ldc = n + 5
						}
						checkGemm(t, r, m, n, k, trans, ldc)
					}
				}
			}
			if t.Failed() {
				t.Fatalf("vecLevel %s", level)
			}
		})
	})
}

// TestAxpyRows checks axpyRows and axpyF32 at every SIMD level for lengths around the vector widths.
func TestAxpyRows(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	forEachVecLevel(t, func(level string) {
		for _, n := range []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 129, 300} {
			for _, k := range []int{1, 2, 3, 5, 8, 33} {
				ldx, lda := n+r.IntN(4), 1+r.IntN(3)
				x, a := make([]float32, (k-1)*ldx+n), make([]float32, (k-1)*lda+1)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				y := make([]float32, n+3)
				for i := range y {
					y[i] = float32(i)
				}
				axpyRows(y[:n], x, ldx, a, lda, k)
				for j := range y {
					want, mag := float64(j), float64(j)
					if j < n {
						for p := range k {
							v := float64(a[p*lda]) * float64(x[p*ldx+j])
							want += v
							mag += math.Abs(v)
						}
					}
					if d := math.Abs(want - float64(y[j])); d > 1e-5*max(1, mag) {
						t.Fatalf("%s n=%d k=%d: y[%d] = %g, want %g", level, n, k, j, y[j], want)
					}
				}
				y2 := append([]float32(nil), x[:n]...)
				axpyF32(y2, 0.5, x[:n])
				for j := range y2 {
					if y2[j] != 1.5*x[j] {
						t.Fatalf("%s axpyF32 n=%d: y[%d] = %g, want %g", level, n, j, y2[j], 1.5*x[j])
					}
				}
			}
		}
	})
}

// BenchmarkSmallGemmT times the few-row x·Wᵀ of a decode step's LM head (stories15M: k=288,
// n=32000, W row-major so B's columns are contiguous) on one goroutine, per SIMD level; GB/s
// counts one pass over W.
func BenchmarkSmallGemmT(b *testing.B) {
	const n, k = 32000, 288
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, n*k)
	for i := range w {
		w[i] = r.Float32()
	}
	for _, m := range []int{1, 4, 16} {
		a := make([]float32, m*k)
		for i := range a {
			a[i] = r.Float32()
		}
		c := make([]float32, m*n)
		am, bm := matrix{data: a, rs: k, cs: 1}, matrix{data: w, rs: 1, cs: k}
		for _, l := range vecLevels() {
			if l == vecGo {
				continue
			}
			b.Run(fmt.Sprintf("m%d/%s", m, vecLevelNames[l]), func(b *testing.B) {
				saved := vecLevel
				defer func() { vecLevel = saved }()
				vecLevel = l
				for b.Loop() {
					sgemm(m, n, k, am, bm, c, n)
				}
				s := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(2*float64(m*n*k)/s/1e9, "GFLOP/s")
				b.ReportMetric(4*float64(n*k)/s/1e9, "GB/s")
			})
		}
	}
}
