package cpubackend

import "math"

// exp32 is e^x in float32 with a relative error below 3e-7 (about 2 ulp): Cody–Waite range reduction
// x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 Taylor polynomial for e^r, and 2^n put into the exponent
// bits. It is several times faster than float64 math.Exp, which dominated softmax-heavy graphs.
func exp32(x float32) float32 {
	switch {
	case x != x: // NaN
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	ni := int32(n)
	if ni < -126 { // subnormal result: scale in two steps
		return p * math.Float32frombits(uint32(ni+126+127)<<23) * math.Float32frombits(1<<23)
	}
	if ni > 127 {
		return p * math.Float32frombits(uint32(ni-1+127)<<23) * 2
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

// unaryExp32 computes Exp or Logistic of x into out (out may alias x exactly). With SIMD
// (vecLevel > vecGo, kernels in vecf32_amd64.s) it uses the same range reduction with a degree-7
// polynomial and FMA (measured max error about 1 ulp for Exp, 2.3 ulp for Logistic), so results can
// differ from exp32 by an ulp but stay within the same contract: relative error below 3e-7,
// +Inf above 88.72283, 0 below -103.97208, NaN propagated. Subnormal results are rounded once from
// the polynomial (VSCALEFPS on AVX-512, two exact-then-rounding power-of-two products on AVX2), so
// they are within about 0.75 subnormal ulp. Otherwise it loops over exp32.
func unaryExp32(op opKind, x, out []float32) {
	out = out[:len(x)]
	if vecLevel > vecGo && len(x) > 0 && (op == kindExp || op == kindLogistic) && expVec(op, out, x) {
		return
	}
	switch op {
	case kindExp:
		for i, v := range x {
			out[i] = exp32(v)
		}
	case kindLogistic:
		for i, v := range x {
			if v >= 0 {
				out[i] = 1 / (1 + exp32(-v))
			} else {
				e := exp32(v)
				out[i] = e / (1 + e)
			}
		}
	}
}

type opKind int

const (
	kindExp      opKind = 0
	kindLogistic opKind = 1
)
