package cpubackend

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kernel6x16(k int, a, b, c unsafe.Pointer, ldc int)

//go:noescape
func dot4x2(k8 int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, out unsafe.Pointer)

// microKernel computes C[MR×NR] += Apanel·Bpanel, with AVX2/FMA where the CPU has them.
func microKernel(k int, a, b, c []float32, ldc int) {
	if hasFMA && k > 0 {
		_ = a[k*mr-1]
		_ = b[k*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		kernel6x16(k, unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0]), ldc)
		return
	}
	microKernelGo(k, a, b, c, ldc)
}

// dotKernel sets out[r] = Σ_{p<k} a[r·lda+p]·b[p] and out[4+r] = Σ_{p<k} a[r·lda+p]·b[ldb+p] for
// r < 4: four contiguous rows of A against two contiguous columns of B.
func dotKernel(k int, a []float32, lda int, b []float32, ldb int, out *[8]float32) {
	k8 := k / 8 * 8
	if !hasFMA || k8 == 0 {
		dotKernelGo(k, a, lda, b, ldb, out)
		return
	}
	_ = a[3*lda+k-1]
	_ = b[ldb+k-1]
	dot4x2(k8/8, unsafe.Pointer(&a[0]), lda, unsafe.Pointer(&b[0]), ldb, unsafe.Pointer(out))
	if k8 < k {
		dotTail(k8, k, a, lda, b, ldb, out)
	}
}
