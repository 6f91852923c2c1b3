package cpubackend

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kernel6x16(k int, a, b, c unsafe.Pointer, ldc int)

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
