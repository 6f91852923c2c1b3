package cpubackend

import (
	"sync"
)

// The SGEMM follows Goto & van de Geijn's layering ("Anatomy of high-performance matrix
// multiplication", ACM TOMS 2008) as BLIS presents it: loops over NC-wide column blocks of B and
// KC-deep slices of the inner dimension pack a KC×NC block of B into NR-wide panels; within it,
// MC-tall row blocks of A are packed into MR-tall panels; a micro-kernel multiplies one MR×KC panel
// of A by one KC×NR panel of B into an MR×NR tile of C held in registers.
const (
	mr = 6   // micro-tile rows
	nr = 16  // micro-tile columns (two 8-float AVX registers)
	kc = 256 // depth of a packed slice: an MR×KC panel of A and a KC×NR panel of B stay in L1
	mc = 96  // rows of A packed at once (MC×KC floats = 96 KiB, within L2)
	nc = 2048
)

// matrix is a strided view of a float32 matrix: element (i, j) is data[off + i*rs + j*cs].
type matrix struct {
	data   []float32
	off    int
	rs, cs int
}

var packPool = sync.Pool{New: func() any {
	return &packBufs{a: make([]float32, mc*kc), b: make([]float32, kc*nc)}
}}

type packBufs struct{ a, b []float32 }

// sgemm accumulates C[m×n] += A[m×k]·B[k×n]; C is row-major with leading dimension ldc, starting at c[0].
func sgemm(m, n, k int, a, b matrix, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	if m*n*k < 4096 || (m < mr && n < nr) {
		naiveGemm(m, n, k, a, b, c, ldc)
		return
	}
	if m <= maxSmallM && b.rs == 1 {
		smallGemmT(m, n, k, a, b, c, ldc)
		return
	}
	bufs := packPool.Get().(*packBufs)
	defer packPool.Put(bufs)
	var tile [mr * nr]float32
	for jc := 0; jc < n; jc += nc {
		ncb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kcb := min(kc, k-pc)
			packB(bufs.b, b, pc, jc, kcb, ncb)
			for ic := 0; ic < m; ic += mc {
				mcb := min(mc, m-ic)
				packA(bufs.a, a, ic, pc, mcb, kcb)
				for jr := 0; jr < ncb; jr += nr {
					bp := bufs.b[jr*kcb : jr*kcb+nr*kcb]
					for ir := 0; ir < mcb; ir += mr {
						ap := bufs.a[ir*kcb : ir*kcb+mr*kcb]
						ci := (ic+ir)*ldc + jc + jr
						if ir+mr <= mcb && jr+nr <= ncb {
							microKernel(kcb, ap, bp, c[ci:], ldc)
							continue
						}
						tile = [mr * nr]float32{}
						microKernel(kcb, ap, bp, tile[:], nr)
						rows, cols := min(mr, mcb-ir), min(nr, ncb-jr)
						for i := range rows {
							crow := c[ci+i*ldc : ci+i*ldc+cols]
							for j := range crow {
								crow[j] += tile[i*nr+j]
							}
						}
					}
				}
			}
		}
	}
}

// packA copies the block A[i0:i0+m, p0:p0+k] into MR-row panels: panel r holds, for each p, the MR
// values of column p (zero-padded past the last row).
func packA(dst []float32, a matrix, i0, p0, m, k int) {
	for r := 0; r < m; r += mr {
		panel := dst[r*k : r*k+mr*k]
		rows := min(mr, m-r)
		for i := range rows {
			src := a.off + (i0+r+i)*a.rs + p0*a.cs
			if a.cs == 1 {
				row := a.data[src : src+k]
				for p, v := range row {
					panel[p*mr+i] = v
				}
			} else {
				for p := range k {
					panel[p*mr+i] = a.data[src+p*a.cs]
				}
			}
		}
		for i := rows; i < mr; i++ {
			for p := range k {
				panel[p*mr+i] = 0
			}
		}
	}
}

// packB copies the block B[p0:p0+k, j0:j0+n] into NR-column panels: panel q holds, for each p, the NR
// values of row p (zero-padded past the last column).
func packB(dst []float32, b matrix, p0, j0, k, n int) {
	for q := 0; q < n; q += nr {
		panel := dst[q*k : q*k+nr*k]
		cols := min(nr, n-q)
		if b.cs == 1 && cols == nr {
			for p := range k {
				src := b.off + (p0+p)*b.rs + j0 + q
				copy(panel[p*nr:p*nr+nr], b.data[src:src+nr])
			}
			continue
		}
		for j := range cols {
			src := b.off + p0*b.rs + (j0+q+j)*b.cs
			for p := range k {
				panel[p*nr+j] = b.data[src+p*b.rs]
			}
		}
		for j := cols; j < nr; j++ {
			for p := range k {
				panel[p*nr+j] = 0
			}
		}
	}
}

// microKernelGo is the portable micro-kernel: C[MR×NR] += Apanel·Bpanel.
func microKernelGo(k int, a, b, c []float32, ldc int) {
	var acc [mr][nr]float32
	a, b = a[:k*mr], b[:k*nr]
	for p := range k {
		bp := (*[nr]float32)(b[p*nr:])
		ap := (*[mr]float32)(a[p*mr:])
		for i := range mr {
			ai := ap[i]
			row := &acc[i]
			for j := range nr {
				row[j] += ai * bp[j]
			}
		}
	}
	for i := range mr {
		crow := (*[nr]float32)(c[i*ldc:])
		for j := range nr {
			crow[j] += acc[i][j]
		}
	}
}

// naiveGemm handles problems too small to pay for packing.
func naiveGemm(m, n, k int, a, b matrix, c []float32, ldc int) {
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		for p := range k {
			av := a.data[a.off+i*a.rs+p*a.cs]
			if av == 0 {
				continue
			}
			bo := b.off + p*b.rs
			if b.cs == 1 {
				brow := b.data[bo : bo+n]
				for j, bv := range brow {
					crow[j] += av * bv
				}
			} else {
				for j := range crow {
					crow[j] += av * b.data[bo+j*b.cs]
				}
			}
		}
	}
}
