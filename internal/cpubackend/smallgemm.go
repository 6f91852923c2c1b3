package cpubackend

import "sync"

// maxSmallM is the most rows of A for which sgemm skips packing when B's columns are contiguous (the
// x·Wᵀ of a decode step, B = W [out, in]): packing B would move as many floats as the product
// multiplies, so the rows of A are instead dotted directly with the columns of B, two at a time.
const maxSmallM = 16

var smallAPool = sync.Pool{New: func() any { s := make([]float32, 0, 4096); return &s }}

// smallGemmT accumulates C[m×n] += A[m×k]·B[k×n] for a B whose columns are contiguous (b.rs == 1):
// A is copied into contiguous rows padded to a multiple of 4 with zeros, then each pair of columns of
// B is dotted with each group of 4 rows.
func smallGemmT(m, n, k int, a, b matrix, c []float32, ldc int) {
	mp := (m + 3) / 4 * 4
	sp := smallAPool.Get().(*[]float32)
	defer smallAPool.Put(sp)
	if cap(*sp) < mp*k {
		*sp = make([]float32, mp*k)
	}
	ap := (*sp)[:mp*k]
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
				c[ci] += out[r]
				if ldb != 0 {
					c[ci+1] += out[4+r]
				}
			}
		}
	}
}

// maxAxpyM is the most rows of A for which sgemm skips packing when B's rows are contiguous (a
// decode step's attention probabilities times the cached values, one query row per head): packing
// B and running a 14-row micro-kernel on one row would do fourteen times the work.
const maxAxpyM = 4

// smallGemmN accumulates C[m×n] += A[m×k]·B[k×n] for a B whose rows are contiguous (b.cs == 1):
// each row of C gathers a[i,p]·(row p of B) over p, reading B once per row of A.
func smallGemmN(m, n, k int, a, b matrix, c []float32, ldc int) {
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		for p := range k {
			bo := b.off + p*b.rs
			axpyF32(crow, a.data[a.off+i*a.rs+p*a.cs], b.data[bo:bo+n])
		}
	}
}

// axpyF32 sets y[j] += alpha·x[j].
func axpyF32(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	for j := range y {
		y[j] += alpha * x[j]
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
