package cpubackend

import "sync"

// maxSmallM is the most rows of A for which sgemm skips packing when B's columns are contiguous (the
// x·Wᵀ of a decode step, B = W [out, in]): packing B would move as many floats as the product
// multiplies, so the rows of A are instead dotted directly with the columns of B, two at a time.
const maxSmallM = 16

var smallAPool = sync.Pool{New: func() any { s := make([]float32, 0, 4096); return &s }}

// copyRows copies the m×k matrix a into rows of k contiguous floats in a scratch buffer of at least
// rows·k floats from smallAPool (rows ≥ m; the rows past m are zeroed). Put the returned box back in
// smallAPool when done with the copy.
func copyRows(m, rows, k int, a matrix) ([]float32, *[]float32) {
	sp := smallAPool.Get().(*[]float32)
	if cap(*sp) < rows*k {
		*sp = make([]float32, rows*k)
	}
	ap := (*sp)[:rows*k]
	for i := range m {
		row := ap[i*k : (i+1)*k]
		src := a.off + i*a.rs
		if a.cs == 1 {
			copy(row, a.data[src:src+k])
			continue
		}
		for p := range row {
			row[p] = a.data[src+p*a.cs]
		}
	}
	clear(ap[m*k:])
	return ap, sp
}

// smallGemmT computes C[m×n] += A[m×k]·B[k×n] (acc) or C = A·B (!acc) for a B whose columns are
// contiguous (b.rs == 1).
// With the AVX-512 kernels it runs smallGemmT16; otherwise A is copied into contiguous rows padded to
// a multiple of 4 with zeros, then each pair of columns of B is dotted with each group of 4 rows.
func smallGemmT(m, n, k int, a, b matrix, c []float32, ldc int, acc bool) {
	if hasDotT16() {
		smallGemmT16(m, n, k, a, b, c, ldc, acc)
		return
	}
	ap, sp := copyRows(m, (m+3)/4*4, k, a)
	defer smallAPool.Put(sp)
	var out [8]float32
	for j := 0; j < n; j += 2 {
		b0 := b.off + j*b.cs
		ldb := b.cs
		if j+1 == n {
			ldb = 0 // the last, odd column: dot it twice and keep one
		}
		bcol := b.data[b0:]
		for i0 := 0; i0 < m; i0 += 4 {
			dotKernel(k, ap[i0*k:], k, bcol, ldb, &out)
			for r := range min(4, m-i0) {
				ci := (i0+r)*ldc + j
				if acc {
					c[ci] += out[r]
					if ldb != 0 {
						c[ci+1] += out[4+r]
					}
					continue
				}
				c[ci] = out[r]
				if ldb != 0 {
					c[ci+1] = out[4+r]
				}
			}
		}
	}
}

// maxAxpyM is the most rows of A for which sgemm skips packing when B's rows are contiguous (a
// decode step's attention probabilities times the cached values, one query row per head): packing
// B and running a 14-row micro-kernel on one row would do fourteen times the work.
const maxAxpyM = 4

// smallGemmN computes C[m×n] += A[m×k]·B[k×n] (acc) or C = A·B (!acc, C's rows zeroed first) for a
// B whose rows are contiguous (b.cs == 1):
// each row of C gathers a[i,p]·(row p of B) over p (axpyRows, the row of C kept in registers),
// reading B once per row of A.
func smallGemmN(m, n, k int, a, b matrix, c []float32, ldc int, acc bool) {
	for i := range m {
		if !acc {
			clear(c[i*ldc : i*ldc+n])
		}
		axpyRows(c[i*ldc:i*ldc+n], b.data[b.off:], b.rs, a.data[a.off+i*a.rs:], a.cs, k)
	}
}

// axpyRowsGo is the portable axpyRows: y[j] += Σ_{p<k} a[p·lda]·x[p·ldx+j].
func axpyRowsGo(y []float32, x []float32, ldx int, a []float32, lda, k int) {
	for p := range k {
		alpha := a[p*lda]
		xr := x[p*ldx : p*ldx+len(y)]
		for j := range y {
			y[j] += alpha * xr[j]
		}
	}
}

// smallTPrefetch is how many 16-column blocks of B ahead smallGemmT16 has its kernels prefetch (0:
// none). Measured on the target Xeon (n=16000, k=288), prefetching 1, 2, 4 or 8 blocks ahead was no
// faster than the hardware prefetchers alone for m=16 and 10–20% slower for m=1 and m=4, so it is off.
var smallTPrefetch = 0

// smallGemmT16 is smallGemmT with the AVX-512 dotT16 kernels: for each block of 16 columns of B
// (one streaming pass over B, the block then hot in L1), the rows of A go 4 at a time, then 2, then
// 1, so that no padded row is computed. A is read in place when its rows are contiguous. The last
// n%16 columns go through a zero-padded copy of B and a scratch tile of C. In overwrite mode (!acc)
// the kernels accumulate into C's rows zeroed first: m ≤ 16 rows cost little next to reading B.
func smallGemmT16(m, n, k int, a, b matrix, c []float32, ldc int, acc bool) {
	if useSmallTAT(m, n, k) {
		smallGemmTAT(m, n, k, a, b, c, ldc, acc)
		return
	}
	if !acc {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
	}
	ad, aoff, lda := a.data, a.off, a.rs
	if a.cs != 1 {
		ap, sp := copyRows(m, m, k, a)
		defer smallAPool.Put(sp)
		ad, aoff, lda = ap, 0, k
	}
	block := func(bd []float32, ldb int, cd []float32, ldc int, pfd int) {
		for i := 0; i < m; {
			rows := 4
			if m-i < 4 {
				rows = 2
				if m-i < 2 {
					rows = 1
				}
			}
			dotT16(rows, k, ad[aoff+i*lda:], lda, bd, ldb, cd[i*ldc:], ldc, pfd)
			pfd = 0 // the first call has prefetched the block ahead
			i += rows
		}
	}
	n16 := n &^ 15
	pfd := 4 * 16 * b.cs * smallTPrefetch
	for j := 0; j < n16; j += 16 {
		if pfd != 0 && j+16*smallTPrefetch >= n16 {
			pfd = 0 // past the last full block
		}
		block(b.data[b.off+j*b.cs:], b.cs, c[j:], ldc, pfd)
	}
	if nt := n - n16; nt > 0 {
		sp := smallAPool.Get().(*[]float32)
		defer smallAPool.Put(sp)
		if cap(*sp) < 16*k+16*m {
			*sp = make([]float32, 16*k+16*m)
		}
		bt, ct := (*sp)[:16*k], (*sp)[16*k:16*k+16*m]
		clear(bt[nt*k:])
		clear(ct)
		for j := range nt {
			src := b.off + (n16+j)*b.cs
			copy(bt[j*k:(j+1)*k], b.data[src:src+k])
		}
		block(bt, k, ct, 16, 0)
		for i := range m {
			crow := c[i*ldc+n16 : i*ldc+n]
			for j := range crow {
				crow[j] += ct[i*16+j]
			}
		}
	}
}

// smallTATMinM is the fewest rows of A for which smallGemmT16 runs smallGemmTAT when B is large
// (maxSmallM+1: never; tests lower it to 1 to run the kernel on every m). gemmAT16 costs the same for
// any m ≤ 16, the dotT16 kernels cost in proportion to m plus their reductions: on the target Xeon
// (one goroutine) the m=16 LM head (n=32000, k=288: B 36.8 MB, streamed from memory) went from about
// 5–7 ms to 2.5–3.5 ms, m=9..12 gained there too, and the cache-resident m=16 projections (768×288,
// 288×768) ran about 20% faster, but for m ≤ 12 on those the row-proportional dotT16 was as fast or
// faster.
var smallTATMinM = 9

// smallTATMinMSmallB is smallTATMinM for a B of fewer than smallTATBigB floats (1 MiB), which stays in
// L2 from one call to the next.
var smallTATMinMSmallB = 13

const smallTATBigB = 1 << 18

// useSmallTAT reports whether smallGemmT16 hands an m×n×k product to smallGemmTAT.
func useSmallTAT(m, n, k int) bool {
	if n*k < smallTATBigB {
		return hasSmallTAT() && m >= smallTATMinMSmallB
	}
	return hasSmallTAT() && m >= smallTATMinM
}

// smallTATPrefetch is how many 16-column blocks of B ahead smallGemmTAT has gemmAT16 prefetch (0:
// none). On the target Xeon 2 was 10–20% faster than none for m=16 on the LM head and on 288×768
// (one block, 18 KiB at k=288, was no better than none).
var smallTATPrefetch = 2

// smallGemmTAT is smallGemmT16 for 9 ≤ m ≤ 16 with the transposed-A kernel gemmAT16: A is packed as
// Aᵀ[k×16] (rows past m zero), and each block of 16 columns of C is accumulated over p as 16 ZMM
// columns (B broadcast from memory by the FMAs), then transposed into C's rows; B is read once, in
// one streaming pass. Ragged n: the last n%16 columns are the tail of a block that ends at column
// n (its first columns, already done, masked off), or for n < 16 a zero-padded copy of B.
func smallGemmTAT(m, n, k int, a, b matrix, c []float32, ldc int, acc bool) {
	k16 := (k + 15) / 16 * 16
	sp := smallAPool.Get().(*[]float32)
	defer smallAPool.Put(sp)
	need := 16 * k16
	if n < 16 {
		need += 16 * k
	}
	if cap(*sp) < need {
		*sp = make([]float32, need)
	}
	at := (*sp)[:16*k16]
	if a.cs == 1 {
		atPack(at, a.data[a.off:], a.rs, k, m)
	} else {
		clear(at[:16*k])
		for i := range m {
			src := a.off + i*a.rs
			for p := range k {
				at[16*p+i] = a.data[src+p*a.cs]
			}
		}
	}
	n16 := n &^ 15
	if n16 > 0 {
		pfd := 0
		if smallTATPrefetch > 0 {
			pfd = 4 * 16 * b.cs * smallTATPrefetch
		}
		atKernel(k, at, b.data[b.off:], b.cs, c, ldc, n16/16, m, 0xFFFF, acc, pfd)
	}
	nt := n - n16
	switch {
	case nt == 0:
	case n >= 16: // the block of columns n-16..n-1, storing only the last nt
		atKernel(k, at, b.data[b.off+(n-16)*b.cs:], b.cs, c[n-16:], ldc, 1, m, 0xFFFF&^(1<<(16-nt)-1), acc, 0)
	default:
		bt := (*sp)[16*k16 : 16*k16+16*k]
		clear(bt[nt*k:])
		for j := range nt {
			src := b.off + j*b.cs
			copy(bt[j*k:(j+1)*k], b.data[src:src+k])
		}
		atKernel(k, at, bt, k, c, ldc, 1, m, 1<<nt-1, acc, 0)
	}
}

// dotKernelGo is the portable dotKernel.
func dotKernelGo(k int, a []float32, lda int, b []float32, ldb int, out *[8]float32) {
	*out = [8]float32{}
	dotTail(0, k, a, lda, b, ldb, out)
}

// dotTail adds the terms p in [p0, k) of dotKernel's sums to out.
func dotTail(p0, k int, a []float32, lda int, b []float32, ldb int, out *[8]float32) {
	b0, b1 := b[p0:k], b[ldb+p0:ldb+k]
	for r := range 4 {
		ar := a[r*lda+p0 : r*lda+k]
		var s0, s1 float32
		for p, v := range ar {
			s0 += v * b0[p]
			s1 += v * b1[p]
		}
		out[r] += s0
		out[4+r] += s1
	}
}
