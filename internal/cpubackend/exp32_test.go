package cpubackend

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExp32MatchesMathExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(x float32) {
		got, want := float64(exp32(x)), math.Exp(float64(x))
		if w32 := float64(float32(want)); w32 == 0 || math.IsInf(w32, 0) {
			want = w32
			if float32(want) != float32(got) && !(want < 1e-37 && got < 1e-37) {
				t.Fatalf("exp32(%g) = %g, want %g", x, got, want)
			}
			return
		}
		if want < 1.2e-38 { // subnormal float32: absolute error
			if math.Abs(got-want) > 2e-45 {
				t.Fatalf("exp32(%g) = %g, want %g", x, got, want)
			}
			return
		}
		if rel := math.Abs(got-want) / want; rel > 3e-7 {
			t.Fatalf("exp32(%g) = %g, want %g (relative error %.3g)", x, got, want, rel)
		}
	}
	for range 200000 {
		check(float32(rng.Float64()*200 - 100))
	}
	for _, x := range []float32{0, -0, 1, -1, 88.7, 88.72283, 88.73, -87.3, -103, -104, -1e9, 1e9, 1e-9, -1e-9} {
		check(x)
	}
	if v := exp32(float32(math.NaN())); v == v {
		t.Fatalf("exp32(NaN) = %g", v)
	}
}

func BenchmarkExp32(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200) - 100
	}
	out := make([]float32, len(x))
	b.ResetTimer()
	for range b.N {
		unaryExp32(kindExp, x, out)
	}
}
