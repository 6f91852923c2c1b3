package cpubackend

import (
	"sync"
)

// The SGEMM follows Goto & van de Geijn's layering ("Anatomy of high-performance matrix
// multiplication", ACM TOMS 2008) as BLIS presents it: loops over NC-wide column blocks of B and
// KC-deep slices of the inner dimension pack a KC×NC block of B into NR-wide panels; within it,
// MC-tall row blocks of A are packed into MR-tall panels; a micro-kernel multiplies one MR×KC panel
// of A by one KC×NR panel of B into an MR×NR tile of C held in registers.
//
// The micro-kernel, and with it MR, NR and the block sizes, is chosen once at init from the CPU's
// features (gemmKernels lists them, best first): AVX-512 14×32, AVX2/FMA 6×16, or portable Go 6×16.

// gemmKernel is one micro-kernel with the blocking that suits it.
type gemmKernel struct {
	name   string
	mr, nr int // micro-tile rows and columns
	// kc is the deepest packed slice (an MR×KC panel of A and a KC×NR panel of B stay in L1), mc the
	// rows of A packed at once (MC×KC within L2), nc the columns of B packed at once.
	kc, mc, nc int
	// micro computes C[mr×nr] += Apanel·Bpanel when acc is set and C[mr×nr] = Apanel·Bpanel (C not
	// read) when not: a holds k columns of mr values, b k rows of nr.
	micro func(k int, a, b, c []float32, ldc int, acc bool)
	pool  sync.Pool // *packBufs sized for this kernel
}

// maxTile bounds mr·nr over all kernels (the scratch tile for partial edge tiles).
const maxTile = 16 * 32

var goKernel = &gemmKernel{name: "go", mr: 6, nr: 16, kc: 256, mc: 96, nc: 2048, micro: microKernelGo}

// gemmKernels lists the kernels this CPU can run, fastest first; gemm_amd64.go prepends the
// assembly ones in its init.
var gemmKernels = []*gemmKernel{goKernel}

// curKernel is the kernel sgemm uses; tests switch it with setGemmKernel.
var curKernel = goKernel

// mr and nr are the current kernel's micro-tile: callers that split a matmul among goroutines
// round their row (column) blocks to multiples of them.
var mr, nr = goKernel.mr, goKernel.nr

// setGemmKernel makes k the kernel sgemm uses. It is not safe to call while a matmul runs.
func setGemmKernel(k *gemmKernel) {
	curKernel, mr, nr = k, k.mr, k.nr
}

// matrix is a strided view of a float32 matrix: element (i, j) is data[off + i*rs + j*cs].
type matrix struct {
	data   []float32
	off    int
	rs, cs int
}

// packBufs is one goroutine's scratch: the packed panels of A and B, and the tile that takes a
// partial edge tile's products (pooled with the panels, so that a matmul allocates nothing).
type packBufs struct {
	a, b []float32
	tile [maxTile]float32
}

func (g *gemmKernel) getBufs() *packBufs {
	if p, ok := g.pool.Get().(*packBufs); ok {
		return p
	}
	return &packBufs{a: make([]float32, g.mc*g.kc), b: make([]float32, g.kc*g.nc)}
}

// sgemm sets C[m×n] = A[m×k]·B[k×n]; C is row-major with leading dimension ldc, starting at c[0].
// C's previous contents are never read (they may be garbage, NaN included); elements past n in a row
// are left alone.
func sgemm(m, n, k int, a, b matrix, c []float32, ldc int) {
	sgemmMode(m, n, k, a, b, c, ldc, false)
}

// sgemmMode is sgemm (acc false: C = A·B) or, with acc, C += A·B. Every path writes each
// element of C exactly as the mode asks, so in overwrite mode no caller needs to zero C first.
func sgemmMode(m, n, k int, a, b matrix, c []float32, ldc int, acc bool) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !acc {
			for i := range m {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	g := curKernel
	if m*n*k < 4096 || (m < g.mr && n < g.nr) {
		naiveGemm(m, n, k, a, b, c, ldc, acc)
		return
	}
	if m <= maxSmallM && b.rs == 1 {
		smallGemmT(m, n, k, a, b, c, ldc, acc)
		return
	}
	if m <= maxAxpyM && b.cs == 1 {
		smallGemmN(m, n, k, a, b, c, ldc, acc)
		return
	}
	g.gemm(m, n, k, a, b, c, ldc, acc)
}

// gemm is sgemmMode's packed path with g's kernel and blocking. In overwrite mode the first k-slice
// stores its products into C and the later ones add to them.
func (g *gemmKernel) gemm(m, n, k int, a, b matrix, c []float32, ldc int, acc bool) {
	gmr, gnr := g.mr, g.nr
	bufs := g.getBufs()
	defer g.pool.Put(bufs)
	// Split k into equal slices of at most kc: a remainder slice only a few deep would pay the
	// C-tile loads and stores for little work.
	kstep := (k + g.kc - 1) / g.kc
	kstep = (k + kstep - 1) / kstep
	tile := bufs.tile[:]
	for jc := 0; jc < n; jc += g.nc {
		ncb := min(g.nc, n-jc)
		for pc := 0; pc < k; pc += kstep {
			kcb := min(kstep, k-pc)
			sacc := acc || pc > 0
			packB(bufs.b, b, pc, jc, kcb, ncb, gnr)
			for ic := 0; ic < m; ic += g.mc {
				mcb := min(g.mc, m-ic)
				packA(bufs.a, a, ic, pc, mcb, kcb, gmr)
				for jr := 0; jr < ncb; jr += gnr {
					bp := bufs.b[jr*kcb : jr*kcb+gnr*kcb]
					for ir := 0; ir < mcb; ir += gmr {
						ap := bufs.a[ir*kcb : ir*kcb+gmr*kcb]
						ci := (ic+ir)*ldc + jc + jr
						if ir+gmr <= mcb && jr+gnr <= ncb {
							g.micro(kcb, ap, bp, c[ci:], ldc, sacc)
							continue
						}
						t := tile[:gmr*gnr]
						g.micro(kcb, ap, bp, t, gnr, false)
						rows, cols := min(gmr, mcb-ir), min(gnr, ncb-jr)
						for i := range rows {
							crow := c[ci+i*ldc : ci+i*ldc+cols]
							trow := t[i*gnr : i*gnr+cols]
							if sacc {
								for j := range crow {
									crow[j] += trow[j]
								}
							} else {
								copy(crow, trow)
							}
						}
					}
				}
			}
		}
	}
}

// packA copies the block A[i0:i0+m, p0:p0+k] into mr-row panels: panel r holds, for each p, the mr
// values of column p (zero-padded past the last row).
func packA(dst []float32, a matrix, i0, p0, m, k, mr int) {
	for r := 0; r < m; r += mr {
		panel := dst[r*k : r*k+mr*k]
		rows := min(mr, m-r)
		if a.rs == 1 { // columns of A are contiguous: copy mr values at a time
			src := a.off + (i0 + r) + p0*a.cs
			if packStrided(panel, a.data, src, a.cs, mr, k, rows) {
				continue
			}
			if rows == mr {
				for p := range k {
					copy(panel[p*mr:p*mr+mr], a.data[src+p*a.cs:src+p*a.cs+mr])
				}
				continue
			}
		}
		if a.cs == 1 && rows == 14 && mr == 14 {
			packA14(panel, a.data, a.off+(i0+r)*a.rs+p0, a.rs, k)
			continue
		}
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

// packA14 fills a 14-row panel from 14 contiguous rows of A, the first at data[src:src+k], the next
// ones ld further on: packA14Asm does what it can, then the rest is written out so that every
// element costs one load and one store.
func packA14(panel, data []float32, src, ld, k int) {
	p0 := packA14Asm(panel, data, src, ld, k)
	if p0 == k {
		return
	}
	panel = panel[:14*k]
	r0 := data[src : src+k]
	r1, r2, r3 := data[src+ld:][:len(r0)], data[src+2*ld:][:len(r0)], data[src+3*ld:][:len(r0)]
	r4, r5, r6 := data[src+4*ld:][:len(r0)], data[src+5*ld:][:len(r0)], data[src+6*ld:][:len(r0)]
	r7, r8, r9 := data[src+7*ld:][:len(r0)], data[src+8*ld:][:len(r0)], data[src+9*ld:][:len(r0)]
	r10, r11, r12 := data[src+10*ld:][:len(r0)], data[src+11*ld:][:len(r0)], data[src+12*ld:][:len(r0)]
	r13 := data[src+13*ld:][:len(r0)]
	for p := p0; p < k; p++ {
		d := (*[14]float32)(panel[p*14:])
		d[0], d[1], d[2], d[3], d[4], d[5], d[6] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p], r6[p]
		d[7], d[8], d[9], d[10], d[11], d[12], d[13] = r7[p], r8[p], r9[p], r10[p], r11[p], r12[p], r13[p]
	}
}

// packB copies the block B[p0:p0+k, j0:j0+n] into nr-column panels: panel q holds, for each p, the nr
// values of row p (zero-padded past the last column).
func packB(dst []float32, b matrix, p0, j0, k, n, nr int) {
	for q := 0; q < n; q += nr {
		panel := dst[q*k : q*k+nr*k]
		cols := min(nr, n-q)
		if b.cs == 1 && packRows(panel, b.data, b.off+p0*b.rs+j0+q, b.rs, nr, k, cols) {
			continue
		}
		if b.cs == 1 && cols == nr {
			for p := range k {
				src := b.off + (p0+p)*b.rs + j0 + q
				copy(panel[p*nr:p*nr+nr], b.data[src:src+nr])
			}
			continue
		}
		j := 0
		if b.rs == 1 { // columns of B are contiguous: transpose sixteen, then eight, at a time
			for ; j+16 <= cols && packCols16(panel, j, nr, b.data, b.off+p0+(j0+q+j)*b.cs, b.cs, k); j += 16 {
			}
			for ; j+8 <= cols; j += 8 {
				packCols8(panel, j, nr, b.data, b.off+p0+(j0+q+j)*b.cs, b.cs, k)
			}
		}
		for ; j < cols; j++ {
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

// packCols8 writes columns j..j+7 of a panel nr wide from eight contiguous columns of B, the first
// at data[src:src+k], the next ones ld further on.
func packCols8(panel []float32, j, nr int, data []float32, src, ld, k int) {
	c0 := data[src : src+k]
	c1, c2, c3 := data[src+ld:][:len(c0)], data[src+2*ld:][:len(c0)], data[src+3*ld:][:len(c0)]
	c4, c5, c6 := data[src+4*ld:][:len(c0)], data[src+5*ld:][:len(c0)], data[src+6*ld:][:len(c0)]
	c7 := data[src+7*ld:][:len(c0)]
	for p := range c0 {
		d := (*[8]float32)(panel[p*nr+j:])
		d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = c0[p], c1[p], c2[p], c3[p], c4[p], c5[p], c6[p], c7[p]
	}
}

// microKernelGo is the portable 6×16 micro-kernel: C[6×16] += Apanel·Bpanel, or = when !acc.
func microKernelGo(k int, a, b, c []float32, ldc int, accum bool) {
	const mr, nr = 6, 16
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
		if !accum {
			*crow = acc[i]
			continue
		}
		for j := range nr {
			crow[j] += acc[i][j]
		}
	}
}

// naiveGemm handles problems too small to pay for packing (acc as for sgemmMode).
func naiveGemm(m, n, k int, a, b matrix, c []float32, ldc int, acc bool) {
	for i := range m {
		crow := c[i*ldc : i*ldc+n]
		if !acc {
			clear(crow)
		}
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
