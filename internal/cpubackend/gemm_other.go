//go:build !amd64

package cpubackend

var hasFMA = false // no assembly kernel on this architecture

func dotKernel(k int, a []float32, lda int, b []float32, ldb int, out *[8]float32) {
	dotKernelGo(k, a, lda, b, ldb, out)
}

func hasDotT16() bool { return false }

func dotT16(rows, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pfd int) {
	panic("dotT16: no kernel on this architecture")
}

func hasSmallTAT() bool { return false }

func atKernel(k int, at, b []float32, ldb int, c []float32, ldc, nblk, rows, mask int, acc bool, pfd int) {
	panic("atKernel: no kernel on this architecture")
}

func atPack(dst, a []float32, lda, k, rows int) { panic("atPack: no kernel on this architecture") }

func axpyRows(y []float32, x []float32, ldx int, a []float32, lda, k int) {
	axpyRowsGo(y, x, ldx, a, lda, k)
}

var usePackAsm = false

func packStrided(dst, data []float32, src, lds, ld, k, rows int) bool { return false }

func packRows(dst, data []float32, src, lds, nr, k, cols int) bool { return false }

func packA14Asm(panel, data []float32, src, ld, k int) int { return 0 }

func packCols16(panel []float32, j, nr int, data []float32, src, ld, k int) bool { return false }
