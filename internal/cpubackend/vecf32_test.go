package cpubackend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// vecLevels lists the kernel levels this machine can run, lowest first.
func vecLevels() []int {
	levels := []int{vecGo}
	for l := vecAVX2; l <= detectVecLevel(); l++ {
		levels = append(levels, l)
	}
	return levels
}

var vecLevelNames = map[int]string{vecGo: "go", vecAVX2: "avx2", vecAVX512: "avx512"}

// forEachVecLevel runs f with vecLevel forced to each available level (not in parallel: vecLevel
// is a package global).
func forEachVecLevel(t testing.TB, f func(name string)) {
	saved := vecLevel
	defer func() { vecLevel = saved }()
	for _, l := range vecLevels() {
		vecLevel = l
		f(vecLevelNames[l])
	}
}

// vecTestLengths: every length up to 70 (all tail sizes of 8 and 16 lanes, with and without the
// 4x-unrolled loops) and a few large ones.
func vecTestLengths() []int {
	var ns []int
	for n := range 71 {
		ns = append(ns, n)
	}
	return append(ns, 127, 128, 129, 1000, 4099)
}

var vecSpecials = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
	math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
	1e-38, 1e30, -1e30, 1, -1,
}

// randVec returns n random floats of mixed magnitudes with some special values sprinkled in.
func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch rng.IntN(10) {
		case 0:
			x[i] = vecSpecials[rng.IntN(len(vecSpecials))]
		case 1:
			x[i] = float32(rng.NormFloat64() * 1e20)
		default:
			x[i] = float32(rng.NormFloat64() * 10)
		}
	}
	return x
}

func sameF32(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func refBinary(op vecOp, a, b float32) float32 {
	switch op {
	case vopAdd:
		return a + b
	case vopSub:
		return a - b
	case vopMul:
		return a * b
	case vopDiv:
		return a / b
	case vopRsub:
		return b - a
	case vopRdiv:
		return b / a
	}
	panic("bad op")
}

var vecBinaryFuncs = []struct {
	name string
	op   vecOp
	f    func(out, x, y []float32)
}{
	{"add", vopAdd, addF32}, {"sub", vopSub, subF32}, {"mul", vopMul, mulF32}, {"div", vopDiv, divF32},
}

var vecScalarFuncs = []struct {
	name string
	op   vecOp
	f    func(out, x []float32, c float32)
}{
	{"addScalar", vopAdd, addScalarF32}, {"subScalar", vopSub, subScalarF32},
	{"mulScalar", vopMul, mulScalarF32}, {"divScalar", vopDiv, divScalarF32},
	{"rsubScalar", vopRsub, rsubScalarF32}, {"rdivScalar", vopRdiv, rdivScalarF32},
}

func TestVecBinaryF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	forEachVecLevel(t, func(level string) {
		for _, fn := range vecBinaryFuncs {
			for _, n := range vecTestLengths() {
				x, y := randVec(rng, n), randVec(rng, n)
				want := make([]float32, n)
				for i := range want {
					want[i] = refBinary(fn.op, x[i], y[i])
				}
				check := func(what string, got []float32) {
					t.Helper()
					for i := range got {
						if !sameF32(got[i], want[i]) {
							t.Fatalf("%s/%s n=%d %s: [%d] %g op %g = %g, want %g", level, fn.name, n, what, i, x[i], y[i], got[i], want[i])
						}
					}
				}
				out := make([]float32, n+1)
				out[n] = 42
				fn.f(out[:n], x, y)
				check("out", out[:n])
				if out[n] != 42 {
					t.Fatalf("%s/%s n=%d wrote past the end", level, fn.name, n)
				}
				// Exact aliasing: out = x, out = y, out = x = y.
				ax := append([]float32(nil), x...)
				fn.f(ax, ax, y)
				check("out=x", ax)
				ay := append([]float32(nil), y...)
				fn.f(ay, x, ay)
				check("out=y", ay)
				axx := append([]float32(nil), x...)
				fn.f(axx, axx, axx)
				for i := range axx {
					if w := refBinary(fn.op, x[i], x[i]); !sameF32(axx[i], w) {
						t.Fatalf("%s/%s n=%d out=x=y: [%d] = %g, want %g", level, fn.name, n, i, axx[i], w)
					}
				}
				// Longer inputs than out are allowed.
				if n > 0 {
					fn.f(out[:n-1], x, y)
					check("short out", out[:n-1])
				}
			}
		}
	})
}

func TestVecScalarF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	consts := append([]float32{3.5, -0.1, 1e-40}, vecSpecials...)
	forEachVecLevel(t, func(level string) {
		for _, fn := range vecScalarFuncs {
			for _, n := range vecTestLengths() {
				x := randVec(rng, n)
				c := consts[rng.IntN(len(consts))]
				want := make([]float32, n)
				for i := range want {
					want[i] = refBinary(fn.op, x[i], c)
				}
				check := func(what string, got []float32) {
					t.Helper()
					for i := range want {
						if !sameF32(got[i], want[i]) {
							t.Fatalf("%s/%s n=%d c=%g %s: [%d] x=%g got %g, want %g", level, fn.name, n, c, what, i, x[i], got[i], want[i])
						}
					}
				}
				out := make([]float32, n+1)
				out[n] = 42
				fn.f(out[:n], x, c)
				check("out", out[:n])
				if out[n] != 42 {
					t.Fatalf("%s/%s n=%d wrote past the end", level, fn.name, n)
				}
				ax := append([]float32(nil), x...)
				fn.f(ax, ax, c)
				check("out=x", ax)
			}
		}
	})
}

func TestVecSumF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	forEachVecLevel(t, func(level string) {
		for _, n := range vecTestLengths() {
			x := make([]float32, n)
			var want, abs float64
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 100)
				want += float64(x[i])
				abs += math.Abs(float64(x[i]))
			}
			got := sumF32(x)
			if math.Abs(float64(got)-want) > 1e-6*abs+1e-6 {
				t.Fatalf("%s: sum n=%d = %g, want %g", level, n, got, want)
			}
			if n == 0 {
				continue
			}
			// Specials anywhere (including the tails) propagate.
			for _, pos := range []int{0, n / 2, n - 1} {
				y := append([]float32(nil), x...)
				y[pos] = float32(math.Inf(1))
				if g := sumF32(y); !math.IsInf(float64(g), 1) {
					t.Fatalf("%s: sum n=%d with +Inf at %d = %g", level, n, pos, g)
				}
				y[pos] = float32(math.NaN())
				if g := sumF32(y); g == g {
					t.Fatalf("%s: sum n=%d with NaN at %d = %g", level, n, pos, g)
				}
				if pos != n-1 {
					y[pos], y[n-1] = float32(math.Inf(1)), float32(math.Inf(-1))
					if g := sumF32(y); g == g {
						t.Fatalf("%s: sum n=%d with +Inf and -Inf = %g", level, n, g)
					}
				}
			}
		}
	})
}

func TestVecMaxF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	forEachVecLevel(t, func(level string) {
		for _, n := range vecTestLengths() {
			x := make([]float32, n)
			want := float32(math.Inf(-1))
			for i := range x {
				x[i] = float32(rng.NormFloat64()*100 - 300)
				want = max(want, x[i])
			}
			if got := maxF32(x); got != want {
				t.Fatalf("%s: max n=%d = %g, want %g", level, n, got, want)
			}
			for pos := range n {
				if n > 40 && pos%7 != 0 && pos < n-16 {
					continue
				}
				y := append([]float32(nil), x...)
				y[pos] = float32(math.NaN())
				if g := maxF32(y); g == g {
					t.Fatalf("%s: max n=%d with NaN at %d = %g", level, n, pos, g)
				}
				y[pos] = float32(math.Inf(1))
				if g := maxF32(y); !math.IsInf(float64(g), 1) {
					t.Fatalf("%s: max n=%d with +Inf at %d = %g", level, n, pos, g)
				}
				y[pos] = 1e30
				if g := maxF32(y); g != 1e30 {
					t.Fatalf("%s: max n=%d with 1e30 at %d = %g", level, n, pos, g)
				}
			}
			if n > 0 {
				y := make([]float32, n)
				for i := range y {
					y[i] = float32(math.Inf(-1))
				}
				if g := maxF32(y); !math.IsInf(float64(g), -1) {
					t.Fatalf("%s: max of -Inf n=%d = %g", level, n, g)
				}
			}
		}
	})
}

// BenchmarkAddF32: 1<<20 elements (12 MiB of traffic per call, memory-bound) and 1<<14 (fits in L2).
func BenchmarkAddF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1 << 20, 1 << 14} {
		x, y, out := randVec(rng, n), randVec(rng, n), make([]float32, n)
		forEachVecLevel(b, func(level string) {
			b.Run(fmt.Sprintf("n=%d/%s", n, level), func(b *testing.B) {
				b.SetBytes(int64(3 * 4 * n))
				for b.Loop() {
					addF32(out, x, y)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
			})
		})
	}
}

func BenchmarkSumF32(b *testing.B) {
	const n = 32000
	x := randVec(rand.New(rand.NewPCG(1, 1)), n)
	forEachVecLevel(b, func(level string) {
		b.Run(level, func(b *testing.B) {
			for b.Loop() {
				sumF32(x)
				maxF32(x)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
	})
}
