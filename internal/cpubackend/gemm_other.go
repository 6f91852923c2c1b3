//go:build !amd64

package cpubackend

var hasFMA = false // no assembly kernel on this architecture

func dotKernel(k int, a []float32, lda int, b []float32, ldb int, out *[8]float32) {
	dotKernelGo(k, a, lda, b, ldb, out)
}
