package cpubackend

import "math"

// SIMD kernel levels for the float32 element-wise kernels below and for unaryExp32.
const (
	vecGo     = 0 // plain Go loops
	vecAVX2   = 1 // AVX2 + FMA, 8 lanes
	vecAVX512 = 2 // AVX-512F (+ AVX2/FMA), 16 lanes
)

// vecLevel is the kernel level in use, chosen at init from the CPU features (always vecGo off
// amd64). Tests lower it to exercise every path; it must not be changed while kernels run.
var vecLevel = detectVecLevel()

// vecOp names the element-wise operations of the SIMD kernels.
type vecOp int

const (
	vopAdd  vecOp = 0
	vopSub  vecOp = 1 // x - y, or x - c
	vopMul  vecOp = 2
	vopDiv  vecOp = 3 // x / y, or x / c
	vopRsub vecOp = 4 // c - x
	vopRdiv vecOp = 5 // c / x
)

// addF32 sets out[i] = x[i] + y[i] for i < len(out); x and y must be at least as long as out and
// may alias out exactly (not partially). Results are bit-identical to the Go loop.
func addF32(out, x, y []float32) { binaryF32(vopAdd, out, x, y) }

// subF32 sets out[i] = x[i] - y[i]; see addF32.
func subF32(out, x, y []float32) { binaryF32(vopSub, out, x, y) }

// mulF32 sets out[i] = x[i] * y[i]; see addF32.
func mulF32(out, x, y []float32) { binaryF32(vopMul, out, x, y) }

// divF32 sets out[i] = x[i] / y[i]; see addF32.
func divF32(out, x, y []float32) { binaryF32(vopDiv, out, x, y) }

// addScalarF32 sets out[i] = x[i] + c for i < len(out); x may alias out exactly.
func addScalarF32(out, x []float32, c float32) { scalarF32(vopAdd, out, x, c) }

// mulScalarF32 sets out[i] = x[i] * c; see addScalarF32.
func mulScalarF32(out, x []float32, c float32) { scalarF32(vopMul, out, x, c) }

// subScalarF32 sets out[i] = x[i] - c; see addScalarF32.
func subScalarF32(out, x []float32, c float32) { scalarF32(vopSub, out, x, c) }

// rsubScalarF32 sets out[i] = c - x[i]; see addScalarF32.
func rsubScalarF32(out, x []float32, c float32) { scalarF32(vopRsub, out, x, c) }

// divScalarF32 sets out[i] = x[i] / c (a true division, not a multiplication by 1/c); see
// addScalarF32.
func divScalarF32(out, x []float32, c float32) { scalarF32(vopDiv, out, x, c) }

// rdivScalarF32 sets out[i] = c / x[i]; see addScalarF32.
func rdivScalarF32(out, x []float32, c float32) { scalarF32(vopRdiv, out, x, c) }

func binaryF32(op vecOp, out, x, y []float32) {
	x, y = x[:len(out)], y[:len(out)]
	i := 0
	if vecLevel > vecGo && len(out) > 0 {
		i = binaryVec(op, out, x, y)
	}
	binaryF32Go(op, out[i:], x[i:], y[i:])
}

// binaryF32Go is the portable loop (and the tail of the SIMD paths).
func binaryF32Go(op vecOp, out, x, y []float32) {
	x, y = x[:len(out)], y[:len(out)]
	switch op {
	case vopAdd:
		for i := range out {
			out[i] = x[i] + y[i]
		}
	case vopSub:
		for i := range out {
			out[i] = x[i] - y[i]
		}
	case vopMul:
		for i := range out {
			out[i] = x[i] * y[i]
		}
	case vopDiv:
		for i := range out {
			out[i] = x[i] / y[i]
		}
	default:
		panic("cpubackend: bad vecOp")
	}
}

func scalarF32(op vecOp, out, x []float32, c float32) {
	x = x[:len(out)]
	i := 0
	if vecLevel > vecGo && len(out) > 0 {
		i = scalarVec(op, out, x, c)
	}
	scalarF32Go(op, out[i:], x[i:], c)
}

// scalarF32Go is the portable loop (and the tail of the SIMD paths).
func scalarF32Go(op vecOp, out, x []float32, c float32) {
	x = x[:len(out)]
	switch op {
	case vopAdd:
		for i := range out {
			out[i] = x[i] + c
		}
	case vopSub:
		for i := range out {
			out[i] = x[i] - c
		}
	case vopMul:
		for i := range out {
			out[i] = x[i] * c
		}
	case vopDiv:
		for i := range out {
			out[i] = x[i] / c
		}
	case vopRsub:
		for i := range out {
			out[i] = c - x[i]
		}
	case vopRdiv:
		for i := range out {
			out[i] = c / x[i]
		}
	default:
		panic("cpubackend: bad vecOp")
	}
}

// sumF32 returns the sum of x (0 for an empty slice). The SIMD paths add in a different order
// (lane-wise partial sums), so the result may differ from a sequential sum by reassociation.
func sumF32(x []float32) float32 {
	var s float32
	i := 0
	if vecLevel > vecGo && len(x) > 0 {
		s, i = sumVec(x)
	}
	for _, v := range x[i:] {
		s += v
	}
	return s
}

// maxF32 returns the maximum of x: -Inf for an empty slice, NaN if any element is NaN (as XLA's
// max). Between -0 and +0 either may be returned.
func maxF32(x []float32) float32 {
	m := float32(math.Inf(-1))
	i := 0
	if vecLevel > vecGo && len(x) > 0 {
		var nan bool
		var vm float32
		vm, nan, i = maxVec(x)
		if nan {
			return float32(math.NaN())
		}
		if i > 0 {
			m = vm
		}
	}
	for _, v := range x[i:] {
		if v != v {
			return v
		}
		if v > m {
			m = v
		}
	}
	return m
}
