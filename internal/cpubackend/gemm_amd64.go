package cpubackend

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasFMA enables the AVX2/FMA dotKernel (smallgemm.go); tests clear it to exercise the Go fallback.
var hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512 reports AVX-512 Foundation with the OS saving the ZMM state (x/sys/cpu checks XCR0).
var hasAVX512 = cpu.X86.HasAVX512F

//go:noescape
func kernel6x16(k int, a, b, c unsafe.Pointer, ldc int, acc int)

//go:noescape
func kernel14x32(k int, a, b, c unsafe.Pointer, ldc int, acc int)

//go:noescape
func dot4x2(k8 int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, out unsafe.Pointer)

// avx2Kernel is the 6×16 AVX2/FMA kernel: 12 YMM accumulators.
var avx2Kernel = &gemmKernel{name: "avx2", mr: 6, nr: 16, kc: 256, mc: 96, nc: 2048, micro: microKernelAVX2}

// avx512Kernel is the 14×32 AVX-512 kernel: 28 ZMM accumulators and two ZMM for a row of B, with
// A broadcast from memory by the FMAs. kc=320 keeps the KC×32 B panel (40 KiB) in a 48 KiB L1 and
// lets a 288-deep product (the LM head) go in one slice, so its large C is read and written once;
// an MC×KC block of A (mc=168: 12 tiles, 210 KiB) sits well inside a 2 MiB L2.
var avx512Kernel = &gemmKernel{name: "avx512", mr: 14, nr: 32, kc: 320, mc: 168, nc: 2048, micro: microKernelAVX512}

func init() {
	if hasFMA {
		gemmKernels = append([]*gemmKernel{avx2Kernel}, gemmKernels...)
	}
	if hasAVX512 && hasFMA {
		gemmKernels = append([]*gemmKernel{avx512Kernel}, gemmKernels...)
	}
	setGemmKernel(gemmKernels[0])
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// microKernelAVX2 computes C[6×16] += Apanel·Bpanel (acc) or C[6×16] = Apanel·Bpanel (!acc); k ≥ 1.
func microKernelAVX2(k int, a, b, c []float32, ldc int, acc bool) {
	_ = a[k*6-1]
	_ = b[k*16-1]
	_ = c[5*ldc+15]
	kernel6x16(k, unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0]), ldc, b2i(acc))
}

// microKernelAVX512 computes C[14×32] += Apanel·Bpanel (acc) or C[14×32] = Apanel·Bpanel (!acc); k ≥ 1.
func microKernelAVX512(k int, a, b, c []float32, ldc int, acc bool) {
	_ = a[k*14-1]
	_ = b[k*32-1]
	_ = c[13*ldc+31]
	kernel14x32(k, unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0]), ldc, b2i(acc))
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

// Small-m kernels (smallgemm_amd64.s).

//go:noescape
func dotT4x16(k int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc int, pfd int)

//go:noescape
func dotT2x16(k int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc int, pfd int)

//go:noescape
func dotT1x16(k int, a unsafe.Pointer, lda int, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc int, pfd int)

//go:noescape
func axpyRows512(y unsafe.Pointer, n int, x unsafe.Pointer, ldx int, a unsafe.Pointer, lda int, k int)

//go:noescape
func axpyRows256(y unsafe.Pointer, n8 int, x unsafe.Pointer, ldx int, a unsafe.Pointer, lda int, k int)

// hasDotT16 reports whether dotT16 has its AVX-512 kernels at the current vecLevel.
func hasDotT16() bool { return hasFMA && vecLevel >= vecAVX512 }

// dotT16 sets C[rows×16] += A[rows×k]·B[k×16] for rows ∈ {1, 2, 4} (k ≥ 1), with row r of A at
// a[r·lda:], column j of B at b[j·ldb:] and row r of C at c[r·ldc:]. Only when hasDotT16(). If pfd
// is not 0, the kernel prefetches (without reading them) about 16·ldb floats from b[pfd/4:] on.
func dotT16(rows, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, pfd int) {
	_ = a[(rows-1)*lda+k-1]
	_ = b[15*ldb+k-1]
	_ = c[(rows-1)*ldc+15]
	pa, pb, pc := unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0])
	switch rows {
	case 4:
		dotT4x16(k, pa, lda, pb, ldb, pc, ldc, pfd)
	case 2:
		dotT2x16(k, pa, lda, pb, ldb, pc, ldc, pfd)
	case 1:
		dotT1x16(k, pa, lda, pb, ldb, pc, ldc, pfd)
	default:
		panic("dotT16: rows must be 1, 2 or 4")
	}
}

//go:noescape
func gemmAT16(k int, at, b unsafe.Pointer, ldb int, c unsafe.Pointer, ldc, nblk, rows, mask, acc, pfd int)

//go:noescape
func packAT16(dst, a unsafe.Pointer, lda, k, rows int)

// hasSmallTAT reports whether smallGemmTAT has its AVX-512 kernels at the current vecLevel.
func hasSmallTAT() bool { return hasDotT16() }

// atKernel runs gemmAT16 (smallgemm_at_amd64.s) on nblk blocks of 16 columns: for r < rows and the
// columns j < 16 set in mask, C[r, 16q+j] = (acc ? C[r, 16q+j] : 0) + Σ_{p<k} at[16p+r]·b[(16q+j)·ldb+p],
// row r of C at c[r·ldc:]. Only when hasSmallTAT(); k, nblk, rows ≥ 1, mask ≠ 0.
func atKernel(k int, at, b []float32, ldb int, c []float32, ldc, nblk, rows, mask int, acc bool, pfd int) {
	hi := 15
	for mask>>hi&1 == 0 {
		hi--
	}
	_ = at[16*k-1]
	_ = b[((nblk-1)*16+15)*ldb+k-1]
	_ = c[(rows-1)*ldc+(nblk-1)*16+hi]
	gemmAT16(k, unsafe.Pointer(&at[0]), unsafe.Pointer(&b[0]), ldb, unsafe.Pointer(&c[0]), ldc, nblk, rows, mask, b2i(acc), pfd)
}

// atPack sets dst[16p+r] = a[r·lda+p] for p < k, r < rows and zero for rows ≤ r < 16, and zeroes
// the rest of dst's 16·⌈k/16⌉ rows (packAT16). Only when hasSmallTAT(); 1 ≤ rows ≤ 16, k ≥ 1.
func atPack(dst, a []float32, lda, k, rows int) {
	_ = dst[(k+15)/16*256-1]
	_ = a[(rows-1)*lda+k-1]
	packAT16(unsafe.Pointer(&dst[0]), unsafe.Pointer(&a[0]), lda, k, rows)
}

// axpyRows sets y[j] += Σ_{p<k} a[p·lda]·x[p·ldx+j] for j < len(y): a weighted sum of k rows of
// x (ldx apart) into y, with y held in registers across the rows.
func axpyRows(y []float32, x []float32, ldx int, a []float32, lda, k int) {
	n := len(y)
	if n == 0 || k <= 0 {
		return
	}
	_ = a[(k-1)*lda]
	_ = x[(k-1)*ldx+n-1]
	switch {
	case hasFMA && vecLevel >= vecAVX512:
		axpyRows512(unsafe.Pointer(&y[0]), n, unsafe.Pointer(&x[0]), ldx, unsafe.Pointer(&a[0]), lda, k)
		return
	case hasFMA && vecLevel >= vecAVX2 && n >= 8:
		n8 := n / 8
		axpyRows256(unsafe.Pointer(&y[0]), n8, unsafe.Pointer(&x[0]), ldx, unsafe.Pointer(&a[0]), lda, k)
		if n8*8 == n {
			return
		}
		axpyRowsGo(y[n8*8:], x[n8*8:], ldx, a, lda, k)
		return
	}
	axpyRowsGo(y, x, ldx, a, lda, k)
}

// Packing kernels (pack_amd64.s).

//go:noescape
func packStridedAVX512(dst, src unsafe.Pointer, lds, ldd, k int, lmask, smask int)

//go:noescape
func packRows32AVX512(dst, src unsafe.Pointer, lds, k int, m0, m1 int)

// usePackAsm enables the AVX-512 packing kernels; tests clear it to exercise the Go packing.
var usePackAsm = hasAVX512 && hasFMA

// packStrided sets dst[p·ld+i] = data[src+p·lds+i] for p < k, i < rows, and dst[p·ld+i] = 0 for
// rows ≤ i < ld (ld ≤ 16): mr-row panels of A from a column-major A, one masked vector load and
// store per column. It reports false, doing nothing, when no kernel applies.
func packStrided(dst, data []float32, src, lds, ld, k, rows int) bool {
	if !usePackAsm || ld > 16 || k <= 0 || rows <= 0 {
		return false
	}
	_ = data[src+(k-1)*lds+rows-1]
	_ = dst[(k-1)*ld+ld-1]
	packStridedAVX512(unsafe.Pointer(&dst[0]), unsafe.Pointer(&data[src]), lds, ld, k, 1<<rows-1, 1<<ld-1)
	return true
}

// packRows sets dst[p·nr+j] = data[src+p·lds+j] for p < k, j < cols, zero-padding each row to nr
// (a KC×NR panel of a B with contiguous rows). It reports false, doing nothing, when no kernel
// applies (nr other than 32).
func packRows(dst, data []float32, src, lds, nr, k, cols int) bool {
	if !usePackAsm || nr != 32 || k <= 0 || cols <= 0 {
		return false
	}
	_ = data[src+(k-1)*lds+cols-1]
	_ = dst[k*32-1]
	m0, m1 := 1<<min(cols, 16)-1, 1<<max(cols-16, 0)-1
	packRows32AVX512(unsafe.Pointer(&dst[0]), unsafe.Pointer(&data[src]), lds, k, m0, m1)
	return true
}

//go:noescape
func packA14AVX512(dst, src unsafe.Pointer, ld, nb int)

// packA14Asm packs the first 16·nb columns of packA14's panel with the AVX-512 kernel, nb = ⌊k/16⌋,
// and returns 16·nb (0 without the kernel).
func packA14Asm(panel, data []float32, src, ld, k int) int {
	nb := k / 16
	if !usePackAsm || nb <= 0 {
		return 0
	}
	_ = data[src+13*ld+16*nb-1]
	_ = panel[14*16*nb-1]
	packA14AVX512(unsafe.Pointer(&panel[0]), unsafe.Pointer(&data[src]), ld, nb)
	return 16 * nb
}

//go:noescape
func packColsT16AVX512(dst, src unsafe.Pointer, lds, ldd, k int)

// packCols16 writes columns j..j+15 of a panel nr wide (k rows) from sixteen contiguous columns of
// B, the first at data[src:src+k], the next ones ld further on: packCols8 sixteen wide, with the
// AVX-512 kernel (pack2_amd64.s). It reports false, doing nothing, when no kernel applies.
func packCols16(panel []float32, j, nr int, data []float32, src, ld, k int) bool {
	if !usePackAsm || nr < 16 || k <= 0 || ld < 0 {
		return false
	}
	_ = data[src+15*ld+k-1]
	_ = panel[(k-1)*nr+j+15]
	packColsT16AVX512(unsafe.Pointer(&panel[j]), unsafe.Pointer(&data[src]), ld, nr, k)
	return true
}
