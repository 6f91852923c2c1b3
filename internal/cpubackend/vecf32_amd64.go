//go:build amd64

package cpubackend

import "golang.org/x/sys/cpu"

// detectVecLevel picks the widest SIMD kernel set the CPU (and OS, via XCR0 in x/sys/cpu) supports.
func detectVecLevel() int {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return vecAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return vecAVX2
	}
	return vecGo
}

// Assembly kernels (vecf32_amd64.s). The 512 variants handle any n; the 256 variants only the
// first n &^ 7 elements.

//go:noescape
func addVV512(out, x, y *float32, n int)

//go:noescape
func subVV512(out, x, y *float32, n int)

//go:noescape
func mulVV512(out, x, y *float32, n int)

//go:noescape
func divVV512(out, x, y *float32, n int)

//go:noescape
func addXS512(out, x *float32, n int, c float32)

//go:noescape
func subXS512(out, x *float32, n int, c float32)

//go:noescape
func mulXS512(out, x *float32, n int, c float32)

//go:noescape
func divXS512(out, x *float32, n int, c float32)

//go:noescape
func subSX512(out, x *float32, n int, c float32)

//go:noescape
func divSX512(out, x *float32, n int, c float32)

//go:noescape
func addVV256(out, x, y *float32, n int)

//go:noescape
func subVV256(out, x, y *float32, n int)

//go:noescape
func mulVV256(out, x, y *float32, n int)

//go:noescape
func divVV256(out, x, y *float32, n int)

//go:noescape
func addXS256(out, x *float32, n int, c float32)

//go:noescape
func subXS256(out, x *float32, n int, c float32)

//go:noescape
func mulXS256(out, x *float32, n int, c float32)

//go:noescape
func divXS256(out, x *float32, n int, c float32)

//go:noescape
func subSX256(out, x *float32, n int, c float32)

//go:noescape
func divSX256(out, x *float32, n int, c float32)

//go:noescape
func sum512(x *float32, n int, acc *float32)

//go:noescape
func max512(x *float32, n int, acc *float32) (nan bool)

//go:noescape
func sum256(x *float32, n int, acc *float32)

//go:noescape
func max256(x *float32, n int, acc *float32) (nan bool)

//go:noescape
func exp512(out, x *float32, n int)

//go:noescape
func logistic512(out, x *float32, n int)

//go:noescape
func exp256(out, x *float32, n int)

//go:noescape
func logistic256(out, x *float32, n int)

// binaryVec computes out[i] = x[i] op y[i] for a prefix of out with SIMD and returns its length;
// len(x), len(y) == len(out) > 0.
func binaryVec(op vecOp, out, x, y []float32) int {
	n := len(out)
	o, a, b := &out[0], &x[0], &y[0]
	if vecLevel >= vecAVX512 {
		switch op {
		case vopAdd:
			addVV512(o, a, b, n)
		case vopSub:
			subVV512(o, a, b, n)
		case vopMul:
			mulVV512(o, a, b, n)
		case vopDiv:
			divVV512(o, a, b, n)
		default:
			return 0
		}
		return n
	}
	n8 := n &^ 7
	if n8 == 0 {
		return 0
	}
	switch op {
	case vopAdd:
		addVV256(o, a, b, n8)
	case vopSub:
		subVV256(o, a, b, n8)
	case vopMul:
		mulVV256(o, a, b, n8)
	case vopDiv:
		divVV256(o, a, b, n8)
	default:
		return 0
	}
	return n8
}

// scalarVec is binaryVec with a scalar operand: x op c for the plain ops, c op x for vopRsub and
// vopRdiv.
func scalarVec(op vecOp, out, x []float32, c float32) int {
	n := len(out)
	o, a := &out[0], &x[0]
	if vecLevel >= vecAVX512 {
		switch op {
		case vopAdd:
			addXS512(o, a, n, c)
		case vopSub:
			subXS512(o, a, n, c)
		case vopMul:
			mulXS512(o, a, n, c)
		case vopDiv:
			divXS512(o, a, n, c)
		case vopRsub:
			subSX512(o, a, n, c)
		case vopRdiv:
			divSX512(o, a, n, c)
		default:
			return 0
		}
		return n
	}
	n8 := n &^ 7
	if n8 == 0 {
		return 0
	}
	switch op {
	case vopAdd:
		addXS256(o, a, n8, c)
	case vopSub:
		subXS256(o, a, n8, c)
	case vopMul:
		mulXS256(o, a, n8, c)
	case vopDiv:
		divXS256(o, a, n8, c)
	case vopRsub:
		subSX256(o, a, n8, c)
	case vopRdiv:
		divSX256(o, a, n8, c)
	default:
		return 0
	}
	return n8
}

// sumVec returns the sum of a prefix of x (len(x) > 0) and the prefix length.
func sumVec(x []float32) (float32, int) {
	var acc [16]float32
	n := len(x)
	if vecLevel < vecAVX512 {
		n &^= 7
		if n == 0 {
			return 0, 0
		}
		sum256(&x[0], n, &acc[0])
	} else {
		sum512(&x[0], n, &acc[0])
	}
	// Pairwise fold of the lanes.
	for w := 8; w > 0; w >>= 1 {
		for i := range w {
			acc[i] += acc[i+w]
		}
	}
	return acc[0], n
}

// maxVec returns the maximum of a prefix of x (len(x) > 0), whether it holds a NaN, and the
// prefix length.
func maxVec(x []float32) (m float32, nan bool, n int) {
	var acc [16]float32
	n = len(x)
	if vecLevel < vecAVX512 {
		n &^= 7
		if n == 0 {
			return 0, false, 0
		}
		nan = max256(&x[0], n, &acc[0])
		m = maxLanes(acc[:8])
	} else {
		nan = max512(&x[0], n, &acc[0])
		m = maxLanes(acc[:])
	}
	return m, nan, n
}

func maxLanes(acc []float32) float32 {
	m := acc[0]
	for _, v := range acc[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

// expVec computes Exp or Logistic of x into out (same length, > 0) with SIMD; false if there is no
// SIMD kernel. An AVX2 tail shorter than 8 goes through a padded buffer so that every element gets
// the same (SIMD) rounding.
func expVec(op opKind, out, x []float32) bool {
	n := len(out)
	if vecLevel >= vecAVX512 {
		if op == kindLogistic {
			logistic512(&out[0], &x[0], n)
		} else {
			exp512(&out[0], &x[0], n)
		}
		return true
	}
	kernel := exp256
	if op == kindLogistic {
		kernel = logistic256
	}
	n8 := n &^ 7
	if n8 > 0 {
		kernel(&out[0], &x[0], n8)
	}
	if n8 < n {
		var buf [8]float32
		copy(buf[:], x[n8:])
		kernel(&buf[0], &buf[0], 8)
		copy(out[n8:], buf[:n-n8])
	}
	return true
}
