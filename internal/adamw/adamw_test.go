package adamw

import (
	"math"
	"math/rand/v2"
	"testing"
)

// levels returns the kernel levels this CPU can run, lowest first.
func levels() []int {
	var ls []int
	for l := levelGo; l <= detectLevel(); l++ {
		ls = append(ls, l)
	}
	return ls
}

var levelNames = [...]string{levelGo: "go", levelAVX2: "avx2", levelAVX512: "avx512"}

// forceLevel runs f with the kernel level forced to l.
func forceLevel(tb testing.TB, l int, f func()) {
	tb.Helper()
	saved := level
	level = l
	defer func() { level = saved }()
	f()
}

// refUpdate is the scalar reference: the loop lora's optimizer ran, with explicit float32
// conversions so that no compiler may fuse a multiply and an add.
func refUpdate(p, g, m1, m2 []float32, h Hyper) {
	b1, b2 := h.B1, h.B2
	for j := range p {
		gj := g[j] * h.Clip
		m1[j] = float32(b1*m1[j]) + float32((1-b1)*gj)
		m2[j] = float32(b2*m2[j]) + float32(float32((1-b2)*gj)*gj)
		den := float32(float32(math.Sqrt(float64(m2[j])))/h.SqrtBc2) + h.Eps
		p[j] = float32(p[j]*h.Decay) - float32(h.StepSize*m1[j])/den
	}
}

// refSumSquares is the sequential float64 sum of squares.
func refSumSquares(g []float32) float64 {
	var s float64
	for _, v := range g {
		s += float64(v) * float64(v)
	}
	return s
}

func randHyper(r *rand.Rand) Hyper {
	t := float64(1 + r.IntN(1000))
	b1, b2 := 0.8+0.19*r.Float64(), 0.9+0.0999*r.Float64()
	lr := math.Pow(10, -5+3*r.Float64())
	clip := 1.0
	if r.IntN(2) == 0 {
		clip = r.Float64()
	}
	return Hyper{
		B1: float32(b1), B2: float32(b2), Clip: float32(clip),
		Decay:    float32(1 - lr*0.1*r.Float64()),
		StepSize: float32(lr / (1 - math.Pow(b1, t))),
		SqrtBc2:  float32(math.Sqrt(1 - math.Pow(b2, t))),
		Eps:      float32(math.Pow(10, -8-2*r.Float64())),
	}
}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * scale * math.Pow(10, 2*r.Float64()-1))
	}
	return s
}

// sameBits reports whether a and b are identical, treating all NaNs as equal.
func sameBits(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// checkUpdate runs Update at every level on copies of the inputs and compares with refUpdate.
func checkUpdate(t *testing.T, p, g, m1, m2 []float32, h Hyper) {
	t.Helper()
	n := len(p)
	wp, wm1, wm2 := append([]float32(nil), p...), append([]float32(nil), m1...), append([]float32(nil), m2...)
	refUpdate(wp, g, wm1, wm2, h)
	for _, l := range levels() {
		gp, gm1, gm2 := append([]float32(nil), p...), append([]float32(nil), m1...), append([]float32(nil), m2...)
		gg := append([]float32(nil), g...)
		forceLevel(t, l, func() { Update(gp, gg, gm1, gm2, h) })
		for j := range n {
			if !sameBits(gp[j], wp[j]) || !sameBits(gm1[j], wm1[j]) || !sameBits(gm2[j], wm2[j]) {
				t.Fatalf("%s n=%d j=%d (g=%g p=%g m1=%g m2=%g, %+v): got p=%g m1=%g m2=%g, want p=%g m1=%g m2=%g",
					levelNames[l], n, j, g[j], p[j], m1[j], m2[j], h, gp[j], gm1[j], gm2[j], wp[j], wm1[j], wm2[j])
			}
		}
		for j := range n {
			if math.Float32bits(gg[j]) != math.Float32bits(g[j]) {
				t.Fatalf("%s n=%d: g[%d] modified", levelNames[l], n, j)
			}
		}
	}
}

func TestUpdateRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := []int{}
	for n := range 71 {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 127, 128, 129, 1000, 1<<16+13)
	for _, n := range sizes {
		for range 3 {
			h := randHyper(r)
			checkUpdate(t, randSlice(r, n, 0.1), randSlice(r, n, 0.01), randSlice(r, n, 0.001),
				func() []float32 {
					s := randSlice(r, n, 1e-3)
					for i := range s {
						s[i] *= s[i]
					}
					return s
				}(), h)
		}
	}
}

// TestUpdateFirstStep covers zero moments (the first step) and the default hyperparameters.
func TestUpdateFirstStep(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 333
	h := Hyper{B1: 0.9, B2: 0.999, Clip: 1, Decay: float32(1 - 1e-3*0.01), StepSize: float32(1e-3 / (1 - 0.9)),
		SqrtBc2: float32(math.Sqrt(1 - 0.999)), Eps: 1e-8}
	checkUpdate(t, randSlice(r, n, 0.1), randSlice(r, n, 0.01), make([]float32, n), make([]float32, n), h)
}

func TestUpdateSpecialValues(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-40, -3e-39, 1.1754942e-38, 1e-20, 1e-19,
		1e19, -1e19, 1e30, 3e38, math.MaxFloat32, -math.MaxFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	r := rand.New(rand.NewPCG(5, 6))
	hs := []Hyper{
		{B1: 0.9, B2: 0.999, Clip: 1, Decay: 0.9999, StepSize: 0.01, SqrtBc2: 0.0316, Eps: 1e-8},
		{B1: 0.9, B2: 0.999, Clip: 0.37, Decay: 1, StepSize: 3e-4, SqrtBc2: 1, Eps: 0},
		{B1: 0, B2: 0, Clip: 1e-30, Decay: 0.5, StepSize: 1, SqrtBc2: 1e-3, Eps: math.SmallestNonzeroFloat32},
	}
	for _, h := range hs {
		for _, n := range []int{len(specials), 7, 16, 17, 100} {
			p, g, m1, m2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for j := range n {
				pick := func() float32 {
					if r.IntN(3) == 0 {
						return float32(r.NormFloat64())
					}
					return specials[r.IntN(len(specials))]
				}
				p[j], g[j], m1[j] = pick(), pick(), pick()
				m2[j] = float32(math.Abs(float64(pick())))
				if n == len(specials) {
					g[j] = specials[j]
				}
			}
			checkUpdate(t, p, g, m1, m2, h)
		}
	}
	// Subnormal and tiny gradients with ordinary state everywhere else.
	for _, h := range hs {
		n := 200
		g := make([]float32, n)
		for j := range g {
			g[j] = math.Float32frombits(uint32(r.IntN(1 << 23)))
			if j%2 == 1 {
				g[j] = -g[j]
			}
		}
		checkUpdate(t, randSlice(r, n, 1), g, randSlice(r, n, 1e-30), make([]float32, n), h)
	}
}

func TestUpdateLengthMismatch(t *testing.T) {
	for _, l := range levels() {
		forceLevel(t, l, func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic for mismatched lengths", levelNames[l])
				}
			}()
			Update(make([]float32, 4), make([]float32, 4), make([]float32, 3), make([]float32, 4), Hyper{})
		})
	}
}

// lanesSumSquares evaluates the documented structure of SumSquares directly.
func lanesSumSquares(g []float32) float64 {
	var acc [32]float64
	for j, v := range g {
		acc[j%32] += float64(v) * float64(v)
	}
	for w := 16; w > 0; w >>= 1 {
		for i := range w {
			acc[i] += acc[i+w]
		}
	}
	return acc[0]
}

func TestSumSquares(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	sizes := []int{}
	for n := range 100 {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 1000, 4097, 1<<16+13, 1<<20)
	for _, n := range sizes {
		g := randSlice(r, n, 0.01)
		if n > 10 {
			g[3], g[5], g[7] = 1e-40, -3e38, 0
		}
		want := lanesSumSquares(g)
		seq := refSumSquares(g)
		if d := math.Abs(want - seq); d > 1e-12*seq {
			t.Errorf("n=%d: lane sum %g differs from the sequential sum %g by %g relative", n, want, seq, d/seq)
		}
		for _, l := range levels() {
			var got, again float64
			forceLevel(t, l, func() {
				got = SumSquares(g)
				again = SumSquares(g)
			})
			if math.Float64bits(got) != math.Float64bits(want) || math.Float64bits(again) != math.Float64bits(got) {
				t.Errorf("%s n=%d: SumSquares = %v then %v, want %v (bit for bit)", levelNames[l], n, got, again, want)
			}
		}
	}
	for _, l := range levels() {
		forceLevel(t, l, func() {
			if s := SumSquares([]float32{float32(math.Inf(-1)), 1}); !math.IsInf(s, 1) {
				t.Errorf("%s: SumSquares(-Inf, 1) = %v", levelNames[l], s)
			}
			if s := SumSquares(nil); s != 0 {
				t.Errorf("%s: SumSquares(nil) = %v", levelNames[l], s)
			}
		})
	}
}

const benchN = 1 << 20

func benchInputs() (p, g, m1, m2 []float32, h Hyper) {
	r := rand.New(rand.NewPCG(9, 10))
	p, g, m1, m2 = randSlice(r, benchN, 0.1), randSlice(r, benchN, 0.01), randSlice(r, benchN, 1e-3), randSlice(r, benchN, 1e-3)
	for i := range m2 {
		m2[i] *= m2[i]
	}
	return p, g, m1, m2, Hyper{B1: 0.9, B2: 0.999, Clip: 0.5, Decay: 0.99999, StepSize: 1e-3, SqrtBc2: 0.1, Eps: 1e-8}
}

func reportPerElement(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchN, "ns/element")
}

// BenchmarkUpdate times one update of 1<<20 elements: "scalar" is the loop lora ran before (with
// float64 square roots), the others the kernel levels.
func BenchmarkUpdate(b *testing.B) {
	p, g, m1, m2, h := benchInputs()
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			b1, b2 := h.B1, h.B2
			for j := range p {
				gj := g[j] * h.Clip
				m1[j] = b1*m1[j] + (1-b1)*gj
				m2[j] = b2*m2[j] + (1-b2)*gj*gj
				den := float32(math.Sqrt(float64(m2[j])))/h.SqrtBc2 + h.Eps
				p[j] = p[j]*h.Decay - h.StepSize*m1[j]/den
			}
		}
		reportPerElement(b)
	})
	for _, l := range levels() {
		b.Run(levelNames[l], func(b *testing.B) {
			forceLevel(b, l, func() {
				for b.Loop() {
					Update(p, g, m1, m2, h)
				}
			})
			reportPerElement(b)
		})
	}
}

// BenchmarkSumSquares times the sum of squares of 1<<20 elements: "scalar" is the sequential loop.
func BenchmarkSumSquares(b *testing.B) {
	_, g, _, _, _ := benchInputs()
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			sink += refSumSquares(g)
		}
		reportPerElement(b)
	})
	for _, l := range levels() {
		b.Run(levelNames[l], func(b *testing.B) {
			forceLevel(b, l, func() {
				for b.Loop() {
					sink += SumSquares(g)
				}
			})
			reportPerElement(b)
		})
	}
}

// sink keeps the benchmarked sums alive.
var sink float64
