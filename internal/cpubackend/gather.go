package cpubackend

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// indexValues converts an integer index tensor to ints.
func indexValues(x any) []int {
	switch x := x.(type) {
	case []int32:
		return toInts(x)
	case []int64:
		return toInts(x)
	case []uint32:
		return toInts(x)
	case []uint64:
		return toInts(x)
	case []int16:
		return toInts(x)
	case []int8:
		return toInts(x)
	case []uint8:
		return toInts(x)
	case []uint16:
		return toInts(x)
	}
	panic(fmt.Sprintf("cpubackend: indices of type %T", x))
}

func toInts[T number](x []T) []int {
	out := make([]int, len(x))
	for i, v := range x {
		out[i] = int(v)
	}
	return out
}

// batchLayout describes the index tensor's dims other than the index-vector axis: their sizes and
// their strides in the index tensor; vecStride is the stride of the index-vector axis.
func batchLayout(indices shapes.Shape, ivAxis int) (dims, strides []int, vecStride int) {
	is := stridesOf(indices.Dimensions)
	for a, d := range indices.Dimensions {
		if a == ivAxis {
			vecStride = is[a]
			continue
		}
		dims = append(dims, d)
		strides = append(strides, is[a])
	}
	return
}

func (b *Builder) Gather(operand, startIndices backends.Op, ivAxis int, offsetOutputAxes, collapsedSliceAxes,
	startIndexMap, sliceSizes []int, sorted bool) (backends.Op, error) {
	in, err := b.in(backends.OpTypeGather, operand, startIndices)
	if err != nil {
		return nil, err
	}
	if src := bf16Source(in[0]); src != nil {
		// Gather the rows of the bfloat16 table and convert only them (see bf16.go).
		g, err := b.Gather(src, startIndices, ivAxis, offsetOutputAxes, collapsedSliceAxes, startIndexMap, sliceSizes, sorted)
		if err != nil {
			return nil, err
		}
		return b.ConvertDType(g, dtypes.Float32)
	}
	out, err := shapeinference.Gather(in[0].shape, in[1].shape, ivAxis, offsetOutputAxes, collapsedSliceAxes,
		startIndexMap, sliceSizes, sorted)
	if err != nil {
		return nil, err
	}
	os, is := in[0].shape, in[1].shape
	offsetOutputAxes, collapsedSliceAxes = slices.Clone(offsetOutputAxes), slices.Clone(collapsedSliceAxes)
	startIndexMap, sliceSizes = slices.Clone(startIndexMap), slices.Clone(sliceSizes)
	return b.newNode(backends.OpTypeGather, out, func(_ *Backend, v []any) any {
		return gather(v[0], indexValues(v[1]), os, is, out, ivAxis, offsetOutputAxes, collapsedSliceAxes, startIndexMap, sliceSizes)
	}, in...), nil
}

func gather(x any, idx []int, os, is, out shapes.Shape, ivAxis int, offsetAxes, collapsed, startMap, sliceSizes []int) any {
	res := newFlat(out.DType, out.Size())
	if out.Size() == 0 {
		return res
	}
	outStr := stridesOf(out.Dimensions)
	opStr := stridesOf(os.Dimensions)
	isOffset := make([]bool, out.Rank())
	for _, a := range offsetAxes {
		isOffset[a] = true
	}
	// Batch axes of the output, in order, match the index tensor's batch dims.
	bDims, bIdxStr, vecStr := batchLayout(is, ivAxis)
	var bOutStr []int
	for a := range out.Dimensions {
		if !isOffset[a] {
			bOutStr = append(bOutStr, outStr[a])
		}
	}
	// Slice axes: every operand axis, with the output stride of its offset axis (0 when collapsed).
	sOutStr := make([]int, os.Rank())
	k := 0
	for a := range os.Dimensions {
		if slices.Contains(collapsed, a) {
			continue
		}
		sOutStr[a] = outStr[offsetAxes[k]]
		k++
	}
	mover := moverFor(out.DType.Size(), res, x)
	forEachIndex(bDims, bIdxStr, bOutStr, func(iOff, oOff int) {
		start := 0
		for j, a := range startMap {
			s := idx[iOff+j*vecStr]
			s = min(max(s, 0), os.Dimensions[a]-sliceSizes[a])
			start += s * opStr[a]
		}
		mover(sliceSizes, sOutStr, opStr, oOff, start)
	})
	return res
}

// forEachIndex calls f with the two offsets of every multi-index of dims (at least once, for rank 0).
func forEachIndex(dims, s1, s2 []int, f func(o1, o2 int)) {
	if len(dims) == 0 {
		f(0, 0)
		return
	}
	forRows(dims, s1, s2, 0, 0, func(o1, o2, n, st1, st2 int) {
		for range n {
			f(o1, o2)
			o1 += st1
			o2 += st2
		}
	})
}

func moverFor(size int, dst, src any) func(dims, ds, ss []int, db, sb int) {
	switch size {
	case 1:
		d, s := words[uint8](dst), words[uint8](src)
		return func(dims, ds, ss []int, db, sb int) { stridedCopy(d, s, dims, ds, ss, db, sb) }
	case 2:
		d, s := words[uint16](dst), words[uint16](src)
		return func(dims, ds, ss []int, db, sb int) { stridedCopy(d, s, dims, ds, ss, db, sb) }
	case 4:
		d, s := words[uint32](dst), words[uint32](src)
		return func(dims, ds, ss []int, db, sb int) { stridedCopy(d, s, dims, ds, ss, db, sb) }
	case 8:
		d, s := words[uint64](dst), words[uint64](src)
		return func(dims, ds, ss []int, db, sb int) { stridedCopy(d, s, dims, ds, ss, db, sb) }
	}
	panic(fmt.Sprintf("cpubackend: element size %d", size))
}

func (b *Builder) scatter(op backends.OpType, operand, indices, updates backends.Op, ivAxis int,
	windowAxes, insertedAxes, toOperand []int) (backends.Op, error) {
	in, err := b.in(op, operand, indices, updates)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.ScatterOp(in[0].shape, in[1].shape, in[2].shape, ivAxis, windowAxes, insertedAxes, toOperand)
	if err != nil {
		return nil, err
	}
	if !supportedNumeric(out.DType) {
		return nil, fmt.Errorf("cpubackend: %s of %s is not implemented", op, out)
	}
	os, is, us := in[0].shape, in[1].shape, in[2].shape
	windowAxes, insertedAxes, toOperand = slices.Clone(windowAxes), slices.Clone(insertedAxes), slices.Clone(toOperand)
	into := func(dst, indices, updates any) {
		scatter(op, dst, indexValues(indices), updates, os, is, us, ivAxis, windowAxes, insertedAxes, toOperand)
	}
	if c, ok := scalarBroadcast(in[0]); ok && out.DType == dtypes.Float32 {
		// The operand is a constant filled in (a gradient's zeros): fill the result instead.
		n := b.newNode(op, out, func(_ *Backend, v []any) any {
			res := getF32(out.Size())
			fillF32(res, c)
			into(res, v[0], v[1])
			return res
		}, in[1], in[2])
		n.scatterInto = into
		n.constVal = c
		return n, nil
	}
	n := b.newNode(op, out, func(_ *Backend, v []any) any {
		res := cloneFlat(v[0])
		into(res, v[1], v[2])
		return res
	}, in...)
	n.runInto = func(_ *Backend, v []any, dst any) any {
		into(dst, v[1], v[2])
		return dst
	}
	n.inPlace = []int{0}
	return n, nil
}

// scalarBroadcast reports whether n is a float32 scalar Constant broadcast to a shape, and its value.
func scalarBroadcast(n *node) (float32, bool) {
	if n.op != backends.OpTypeBroadcastInDim || n.shape.DType != dtypes.Float32 {
		return 0, false
	}
	c, ok := n.inputs[0].constVal.([]float32)
	if n.inputs[0].op != backends.OpTypeConstant || !ok || len(c) != 1 {
		return 0, false
	}
	return c[0], true
}

func fillF32(s []float32, c float32) {
	if c == 0 {
		clear(s)
		return
	}
	for i := range s {
		s[i] = c
	}
}

func (b *Builder) ScatterSum(operand, indices, updates backends.Op, ivAxis int, windowAxes, insertedAxes,
	toOperand []int, sorted, unique bool) (backends.Op, error) {
	return b.scatter(backends.OpTypeScatterSum, operand, indices, updates, ivAxis, windowAxes, insertedAxes, toOperand)
}

func (b *Builder) ScatterMax(operand, indices, updates backends.Op, ivAxis int, windowAxes, insertedAxes,
	toOperand []int, sorted, unique bool) (backends.Op, error) {
	return b.scatter(backends.OpTypeScatterMax, operand, indices, updates, ivAxis, windowAxes, insertedAxes, toOperand)
}

func (b *Builder) ScatterMin(operand, indices, updates backends.Op, ivAxis int, windowAxes, insertedAxes,
	toOperand []int, sorted, unique bool) (backends.Op, error) {
	return b.scatter(backends.OpTypeScatterMin, operand, indices, updates, ivAxis, windowAxes, insertedAxes, toOperand)
}

// scatter combines each update window into res at its start index; windows that do not fit entirely
// inside the operand are skipped, as XLA does for out-of-bounds indices.
func scatter(op backends.OpType, res any, idx []int, upd any, os, is, us shapes.Shape, ivAxis int,
	windowAxes, insertedAxes, toOperand []int) {
	switch r := res.(type) {
	case []float32:
		scatterNum(op, r, idx, upd.([]float32), os, is, us, ivAxis, windowAxes, insertedAxes, toOperand)
	case []float64:
		scatterNum(op, r, idx, upd.([]float64), os, is, us, ivAxis, windowAxes, insertedAxes, toOperand)
	case []int32:
		scatterNum(op, r, idx, upd.([]int32), os, is, us, ivAxis, windowAxes, insertedAxes, toOperand)
	case []int64:
		scatterNum(op, r, idx, upd.([]int64), os, is, us, ivAxis, windowAxes, insertedAxes, toOperand)
	default:
		panic(fmt.Sprintf("cpubackend: %s of %T", op, res))
	}
}

func scatterNum[T number](op backends.OpType, res []T, idx []int, upd []T, os, is, us shapes.Shape, ivAxis int,
	windowAxes, insertedAxes, toOperand []int) {
	opStr := stridesOf(os.Dimensions)
	uStr := stridesOf(us.Dimensions)
	isWindow := make([]bool, us.Rank())
	for _, a := range windowAxes {
		isWindow[a] = true
	}
	bDims, bIdxStr, vecStr := batchLayout(is, ivAxis)
	var bUpdStr []int
	var wDims, wUpdStr, wOpStr []int
	for a := range us.Dimensions {
		if !isWindow[a] {
			bUpdStr = append(bUpdStr, uStr[a])
		}
	}
	// Window axes of the update map, in order, to the operand axes that are not inserted.
	k := 0
	for a := range os.Dimensions {
		if slices.Contains(insertedAxes, a) {
			continue
		}
		ua := windowAxes[k]
		wDims = append(wDims, us.Dimensions[ua])
		wUpdStr = append(wUpdStr, uStr[ua])
		wOpStr = append(wOpStr, opStr[a])
		k++
	}
	// windowOf[a] is the window size along operand axis a.
	windowOf := make([]int, os.Rank())
	k = 0
	for a := range os.Dimensions {
		windowOf[a] = 1
		if !slices.Contains(insertedAxes, a) {
			windowOf[a] = wDims[k]
			k++
		}
	}
	if len(wDims) == 0 {
		wDims, wUpdStr, wOpStr = []int{1}, []int{0}, []int{0}
	}
	forEachIndex(bDims, bIdxStr, bUpdStr, func(iOff, uOff int) {
		start := 0
		for j, a := range toOperand {
			s := idx[iOff+j*vecStr]
			if s < 0 || s+windowOf[a] > os.Dimensions[a] {
				return
			}
			start += s * opStr[a]
		}
		forRows(wDims, wOpStr, wUpdStr, start, uOff, func(o, u, n, so, su int) {
			for range n {
				switch op {
				case backends.OpTypeScatterSum:
					res[o] += upd[u]
				case backends.OpTypeScatterMax:
					res[o] = maxOf(res[o], upd[u])
				case backends.OpTypeScatterMin:
					res[o] = minOf(res[o], upd[u])
				}
				o += so
				u += su
			}
		})
	})
}
