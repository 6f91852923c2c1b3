package cpubackend

import (
	"math"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// bfloat16 storage. The backend computes in float32, but a model may keep its frozen weights as
// bfloat16 (half the memory) and convert them in its graph: ConvertDType(w, Float32) feeding a
// DotGeneral or a Gather. Materializing that conversion would bring back a float32 copy of every
// weight for as long as the graph needs it (the whole backward pass, in training), so those two ops
// read a converted bfloat16 operand directly instead: DotGeneral converts the weight block by block
// into a small scratch buffer that the float32 GEMM reads (dotBF16), and Gather picks rows of the
// bfloat16 table and converts only them. The ConvertDType node then has no consumer and never runs.
// Any other consumer of the conversion gets the float32 tensor as usual.

// bf16Source returns the bfloat16 operand of n when n converts a rank-2 bfloat16 value to float32,
// else nil.
func bf16Source(n *node) *node {
	if n.op != backends.OpTypeConvertDType || n.shape.DType != dtypes.Float32 || len(n.inputs) != 1 {
		return nil
	}
	src := n.inputs[0]
	if src.shape.DType != dtypes.BFloat16 || src.shape.Rank() != 2 {
		return nil
	}
	return src
}

// bf16ToF32 widens src into dst (len(dst) == len(src)): a bfloat16 is the upper half of a float32.
func bf16ToF32(dst []float32, src []bfloat16.BFloat16) {
	if len(src) == 0 {
		return
	}
	_ = dst[len(src)-1]
	for i := widenBF16(dst, src); i < len(src); i++ {
		dst[i] = math.Float32frombits(uint32(src[i]) << 16)
	}
}

// f32ToBF16 rounds src to the nearest bfloat16, ties to even (NaNs stay NaNs), into dst.
func f32ToBF16(dst []bfloat16.BFloat16, src []float32) {
	for i, v := range src {
		b := math.Float32bits(v)
		if b&0x7fffffff > 0x7f800000 { // NaN: keep it a NaN
			dst[i] = bfloat16.BFloat16(b>>16 | 0x40)
			continue
		}
		b += 0x7fff + (b>>16)&1
		dst[i] = bfloat16.BFloat16(b >> 16)
	}
}

// bf16Block is the number of float32 values a dotBF16 worker converts at a time (1 MiB): small
// enough to stay in L2 while the GEMM reads it, large enough that each block is a real GEMM.
var bf16Block = 256 << 10

// bf16Width is the width of dotBF16's ranges of w's free axis (free columns in tiles of 32): at most
// the bf16Block values per converted block when w's rows are contracted (wContract 1), at most one
// range per worker otherwise, and in either case a number of ranges that is a multiple of workers,
// as equal as tiles allow, so that no worker waits for another's extra range (SmolLM2's 576 free
// columns on 2 workers: 2 ranges of 288, not 160, 160, 160 and 96).
func bf16Width(free, k, wContract, workers int) int {
	workers = max(workers, 1)
	tiles := (free + 31) / 32
	maxTiles := (tiles + workers - 1) / workers
	if wContract == 1 {
		maxTiles = max(1, bf16Block/max(k, 1)/32)
	}
	ranges := (tiles + maxTiles - 1) / maxTiles
	ranges = (ranges + workers - 1) / workers * workers
	return min(free, 32*((tiles+ranges-1)/ranges))
}

// dotBF16 computes the [m, n] product of a float32 operand x and a rank-2 bfloat16 operand w.
// wIsLHS says which side w is on; wContract is w's contracting axis (0 or 1); xm is x read as a
// matrix: (m, k) when w is the right operand, (k, n) when it is the left one. w is read in blocks of
// whole rows, which the workers convert into their own scratch (bf16Block values) and multiply, so no
// float32 copy of w ever exists: when w's rows are its free axis (a forward matmul) the blocks are
// output columns (or rows) of their own; when they are its contracting axis (the backward pass's
// x-gradient) each worker owns a range of w's columns and adds up the products of its row blocks.
func dotBF16(workers int, w []bfloat16.BFloat16, wDims [2]int, wContract int, wIsLHS bool, xm matrix, m, n, k int) []float32 {
	res := getF32(m * n)
	free := n
	if wIsLHS {
		free = m
	}
	var jobs [][2]int // ranges of w's free axis
	width := bf16Width(free, k, wContract, workers)
	for f0 := 0; f0 < free; f0 += width {
		jobs = append(jobs, [2]int{f0, min(free, f0+width)})
	}
	// Rows of w per block when they are contracted: about bf16Block values, but at least 256 deep, as
	// each block's product reads and writes the whole [m, width] result once more (a 3B model's
	// 4096-wide ranges would otherwise be summed 64 rows at a time).
	rowBlock := max(256, bf16Block/max(width, 1))
	run := func(scratch []float32, f0, f1 int) {
		fw := f1 - f0
		if wContract == 1 {
			// w is [free, k]: the block's rows are contiguous, and the block is a whole product.
			bf16ToF32(scratch[:fw*k], w[f0*k:f1*k])
			if wIsLHS {
				sgemm(fw, n, k, matrix{data: scratch, rs: k, cs: 1}, xm, res[f0*n:], n)
			} else {
				sgemm(m, fw, k, xm, matrix{data: scratch, rs: 1, cs: k}, res[f0:], n)
			}
			return
		}
		// w is [k, free]: add up the products of blocks of its rows, columns [f0, f1).
		for p0 := 0; p0 < k; p0 += rowBlock {
			p1 := min(k, p0+rowBlock)
			for p := p0; p < p1; p++ {
				bf16ToF32(scratch[(p-p0)*fw:(p-p0+1)*fw], w[p*wDims[1]+f0:p*wDims[1]+f1])
			}
			acc := p0 > 0
			if wIsLHS {
				xb := matrix{data: xm.data, off: xm.off + p0*xm.rs, rs: xm.rs, cs: xm.cs}
				sgemmMode(fw, n, p1-p0, matrix{data: scratch, rs: 1, cs: fw}, xb, res[f0*n:], n, acc)
			} else {
				xb := matrix{data: xm.data, off: xm.off + p0*xm.cs, rs: xm.rs, cs: xm.cs}
				sgemmMode(m, fw, p1-p0, xb, matrix{data: scratch, rs: fw, cs: 1}, res[f0:], n, acc)
			}
		}
	}
	scratchLen := width * k
	if wContract == 0 {
		scratchLen = width * min(rowBlock, k)
	}
	parts := min(workers, len(jobs))
	if 2*m*n*k < minParallelFlops {
		parts = 1
	}
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scratch := getF32(scratchLen)
			defer putFlat(scratch)
			for i := p; i < len(jobs); i += parts {
				run(scratch, jobs[i][0], jobs[i][1])
			}
		}()
	}
	wg.Wait()
	return res
}

// dotGeneralBF16 builds a DotGeneral one of whose operands converts a rank-2 bfloat16 value (see
// bf16Source), with no batch axes: the node reads the bfloat16 value itself. ok is false when the
// shapes do not fit that case, and the caller builds the ordinary DotGeneral.
func (b *Builder) dotGeneralBF16(in []*node, lc, rc []int, out shapes.Shape, m, n, k int, ll, rl operandLayout) (op backends.Op, ok bool) {
	if len(lc) != 1 || len(rc) != 1 {
		return nil, false
	}
	wIsLHS := false
	src := bf16Source(in[1])
	if src == nil {
		if src = bf16Source(in[0]); src == nil {
			return nil, false
		}
		wIsLHS = true
	}
	xl, xs, wc := ll, in[0].shape, rc[0]
	if wIsLHS {
		xl, xs, wc = rl, in[1].shape, lc[0]
	}
	inputs := []*node{in[0], src}
	if wIsLHS {
		inputs = []*node{src, in[1]}
	}
	wDims := [2]int{src.shape.Dimensions[0], src.shape.Dimensions[1]}
	workers := b.backend.workers
	return b.newNode(backends.OpTypeDotGeneral, out, func(_ *Backend, v []any) any {
		xv := v[0]
		if wIsLHS {
			xv = v[1]
		}
		if xl.perm != nil {
			xv = transpose(xv, xs, xl.perm)
			defer putFlat(xv)
		}
		xm := matrix{data: xv.([]float32), off: xl.base(0), rs: xl.rs, cs: xl.cs}
		w := v[1]
		if wIsLHS {
			w = v[0]
		}
		return dotBF16(workers, w.([]bfloat16.BFloat16), wDims, wc, wIsLHS, xm, m, n, k)
	}, inputs...), true
}
