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

// The kernels by op: vector⊙vector for vopAdd..vopDiv, vector⊙scalar for all six ops (vopRsub and
// vopRdiv put the scalar first), at each width.
var (
	vv512 = [...]func(out, x, y *float32, n int){vopAdd: addVV512, vopSub: subVV512, vopMul: mulVV512, vopDiv: divVV512}
	vv256 = [...]func(out, x, y *float32, n int){vopAdd: addVV256, vopSub: subVV256, vopMul: mulVV256, vopDiv: divVV256}
	xs512 = [...]func(out, x *float32, n int, c float32){vopAdd: addXS512, vopSub: subXS512, vopMul: mulXS512,
		vopDiv: divXS512, vopRsub: subSX512, vopRdiv: divSX512}
	xs256 = [...]func(out, x *float32, n int, c float32){vopAdd: addXS256, vopSub: subXS256, vopMul: mulXS256,
		vopDiv: divXS256, vopRsub: subSX256, vopRdiv: divSX256}
)

// binaryVec computes out[i] = x[i] op y[i] for a prefix of out with SIMD and returns its length;
// len(x), len(y) == len(out) > 0.
func binaryVec(op vecOp, out, x, y []float32) int {
	if int(op) >= len(vv512) {
		return 0
	}
	n := len(out)
	if vecLevel >= vecAVX512 {
		vv512[op](&out[0], &x[0], &y[0], n)
		return n
	}
	n8 := n &^ 7
	if n8 > 0 {
		vv256[op](&out[0], &x[0], &y[0], n8)
	}
	return n8
}

// scalarVec is binaryVec with a scalar operand: x op c for the plain ops, c op x for vopRsub and
// vopRdiv.
func scalarVec(op vecOp, out, x []float32, c float32) int {
	if int(op) >= len(xs512) {
		return 0
	}
	n := len(out)
	if vecLevel >= vecAVX512 {
		xs512[op](&out[0], &x[0], n, c)
		return n
	}
	n8 := n &^ 7
	if n8 > 0 {
		xs256[op](&out[0], &x[0], n8, c)
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
