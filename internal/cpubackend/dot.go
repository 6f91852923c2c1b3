package cpubackend

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// operandLayout says how to read one DotGeneral operand as a batch of matrices: after an optional
// transpose (perm, nil when none is needed), batch item i starts at i*batchStride and element (r, c)
// of the matrix — (m, k) for lhs, (k, n) for rhs — is at r*rs + c*cs.
type operandLayout struct {
	perm                []int
	batchStride, rs, cs int
	// batchOff, when set, gives each batch item's start instead of i*batchStride (batch axes that
	// are not contiguous in memory, read in place).
	batchOff []int
}

// base returns where batch item bi starts.
func (l operandLayout) base(bi int) int {
	if l.batchOff != nil {
		return l.batchOff[bi]
	}
	return bi * l.batchStride
}

// directLayout reads an operand in place, without a transpose, when its free axes collapse into one
// strided axis and so do its contracting axes (taken in the order given, which pairs them with the
// other operand's); batch axes may lie anywhere. ok is false when a transpose is needed.
func directLayout(dims, batch, free, contract []int, freeFirst bool) (l operandLayout, ok bool) {
	strides := stridesOf(dims)
	// group returns the stride of a group of axes read as one row-major index, if they collapse.
	group := func(axes []int) (int, bool) {
		stride, inner := 1, -1
		for i := len(axes) - 1; i >= 0; i-- {
			a := axes[i]
			if dims[a] == 1 {
				continue
			}
			if inner < 0 {
				stride = strides[a]
			} else if strides[a] != strides[inner]*dims[inner] {
				return 0, false
			}
			inner = a
		}
		return stride, true
	}
	fs, ok1 := group(free)
	cs, ok2 := group(contract)
	if !ok1 || !ok2 {
		return l, false
	}
	if freeFirst {
		l.rs, l.cs = fs, cs
	} else {
		l.rs, l.cs = cs, fs
	}
	n := 1
	for _, a := range batch {
		n *= dims[a]
	}
	if n > 1 {
		l.batchOff = make([]int, n)
		for bi := range n {
			off, rem := 0, bi
			for i := len(batch) - 1; i >= 0; i-- {
				a := batch[i]
				off += (rem % dims[a]) * strides[a]
				rem /= dims[a]
			}
			l.batchOff[bi] = off
		}
	}
	return l, true
}

// layoutFor picks strides for an operand whose axes group into batch, free and contracting axes. It
// avoids the transpose when the axes are already in [batch, free, contracting] or [batch, contracting,
// free] order; freeFirst says whether the free axes index the matrix rows (lhs) or columns (rhs).
func layoutFor(rank int, batch, free, contract []int, freeSize, contractSize int, freeFirst bool) operandLayout {
	bfc := slices.Concat(batch, free, contract)
	bcf := slices.Concat(batch, contract, free)
	identity := func(p []int) bool {
		for i, a := range p {
			if a != i {
				return false
			}
		}
		return true
	}
	l := operandLayout{batchStride: freeSize * contractSize}
	// Strides of (free, contract) in memory.
	var fs, cs int
	switch {
	case identity(bfc):
		fs, cs = contractSize, 1
	case identity(bcf):
		fs, cs = 1, freeSize
	default:
		l.perm = bfc
		fs, cs = contractSize, 1
	}
	if freeFirst {
		l.rs, l.cs = fs, cs
	} else {
		l.rs, l.cs = cs, fs
	}
	return l
}

func freeAxes(rank int, batch, contract []int) []int {
	var f []int
	for a := range rank {
		if !slices.Contains(batch, a) && !slices.Contains(contract, a) {
			f = append(f, a)
		}
	}
	return f
}

func normAxes(op string, axes []int, rank int) ([]int, error) {
	out := make([]int, len(axes))
	for i, a := range axes {
		if a < 0 {
			a += rank
		}
		if a < 0 || a >= rank {
			return nil, fmt.Errorf("cpubackend: %s: axis %d out of range for rank %d", op, axes[i], rank)
		}
		out[i] = a
	}
	return out, nil
}

func (b *Builder) Dot(lhs, rhs backends.Op) (backends.Op, error) {
	in, err := b.in(backends.OpTypeDot, lhs, rhs)
	if err != nil {
		return nil, err
	}
	lr, rr := in[0].shape.Rank(), in[1].shape.Rank()
	if lr < 1 || lr > 2 || rr < 1 || rr > 2 {
		return nil, fmt.Errorf("cpubackend: Dot of %s and %s: ranks must be 1 or 2", in[0].shape, in[1].shape)
	}
	return b.DotGeneral(lhs, []int{lr - 1}, nil, rhs, []int{0}, nil)
}

func (b *Builder) DotGeneral(lhsOp backends.Op, lhsContract, lhsBatch []int, rhsOp backends.Op, rhsContract, rhsBatch []int) (backends.Op, error) {
	in, err := b.in(backends.OpTypeDotGeneral, lhsOp, rhsOp)
	if err != nil {
		return nil, err
	}
	ls, rs := in[0].shape, in[1].shape
	desc := fmt.Sprintf("DotGeneral(%s contracting %v batch %v, %s contracting %v batch %v)", ls, lhsContract, lhsBatch, rs, rhsContract, rhsBatch)
	if ls.DType != rs.DType {
		return nil, fmt.Errorf("cpubackend: %s: dtypes differ", desc)
	}
	if ls.DType != dtypes.Float32 && ls.DType != dtypes.Float64 {
		return nil, fmt.Errorf("cpubackend: %s: only float32 and float64 are implemented", desc)
	}
	if len(lhsContract) != len(rhsContract) || len(lhsBatch) != len(rhsBatch) {
		return nil, fmt.Errorf("cpubackend: %s: axis counts differ", desc)
	}
	var lc, lb, rc, rb []int
	if lc, err = normAxes(desc, lhsContract, ls.Rank()); err == nil {
		if lb, err = normAxes(desc, lhsBatch, ls.Rank()); err == nil {
			if rc, err = normAxes(desc, rhsContract, rs.Rank()); err == nil {
				rb, err = normAxes(desc, rhsBatch, rs.Rank())
			}
		}
	}
	if err != nil {
		return nil, err
	}
	batch, k := 1, 1
	var outDims []int
	for i := range lb {
		if ls.Dimensions[lb[i]] != rs.Dimensions[rb[i]] {
			return nil, fmt.Errorf("cpubackend: %s: batch dimensions differ", desc)
		}
		batch *= ls.Dimensions[lb[i]]
		outDims = append(outDims, ls.Dimensions[lb[i]])
	}
	for i := range lc {
		if ls.Dimensions[lc[i]] != rs.Dimensions[rc[i]] {
			return nil, fmt.Errorf("cpubackend: %s: contracting dimensions differ", desc)
		}
		k *= ls.Dimensions[lc[i]]
	}
	lf, rf := freeAxes(ls.Rank(), lb, lc), freeAxes(rs.Rank(), rb, rc)
	m, n := 1, 1
	for _, a := range lf {
		m *= ls.Dimensions[a]
		outDims = append(outDims, ls.Dimensions[a])
	}
	for _, a := range rf {
		n *= rs.Dimensions[a]
		outDims = append(outDims, rs.Dimensions[a])
	}
	out := shapes.Make(ls.DType, outDims...)
	ll, ok := directLayout(ls.Dimensions, lb, lf, lc, true)
	if !ok {
		ll = layoutFor(ls.Rank(), lb, lf, lc, m, k, true)
	}
	rl, ok := directLayout(rs.Dimensions, rb, rf, rc, false)
	if !ok {
		rl = layoutFor(rs.Rank(), rb, rf, rc, n, k, false)
	}
	if len(lb) == 0 {
		if op, ok := b.dotGeneralBF16(in, lc, rc, out, m, n, k, ll, rl); ok {
			return op, nil
		}
	}
	return b.newNode(backends.OpTypeDotGeneral, out, func(be *Backend, v []any) any {
		x, y := v[0], v[1]
		if ll.perm != nil {
			x = transpose(x, ls, ll.perm)
		}
		if rl.perm != nil {
			y = transpose(y, rs, rl.perm)
		}
		if xf, ok := x.([]float32); ok {
			res := getF32(batch * m * n) // sgemm overwrites every element
			batchedGemm(be.workers, batch, m, n, k, xf, ll, y.([]float32), rl, res)
			if ll.perm != nil {
				putFlat(x)
			}
			if rl.perm != nil {
				putFlat(y)
			}
			return res
		}
		return dotNaive(batch, m, n, k, x.([]float64), ll, y.([]float64), rl)
	}, in...), nil
}

// minParallelFlops is the work below which a matmul stays on one goroutine.
const minParallelFlops = 1 << 18

// batchedGemm computes res[bi] = A[bi]·B[bi] for every batch item, splitting batch items and row
// blocks (or, for a few rows, column blocks) among up to workers goroutines.
func batchedGemm(workers, batch, m, n, k int, a []float32, la operandLayout, b []float32, lb operandLayout, res []float32) {
	flops := 2 * batch * m * n * k
	parts := 1
	if flops >= minParallelFlops && workers > 1 {
		parts = workers
	}
	// Split each batch item into chunks when there are fewer items than parts: row blocks (multiples
	// of MR), or column blocks (multiples of NR) when there are too few rows for that.
	chunks := 1
	if batch < parts {
		chunks = (parts + batch - 1) / batch
	}
	// Every job packs the whole of the other operand, so split the larger one: rows when A is the
	// larger, columns when B is (or when A has too few rows to split).
	rowsPer, colsPer := ((m+chunks-1)/chunks+mr-1)/mr*mr, n
	if chunks > 1 && (m <= maxSmallM || n > m && n >= 2*nr) {
		rowsPer, colsPer = m, ((n+chunks-1)/chunks+nr-1)/nr*nr
	}
	// Jobs are numbered batch-major, then row block, then column block, and decoded from their
	// number, so that a call allocates no job list (decoding runs a matmul per token).
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	rowBlocks, colBlocks := (m+rowsPer-1)/rowsPer, (n+colsPer-1)/colsPer
	numJobs := batch * rowBlocks * colBlocks
	jobs := gemmJobs{m: m, n: n, k: k, a: a, la: la, b: b, lb: lb, res: res, rowsPer: rowsPer, colsPer: colsPer, rowBlocks: rowBlocks, colBlocks: colBlocks}
	if parts == 1 || numJobs == 1 {
		for j := range numJobs {
			jobs.run(j)
		}
		return
	}
	jobs.parallel(parts, numJobs)
}

// parallel runs jobs 0…numJobs−1 on parts goroutines, round robin. Only this path puts the split
// on the heap (once, with its wait group).
func (g gemmJobs) parallel(parts, numJobs int) {
	p := &parallelGemm{gemmJobs: g, parts: parts, numJobs: numJobs}
	p.wg.Add(parts)
	for w := range parts {
		go p.work(w)
	}
	p.wg.Wait()
}

// parallelGemm is one parallel batchedGemm: its jobs and the goroutines' wait group.
type parallelGemm struct {
	gemmJobs
	parts, numJobs int
	wg             sync.WaitGroup
}

// work runs jobs w, w+parts, w+2·parts, ….
func (p *parallelGemm) work(w int) {
	defer p.wg.Done()
	for i := w; i < p.numJobs; i += p.parts {
		p.run(i)
	}
}

// gemmJobs is batchedGemm's split of one batched matmul into jobs (a struct rather than a closure,
// so that the one-goroutine path, which decoding takes for every small matmul, allocates nothing).
type gemmJobs struct {
	m, n, k              int
	a, b, res            []float32
	la, lb               operandLayout
	rowsPer, colsPer     int
	rowBlocks, colBlocks int
}

// run computes job j: batch item, then row block, then column block.
func (g *gemmJobs) run(j int) {
	bi, r := j/(g.rowBlocks*g.colBlocks), j%(g.rowBlocks*g.colBlocks)
	i0, j0 := r/g.colBlocks*g.rowsPer, r%g.colBlocks*g.colsPer
	i1, j1 := min(g.m, i0+g.rowsPer), min(g.n, j0+g.colsPer)
	am := matrix{data: g.a, off: g.la.base(bi) + i0*g.la.rs, rs: g.la.rs, cs: g.la.cs}
	bm := matrix{data: g.b, off: g.lb.base(bi) + j0*g.lb.cs, rs: g.lb.rs, cs: g.lb.cs}
	sgemm(i1-i0, j1-j0, g.k, am, bm, g.res[bi*g.m*g.n+i0*g.n+j0:], g.n)
}

func dotNaive(batch, m, n, k int, a []float64, la operandLayout, b []float64, lb operandLayout) []float64 {
	res := make([]float64, batch*m*n)
	for bi := range batch {
		for i := range m {
			for j := range n {
				var s float64
				for p := range k {
					s += a[la.base(bi)+i*la.rs+p*la.cs] * b[lb.base(bi)+p*lb.rs+j*lb.cs]
				}
				res[bi*m*n+i*n+j] = s
			}
		}
	}
	return res
}
