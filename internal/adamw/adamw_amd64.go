//go:build amd64

package adamw

import "golang.org/x/sys/cpu"

// detectLevel picks the widest kernel set the CPU (and the OS, via XCR0 in x/sys/cpu) supports.
func detectLevel() int {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return levelAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return levelAVX2
	}
	return levelGo
}

// Assembly kernels (adamw_amd64.s). update512 handles any n >= 1 (masked tail); update256 only the
// first n &^ 7 elements. The sumSquares kernels process the first n &^ 31 elements and store the
// 32 lane sums to acc.

//go:noescape
func update512(p, grad, m1, m2 *float32, n int, k *kconsts)

//go:noescape
func update256(p, grad, m1, m2 *float32, n int, k *kconsts)

//go:noescape
func sumSquares512(grad *float32, n int, acc *[sumLanes]float64)

//go:noescape
func sumSquares256(grad *float32, n int, acc *[sumLanes]float64)

// updateVec updates a prefix of the slices (all of length n > 0) and returns its length.
func updateVec(p, g, m1, m2 []float32, k *kconsts) int {
	n := len(p)
	if level >= levelAVX512 {
		update512(&p[0], &g[0], &m1[0], &m2[0], n, k)
		return n
	}
	n8 := n &^ 7
	if n8 > 0 {
		update256(&p[0], &g[0], &m1[0], &m2[0], n8, k)
	}
	return n8
}

// sumSquaresVec sets acc to the lane sums of the first len(g) &^ 31 elements and returns that
// length.
func sumSquaresVec(g []float32, acc *[sumLanes]float64) int {
	n := len(g) &^ (sumLanes - 1)
	if n == 0 {
		return 0
	}
	if level >= levelAVX512 {
		sumSquares512(&g[0], n, acc)
	} else {
		sumSquares256(&g[0], n, acc)
	}
	return n
}
