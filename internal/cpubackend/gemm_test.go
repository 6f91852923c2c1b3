package cpubackend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// withKernel runs f with g as sgemm's kernel (and, for the Go kernel, without the AVX2 dotKernel
// and the assembly packing).
func withKernel(g *gemmKernel, f func()) {
	savedK, savedFMA, savedPack := curKernel, hasFMA, usePackAsm
	defer func() { setGemmKernel(savedK); hasFMA = savedFMA; usePackAsm = savedPack }()
	setGemmKernel(g)
	if g == goKernel {
		hasFMA, usePackAsm = false, false
	}
	f()
}

// garbage fills c with values an overwriting sgemm must not read: NaNs, infinities, huge numbers.
func garbage(r *rand.Rand, c []float32) {
	vals := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3e38, -1e30}
	for i := range c {
		c[i] = vals[r.IntN(len(vals))]
	}
}

// checkGemm checks sgemm (acc false: C = A·B, C filled with garbage first) or sgemmMode's acc (true:
// C = C0 + A·B, C0 random) against a float64 reference; A, B are random m×k, k×n views (transposed
// per trans), C has leading dimension ldc ≥ n. Elements of C's buffer outside the m×n view, and a
// guard past its end, must be left alone.
func checkGemm(t *testing.T, r *rand.Rand, m, n, k int, trans [2]bool, ldc int, acc bool) {
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
	const guard = 37
	cfull := make([]float32, (m-1)*ldc+n+guard)
	if acc {
		for i := range cfull {
			cfull[i] = float32(r.NormFloat64())
		}
	} else {
		garbage(r, cfull)
	}
	c0 := append([]float32(nil), cfull...)
	c := cfull[:(m-1)*ldc+n]
	sgemmMode(m, n, k, am, bm, c, ldc, acc)
	same := func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }
	for j := len(c); j < len(cfull); j++ {
		if !same(cfull[j], c0[j]) {
			t.Fatalf("%s %dx%dx%d trans=%v ldc=%d acc=%v: guard past C's end was written", curKernel.name, m, n, k, trans, ldc, acc)
		}
	}
	for i := range m {
		for j := range n {
			want, mag := 0.0, 0.0
			if acc {
				want, mag = float64(c0[i*ldc+j]), math.Abs(float64(c0[i*ldc+j]))
			}
			for p := range k {
				x := float64(am.data[am.off+i*am.rs+p*am.cs]) * float64(bm.data[bm.off+p*bm.rs+j*bm.cs])
				want += x
				mag += math.Abs(x)
			}
			if d := math.Abs(want - float64(c[i*ldc+j])); !(d <= 1e-5*max(1, mag)) {
				t.Fatalf("%s %dx%dx%d trans=%v ldc=%d acc=%v: c[%d,%d] = %g, want %g", curKernel.name, m, n, k, trans, ldc, acc, i, j, c[i*ldc+j], want)
			}
		}
		// Columns past n (up to ldc) must be untouched.
		if i < m-1 {
			for j := n; j < ldc; j++ {
				if !same(c[i*ldc+j], c0[i*ldc+j]) {
					t.Fatalf("%s %dx%dx%d trans=%v ldc=%d acc=%v: c[%d,%d] past n was written", curKernel.name, m, n, k, trans, ldc, acc, i, j)
				}
			}
		}
	}
}

// TestSGEMM checks the blocked SGEMM with every kernel this CPU runs (AVX-512, AVX2, pure Go)
// against a float64 reference, in overwrite mode (C garbage beforehand) and accumulate mode, for
// shapes around the tile and block sizes (k=1; ragged edges; m ≤ 16, which takes the few-row paths;
// k deep enough to be split into two, three or four slices) and for strided (transposed) operands.
func TestSGEMM(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {6, 16, 1}, {7, 17, 5}, {13, 33, 257}, {97, 31, 300}, {5, 200, 9}, {150, 40, 70},
		{1, 512, 128}, {3, 7, 9}, {4, 33, 17}, {16, 50, 300}, {13, 2, 64}, {9, 301, 31},
		{14, 32, 1}, {15, 33, 1}, {28, 64, 40}, {29, 65, 513}, {17, 97, 3}, {170, 70, 20}, {200, 33, 600},
		{100, 64, 1}, {43, 130, 1}, {16, 300, 1}, {3, 2000, 1}, {2, 5000, 1}, {29, 63, 1000}, {15, 47, 700},
		{180, 70, 1100}, {14, 32, 641}, {4, 100, 1000}}
	for _, g := range gemmKernels {
		for _, packAsm := range []bool{true, false} {
			if packAsm && !usePackAsm {
				continue
			}
			t.Run(fmt.Sprintf("%s/packAsm=%v", g.name, packAsm), func(t *testing.T) {
				withKernel(g, func() {
					usePackAsm = packAsm
					r := rand.New(rand.NewPCG(7, 7))
					for _, s := range sizes {
						for _, trans := range [][2]bool{{false, false}, {true, true}, {false, true}, {true, false}} {
							checkGemm(t, r, s[0], s[1], s[2], trans, s[1], false)
							checkGemm(t, r, s[0], s[1], s[2], trans, s[1], true)
							checkGemm(t, r, s[0], s[1], s[2], trans, s[1]+5, false)
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
						checkGemm(t, r, m, nn, k, trans, nn+r.IntN(3)*7, r.IntN(2) == 1)
					}
				})
			})
		}
	}
}

// TestGemmKernels checks each micro-kernel alone on full tiles against the Go kernel's formula, in
// both modes: accumulating into C, and storing over a C full of NaNs.
func TestGemmKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	for _, g := range gemmKernels {
		for _, acc := range []bool{true, false} {
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
					if !acc && i%ldc < g.nr {
						c[i] = float32(math.NaN())
					}
				}
				g.micro(k, a, b, c, ldc, acc)
				for i := range g.mr {
					for j := range ldc {
						want := float64(i*ldc + j)
						if !acc && j < g.nr {
							want = 0
						}
						if j < g.nr {
							for p := range k {
								want += float64(a[p*g.mr+i]) * float64(b[p*g.nr+j])
							}
						}
						if d := math.Abs(want - float64(c[i*ldc+j])); !(d <= 1e-4*max(1, math.Abs(want))) {
							t.Fatalf("%s k=%d acc=%v: c[%d,%d] = %g, want %g", g.name, k, acc, i, j, c[i*ldc+j], want)
						}
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
// smallGemmN for contiguous rows) at every SIMD level against the float64 reference, overwriting a
// C full of garbage and accumulating into a random one: every m in
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
						checkGemm(t, r, m, n, k, trans, ldc, false)
						checkGemm(t, r, m, n, k, trans, ldc, true)
					}
				}
			}
			if t.Failed() {
				t.Fatalf("vecLevel %s", level)
			}
		})
	})
}

// TestSmallGemmTAT checks smallGemmT (the transposed-A kernel smallGemmTAT at the AVX-512 level,
// taken for every m ≥ 1 by lowering smallTATMinM, and the other kernels at the other levels) called
// directly, below sgemm's naive-gemm cutoff too, against a float64 reference: every m in 1..16, n
// ragged around the 16-column blocks (n < 16 included), k = 1, 7, 16, 17, 288, 301, A row-major,
// column-major or strided both ways, C wider than n, overwriting a C full of garbage and
// accumulating into a random one. Elements of C outside the m×n view must be left alone.
func TestSmallGemmTAT(t *testing.T) {
	defer func(s, sb, pf int) { smallTATMinM, smallTATMinMSmallB, smallTATPrefetch = s, sb, pf }(smallTATMinM, smallTATMinMSmallB, smallTATPrefetch)
	smallTATMinM, smallTATMinMSmallB = 1, 1
	ms := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ns := []int{1, 5, 15, 16, 17, 31, 33, 100}
	ks := []int{1, 7, 16, 17, 288, 301}
	if testing.Short() {
		ns, ks = []int{5, 17, 33}, []int{1, 7, 301}
	}
	forEachVecLevel(t, func(level string) {
		withKernel(curKernel, func() {
			if level == "go" {
				hasFMA = false
			}
			for _, pf := range []int{0, 2} {
				smallTATPrefetch = pf
				r := rand.New(rand.NewPCG(uint64(pf), 11))
				for _, m := range ms {
					for _, n := range ns {
						for _, k := range ks {
							checkSmallT(t, level, r, m, n, k, r.IntN(4), n+r.IntN(2)*3, r.IntN(2) == 1)
						}
					}
				}
			}
		})
	})
}

// checkSmallT runs smallGemmT on an m×k A (layout 0: row-major, 1: column-major, 2: strided rows and
// columns, 3: a row-major block of a wider matrix) and a k×n B with contiguous columns (ldb = k+2),
// in overwrite mode (C garbage) or accumulate mode, and checks C against a float64 reference.
func checkSmallT(t *testing.T, level string, r *rand.Rand, m, n, k, layout, ldc int, acc bool) {
	t.Helper()
	a := make([]float32, 3+2*m*(k+1)*2)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	am := matrix{data: a, off: 3, rs: k, cs: 1}
	switch layout {
	case 1:
		am = matrix{data: a, off: 3, rs: 1, cs: m}
	case 2:
		am = matrix{data: a, off: 3, rs: 2 * k, cs: 2}
	case 3:
		am = matrix{data: a, off: 3, rs: k + 5, cs: 1}
	}
	ldb := k + 2
	b := make([]float32, 5+(n-1)*ldb+k)
	for i := range b {
		b[i] = float32(r.NormFloat64())
	}
	bm := matrix{data: b, off: 5, rs: 1, cs: ldb}
	const guard = 37
	cfull := make([]float32, (m-1)*ldc+n+guard)
	if acc {
		for i := range cfull {
			cfull[i] = float32(r.NormFloat64())
		}
	} else {
		garbage(r, cfull)
	}
	c0 := append([]float32(nil), cfull...)
	smallGemmT(m, n, k, am, bm, cfull[:(m-1)*ldc+n], ldc, acc)
	for idx := range cfull {
		i, j := idx/ldc, idx%ldc
		if i >= m || j >= n {
			if math.Float32bits(cfull[idx]) != math.Float32bits(c0[idx]) {
				t.Fatalf("%s m=%d n=%d k=%d layout=%d ldc=%d acc=%v: c[%d] outside C was written", level, m, n, k, layout, ldc, acc, idx)
			}
			continue
		}
		want, mag := 0.0, 0.0
		if acc {
			want, mag = float64(c0[idx]), math.Abs(float64(c0[idx]))
		}
		for p := range k {
			x := float64(a[am.off+i*am.rs+p*am.cs]) * float64(b[bm.off+p+j*ldb])
			want += x
			mag += math.Abs(x)
		}
		if d := math.Abs(want - float64(cfull[idx])); !(d <= 1e-5*max(1, mag)) {
			t.Fatalf("%s m=%d n=%d k=%d layout=%d ldc=%d acc=%v: c[%d,%d] = %g, want %g", level, m, n, k, layout, ldc, acc, i, j, cfull[idx], want)
		}
	}
}

// TestAxpyRows checks axpyRows at every SIMD level for lengths around the vector widths, and its
// one-row form y += alpha·x exactly.
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
				axpyRows(y2, x[:n], 0, []float32{0.5}, 0, 1)
				for j := range y2 {
					if y2[j] != 1.5*x[j] {
						t.Fatalf("%s one-row axpyRows n=%d: y[%d] = %g, want %g", level, n, j, y2[j], 1.5*x[j])
					}
				}
			}
		}
	})
}

// BenchmarkSmallGemmT times the few-row x·Wᵀ of a decode step (W row-major, so B's columns are
// contiguous) on one goroutine, per SIMD level: the stories15M LM head (k=288, n=32000) for a few m,
// and for m=16 its 288→768 and 768→288 projections. At the AVX-512 level, "avx512-dotT" forces the
// dotT16 kernels where smallGemmT16 would take the transposed-A kernel. GB/s counts one pass over W.
func BenchmarkSmallGemmT(b *testing.B) {
	type shape struct{ m, n, k int }
	shapes := []shape{{1, 32000, 288}, {4, 32000, 288}, {8, 32000, 288}, {12, 32000, 288}, {16, 32000, 288},
		{16, 768, 288}, {16, 288, 768}}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range shapes {
		m, n, k := s.m, s.n, s.k
		w := make([]float32, n*k)
		for i := range w {
			w[i] = r.Float32()
		}
		a := make([]float32, m*k)
		for i := range a {
			a[i] = r.Float32()
		}
		c := make([]float32, m*n)
		am, bm := matrix{data: a, rs: k, cs: 1}, matrix{data: w, rs: 1, cs: k}
		type variant struct {
			name  string
			level int
			atMin int
		}
		var variants []variant
		for _, l := range vecLevels() {
			if l == vecGo {
				continue
			}
			variants = append(variants, variant{vecLevelNames[l], l, 0})
			if l == vecAVX512 && useSmallTAT(m, n, k) {
				variants = append(variants, variant{vecLevelNames[l] + "-dotT", l, maxSmallM + 1})
			}
		}
		for _, v := range variants {
			b.Run(fmt.Sprintf("m%d_n%d_k%d/%s", m, n, k, v.name), func(b *testing.B) {
				saved, savedMin, savedMinS := vecLevel, smallTATMinM, smallTATMinMSmallB
				defer func() { vecLevel, smallTATMinM, smallTATMinMSmallB = saved, savedMin, savedMinS }()
				vecLevel = v.level
				if v.atMin > maxSmallM {
					smallTATMinM, smallTATMinMSmallB = v.atMin, v.atMin
				}
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

// TestPack checks packA and packB with the assembly packing against the Go packing, bit for bit,
// for row- and column-major operands, ragged last panels and depths around the 16-column blocks of
// packA14Asm; the panels start full of NaNs so that a missed element shows.
func TestPack(t *testing.T) {
	if !usePackAsm {
		t.Skip("no assembly packing on this CPU")
	}
	defer func(saved bool) { usePackAsm = saved }(usePackAsm)
	r := rand.New(rand.NewPCG(5, 8))
	nan := float32(math.NaN())
	for _, mr := range []int{14, 6, 16} {
		for _, k := range []int{1, 2, 15, 16, 17, 31, 32, 33, 48, 50, 64, 320, 344} {
			for _, m := range []int{1, mr - 1, mr, 2*mr + 3, 3 * mr} {
				for _, colMajor := range []bool{false, true} {
					ld := 7 + r.IntN(40)
					i0, p0 := r.IntN(5), r.IntN(5)
					rows, cols := i0+m, p0+k
					data := make([]float32, rows*cols+(ld+8)*(rows+cols))
					for i := range data {
						data[i] = float32(r.NormFloat64())
					}
					a := matrix{data: data, off: 3, rs: cols + ld%5, cs: 1}
					if colMajor {
						a = matrix{data: data, off: 3, rs: 1, cs: rows + ld%5}
					}
					panels := (m + mr - 1) / mr * mr * k
					want, got := make([]float32, panels+8), make([]float32, panels+8)
					for i := range want {
						want[i], got[i] = nan, nan
					}
					usePackAsm = false
					packA(want, a, i0, p0, m, k, mr)
					usePackAsm = true
					packA(got, a, i0, p0, m, k, mr)
					for i := range want {
						if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
							t.Fatalf("packA mr=%d k=%d m=%d colMajor=%v: [%d] = %g, want %g", mr, k, m, colMajor, i, got[i], want[i])
						}
					}
					// The same block read as B (k×m), packed into nr=mr·2 panels, rows contiguous
					// when A's are.
					nr := 2 * mr
					b := matrix{data: data, off: a.off, rs: a.cs, cs: a.rs}
					panels = (m + nr - 1) / nr * nr * k
					want, got = make([]float32, panels+8), make([]float32, panels+8)
					for i := range want {
						want[i], got[i] = nan, nan
					}
					usePackAsm = false
					packB(want, b, p0, i0, k, m, nr)
					usePackAsm = true
					packB(got, b, p0, i0, k, m, nr)
					for i := range want {
						if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
							t.Fatalf("packB nr=%d k=%d n=%d rowMajor=%v: [%d] = %g, want %g", nr, k, m, !colMajor, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestPackBCols checks packB on a B with contiguous columns (b.rs == 1, the transposed operand),
// which the AVX-512 kernel packs sixteen columns at a time, bit for bit against the Go packing: NaN
// destinations with a guard past the panels, k=1 and k around multiples of 16, ragged last panels,
// and strided views (offsets into B, column stride wider than k).
func TestPackBCols(t *testing.T) {
	if !usePackAsm {
		t.Skip("no assembly packing on this CPU")
	}
	defer func(saved bool) { usePackAsm = saved }(usePackAsm)
	r := rand.New(rand.NewPCG(9, 2))
	nan := float32(math.NaN())
	for _, nr := range []int{32, 16} {
		for _, k := range []int{1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 64, 100, 128, 320, 344} {
			for _, n := range []int{1, 7, 8, 15, 16, 17, 23, 24, 31, 32, 33, 40, 48, 63, 64, 70} {
				for _, pad := range []int{0, 1, 13} {
					p0, j0 := r.IntN(4), r.IntN(4)
					cs := p0 + k + pad
					data := make([]float32, 5+(j0+n)*cs+8)
					for i := range data {
						data[i] = float32(r.NormFloat64())
					}
					b := matrix{data: data, off: 5, rs: 1, cs: cs}
					panels := (n + nr - 1) / nr * nr * k
					want, got := make([]float32, panels+40), make([]float32, panels+40)
					for i := range want {
						want[i], got[i] = nan, nan
					}
					usePackAsm = false
					packB(want, b, p0, j0, k, n, nr)
					usePackAsm = true
					packB(got, b, p0, j0, k, n, nr)
					for i := range want {
						if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
							t.Fatalf("packB nr=%d k=%d n=%d cs=%d: [%d] = %g, want %g", nr, k, n, cs, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestSGEMMPackBitExact checks that the assembly packing changes no bit of sgemm's results: with
// each kernel, C from the AVX-512 packers must equal C from the Go packers exactly, for every
// layout of A and B and shapes like the d128 model's (ragged panels, k not a multiple of 16).
func TestSGEMMPackBitExact(t *testing.T) {
	if !usePackAsm {
		t.Skip("no assembly packing on this CPU")
	}
	sizes := [][3]int{{512, 344, 128}, {128, 344, 512}, {344, 128, 512}, {128, 512, 64}, {64, 128, 512},
		{29, 70, 33}, {43, 24, 17}, {57, 48, 1}, {30, 40, 345}}
	for _, g := range gemmKernels {
		withKernel(g, func() {
			r := rand.New(rand.NewPCG(3, 4))
			for _, s := range sizes {
				m, n, k := s[0], s[1], s[2]
				a, b := make([]float32, m*k+3), make([]float32, k*n+5)
				for i := range a {
					a[i] = float32(r.NormFloat64())
				}
				for i := range b {
					b[i] = float32(r.NormFloat64())
				}
				for _, trans := range [][2]bool{{false, false}, {true, true}, {false, true}, {true, false}} {
					am, bm := matrix{data: a, off: 3, rs: k, cs: 1}, matrix{data: b, off: 5, rs: n, cs: 1}
					if trans[0] {
						am = matrix{data: a, off: 3, rs: 1, cs: m}
					}
					if trans[1] {
						bm = matrix{data: b, off: 5, rs: 1, cs: k}
					}
					want, got := make([]float32, m*n), make([]float32, m*n)
					usePackAsm = false
					g.gemm(m, n, k, am, bm, want, n, false)
					usePackAsm = true
					g.gemm(m, n, k, am, bm, got, n, false)
					for i := range want {
						if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
							t.Fatalf("%s %dx%dx%d trans=%v: c[%d] = %g with the assembly packing, %g without", g.name, m, n, k, trans, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// BenchmarkPackB packs a 256×n block of a B with contiguous columns (the transposed operand) into
// 32-wide panels, with the AVX-512 kernel and with the Go packing.
func BenchmarkPackB(b *testing.B) {
	hasAsm := usePackAsm
	defer func() { usePackAsm = hasAsm }()
	for _, n := range []int{128, 344} {
		k := 256
		data := make([]float32, n*k)
		for i := range data {
			data[i] = float32(i)
		}
		bm := matrix{data: data, rs: 1, cs: k}
		dst := make([]float32, (n+31)/32*32*k)
		for _, asm := range []bool{false, true} {
			if asm && !hasAsm {
				continue
			}
			b.Run(fmt.Sprintf("n=%d/asm=%v", n, asm), func(b *testing.B) {
				usePackAsm = asm
				for b.Loop() {
					packB(dst, bm, 0, 0, k, n, 32)
				}
				b.SetBytes(int64(4 * n * k))
			})
		}
	}
}
