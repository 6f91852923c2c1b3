package cpubackend

import (
	"fmt"
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

// expErr returns a description of why got is not an acceptable float32 e^x, or "". Normal results
// need a relative error below 3e-7; subnormal ones an absolute error below one subnormal ulp
// (1.4e-45) plus 3e-7 relative, i.e. the rounding of a value that is within the relative bound.
func expErr(x, got float32) string {
	want := math.Exp(float64(x))
	if x != x {
		if got == got {
			return "want NaN"
		}
		return ""
	}
	if w32 := float32(want); w32 == 0 || math.IsInf(float64(w32), 0) {
		if got != w32 && !(want < 1e-37 && float64(got) < 1e-37 && got >= 0) {
			return fmt.Sprintf("want %g", w32)
		}
		return ""
	}
	if want < 1.1754944e-38 {
		if math.Abs(float64(got)-want) > 1.4e-45+3e-7*want {
			return fmt.Sprintf("want %g (subnormal)", want)
		}
		return ""
	}
	if rel := math.Abs(float64(got)-want) / want; rel > 3e-7 {
		return fmt.Sprintf("want %g (relative error %.3g)", want, rel)
	}
	return ""
}

// logisticErr is expErr for 1/(1+e^-x): relative error below 6e-7 (e^-x's error plus two
// roundings); for subnormal results one subnormal ulp plus 6e-7 relative.
func logisticErr(x, got float32) string {
	if x != x {
		if got == got {
			return "want NaN"
		}
		return ""
	}
	xd := float64(x)
	var want float64
	if xd >= 0 {
		want = 1 / (1 + math.Exp(-xd))
	} else {
		e := math.Exp(xd)
		want = e / (1 + e)
	}
	if got < 0 || got > 1 {
		return fmt.Sprintf("want %g (out of [0, 1])", want)
	}
	if want < 1.1754944e-38 {
		if math.Abs(float64(got)-want) > 1.4e-45+6e-7*want {
			return fmt.Sprintf("want %g (subnormal)", want)
		}
		return ""
	}
	if rel := math.Abs(float64(got)-want) / want; rel > 6e-7 {
		return fmt.Sprintf("want %g (relative error %.3g)", want, rel)
	}
	return ""
}

// expTestInputs: a dense random sweep of [-110, 95], the edges of the range, specials.
func expTestInputs(rng *rand.Rand) []float32 {
	var x []float32
	for range 100000 {
		x = append(x, float32(rng.Float64()*205-110))
	}
	for range 20000 { // small arguments, down to the subnormal ones
		x = append(x, float32(rng.NormFloat64()*math.Pow(10, -rng.Float64()*40)))
	}
	for range 30000 { // the subnormal-result and overflow edges
		x = append(x, float32(-87.3-rng.Float64()*17), float32(88.5+rng.Float64()*0.3))
	}
	edges := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 88.7, 88.72283, math.Nextafter32(88.72283, 100),
		88.73, -87.33654, -87.3, -100, -103, -103.97208, math.Nextafter32(-103.97208, -200), -104,
		-1e9, 1e9, 1e-9, -1e-9, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), -float32(math.NaN())}
	return append(x, edges...)
}

func TestUnaryExp32Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	x := expTestInputs(rng)
	forEachVecLevel(t, func(level string) {
		for _, op := range []opKind{kindExp, kindLogistic} {
			name, errf := "exp", expErr
			if op == kindLogistic {
				name, errf = "logistic", logisticErr
			}
			out := make([]float32, len(x))
			unaryExp32(op, x, out)
			for i, v := range x {
				if msg := errf(v, out[i]); msg != "" {
					t.Fatalf("%s: %s(%g) = %g, %s", level, name, v, out[i], msg)
				}
			}
			// Every length up to 70 (all tails) and exact aliasing give the same values.
			for n := range 71 {
				off := rng.IntN(len(x) - n)
				in := x[off : off+n]
				got := make([]float32, n+1)
				got[n] = 42
				unaryExp32(op, in, got[:n])
				alias := append([]float32(nil), in...)
				unaryExp32(op, alias, alias)
				for i := range n {
					if !sameF32(got[i], out[off+i]) || !sameF32(alias[i], out[off+i]) {
						t.Fatalf("%s: %s n=%d [%d] (x=%g): %g, aliased %g, want %g", level, name, n, i, in[i], got[i], alias[i], out[off+i])
					}
				}
				if got[n] != 42 {
					t.Fatalf("%s: %s n=%d wrote past the end", level, name, n)
				}
			}
		}
	})
}

// Logistic at the extremes: exactly 0, 1/2 and 1 where float32 rounds to them, never NaN.
func TestUnaryLogistic32Extremes(t *testing.T) {
	x := []float32{float32(math.Inf(-1)), -1e30, -200, 0, float32(math.Copysign(0, -1)), 200, 1e30, float32(math.Inf(1))}
	want := []float32{0, 0, 0, 0.5, 0.5, 1, 1, 1}
	forEachVecLevel(t, func(level string) {
		out := make([]float32, len(x))
		unaryExp32(kindLogistic, x, out)
		for i := range x {
			if out[i] != want[i] {
				t.Fatalf("%s: logistic(%g) = %g, want %g", level, x[i], out[i], want[i])
			}
		}
	})
}

func BenchmarkExpF32(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(1, 1))
	x, out := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(rng.Float64()*40 - 30)
	}
	forEachVecLevel(b, func(level string) {
		for _, op := range []opKind{kindExp, kindLogistic} {
			name := map[opKind]string{kindExp: "exp", kindLogistic: "logistic"}[op]
			b.Run(name+"/"+level, func(b *testing.B) {
				for b.Loop() {
					unaryExp32(op, x, out)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
			})
		}
	})
}
