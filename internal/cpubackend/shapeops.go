package cpubackend

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

func reflectLen(flat any) int { return reflect.ValueOf(flat).Len() }

func stridesOf(dims []int) []int {
	s := make([]int, len(dims))
	acc := 1
	for i := len(dims) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= dims[i]
	}
	return s
}

// compact drops size-1 axes and merges adjacent axes that are contiguous in both stride lists, so
// that the innermost loop of forRows is as long as possible.
func compact(dims, s1, s2 []int) ([]int, []int, []int) {
	var d, a, b []int
	for i := range dims {
		if dims[i] == 1 {
			continue
		}
		if k := len(d) - 1; k >= 0 && a[k] == s1[i]*dims[i] && b[k] == s2[i]*dims[i] {
			d[k] *= dims[i]
			a[k], b[k] = s1[i], s2[i]
			continue
		}
		d, a, b = append(d, dims[i]), append(a, s1[i]), append(b, s2[i])
	}
	if len(d) == 0 {
		return []int{1}, []int{0}, []int{0}
	}
	return d, a, b
}

// forRows walks the index space dims and calls row once per innermost row with the offsets of its
// first element in two strided layouts, the row length and the innermost strides.
func forRows(dims, s1, s2 []int, base1, base2 int, row func(o1, o2, n, st1, st2 int)) {
	for _, d := range dims {
		if d == 0 {
			return
		}
	}
	dims, s1, s2 = compact(dims, s1, s2)
	r := len(dims) - 1
	n, st1, st2 := dims[r], s1[r], s2[r]
	if r == 0 {
		row(base1, base2, n, st1, st2)
		return
	}
	idx := make([]int, r)
	o1, o2 := base1, base2
	for {
		row(o1, o2, n, st1, st2)
		k := r - 1
		for ; k >= 0; k-- {
			idx[k]++
			o1 += s1[k]
			o2 += s2[k]
			if idx[k] < dims[k] {
				break
			}
			o1 -= s1[k] * dims[k]
			o2 -= s2[k] * dims[k]
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// stridedCopy copies the index space dims from src (strides ss, offset sb) into dst (strides ds, offset db).
func stridedCopy[W any](dst, src []W, dims, ds, ss []int, db, sb int) {
	forRows(dims, ds, ss, db, sb, func(o1, o2, n, st1, st2 int) {
		switch {
		case st1 == 1 && st2 == 1:
			copy(dst[o1:o1+n], src[o2:o2+n])
		case st1 == 1 && st2 == 0:
			v := src[o2]
			d := dst[o1 : o1+n]
			for i := range d {
				d[i] = v
			}
		case st1 == 1:
			d := dst[o1 : o1+n]
			for i := range d {
				d[i] = src[o2]
				o2 += st2
			}
		default:
			for range n {
				dst[o1] = src[o2]
				o1 += st1
				o2 += st2
			}
		}
	})
}

// gatherStrided builds a new flat of shape out whose element at multi-index i is src[base + Σ i_k·strides_k].
func gatherStrided(src any, dtype dtypes.DType, out shapes.Shape, strides []int, base int) any {
	res := newFlat(dtype, out.Size())
	if out.Size() == 0 {
		return res
	}
	ds := stridesOf(out.Dimensions)
	dims := out.Dimensions
	if len(dims) == 0 {
		dims, ds, strides = []int{1}, []int{1}, []int{0}
	}
	switch dtype.Size() {
	case 1:
		stridedCopy(words[uint8](res), words[uint8](src), dims, ds, strides, 0, base)
	case 2:
		stridedCopy(words[uint16](res), words[uint16](src), dims, ds, strides, 0, base)
	case 4:
		stridedCopy(words[uint32](res), words[uint32](src), dims, ds, strides, 0, base)
	case 8:
		stridedCopy(words[uint64](res), words[uint64](src), dims, ds, strides, 0, base)
	default:
		panic(fmt.Sprintf("cpubackend: dtype %s of size %d", dtype, dtype.Size()))
	}
	return res
}

func transpose(x any, src shapes.Shape, perm []int) any {
	ss := stridesOf(src.Dimensions)
	out := src.Clone()
	strides := make([]int, len(perm))
	for i, p := range perm {
		out.Dimensions[i] = src.Dimensions[p]
		strides[i] = ss[p]
	}
	return gatherStrided(x, src.DType, out, strides, 0)
}

func broadcastInDim(x any, src, out shapes.Shape, axes []int) any {
	ss := stridesOf(src.Dimensions)
	strides := make([]int, out.Rank())
	for i, a := range axes {
		if src.Dimensions[i] != 1 {
			strides[a] = ss[i]
		}
	}
	o := out.Clone()
	o.DType = src.DType
	return gatherStrided(x, src.DType, o, strides, 0)
}

func slice(x any, src, out shapes.Shape, starts, steps []int) any {
	ss := stridesOf(src.Dimensions)
	strides := make([]int, src.Rank())
	base := 0
	for i := range strides {
		strides[i] = ss[i] * steps[i]
		base += starts[i] * ss[i]
	}
	return gatherStrided(x, src.DType, out, strides, base)
}

func concatenate(v []any, ins []shapes.Shape, out shapes.Shape, axis int) any {
	res := newFlat(out.DType, out.Size())
	outer := 1
	for _, d := range out.Dimensions[:axis] {
		outer *= d
	}
	rowOut := out.Size() / max(outer, 1)
	if outer == 0 || rowOut == 0 {
		return res
	}
	dst := reflect.ValueOf(res)
	pos := 0
	for i, x := range v {
		rowIn := ins[i].Size() / outer
		if rowIn == 0 {
			continue
		}
		src := reflect.ValueOf(x)
		for o := range outer {
			reflect.Copy(dst.Slice(o*rowOut+pos, o*rowOut+pos+rowIn), src.Slice(o*rowIn, (o+1)*rowIn))
		}
		pos += rowIn
	}
	return res
}

func iota(shape shapes.Shape, axis int) any {
	n := shape.Size()
	inner := 1
	for _, d := range shape.Dimensions[axis+1:] {
		inner *= d
	}
	dim := shape.Dimensions[axis]
	idx := make([]float64, n)
	for i := range idx {
		idx[i] = float64((i / inner) % dim)
	}
	return convertFrom(idx, shape.DType)
}

// ---- reductions ----

func reduceOp(op backends.OpType, x any, src, out shapes.Shape, axes []int) any {
	switch x := x.(type) {
	case []float32:
		return reduceNum(op, x, src, axes)
	case []float64:
		return reduceNum(op, x, src, axes)
	case []int32:
		return reduceNum(op, x, src, axes)
	case []int64:
		return reduceNum(op, x, src, axes)
	case []uint64:
		return reduceNum(op, x, src, axes)
	case []uint32:
		return reduceNum(op, x, src, axes)
	case []int8:
		return reduceNum(op, x, src, axes)
	case []int16:
		return reduceNum(op, x, src, axes)
	case []uint8:
		return reduceNum(op, x, src, axes)
	case []uint16:
		return reduceNum(op, x, src, axes)
	}
	panic(fmt.Sprintf("cpubackend: %s of %T", op, x))
}

func reduceNum[T number](op backends.OpType, x []T, src shapes.Shape, axes []int) []T {
	reduced := make([]bool, src.Rank())
	for _, a := range axes {
		reduced[a] = true
	}
	var outDims []int
	for i, d := range src.Dimensions {
		if !reduced[i] {
			outDims = append(outDims, d)
		}
	}
	os := stridesOf(outDims)
	ostr := make([]int, src.Rank())
	k := 0
	for i := range src.Dimensions {
		if !reduced[i] {
			ostr[i] = os[k]
			k++
		}
	}
	n := 1
	for _, d := range outDims {
		n *= d
	}
	out := makeSlice[T](n)
	var init T
	switch op {
	case backends.OpTypeReduceProduct:
		init = 1
	case backends.OpTypeReduceMax:
		init = lowest[T]()
	case backends.OpTypeReduceMin:
		init = highest[T]()
	}
	for i := range out {
		out[i] = init
	}
	if len(x) == 0 {
		return out
	}
	dims := src.Dimensions
	if len(dims) == 0 {
		out[0] = x[0]
		return out
	}
	out32, _ := any(out).([]float32)
	x32, _ := any(x).([]float32)
	forRows(dims, ostr, stridesOf(dims), 0, 0, func(o, s, m, so, ss int) {
		if out32 != nil && ss == 1 && (so == 0 || so == 1) { // contiguous float32: SIMD kernels
			switch {
			case so == 0 && op == backends.OpTypeReduceSum:
				out32[o] += sumF32(x32[s : s+m])
				return
			case so == 0 && op == backends.OpTypeReduceMax:
				out32[o] = maxOf(out32[o], maxF32(x32[s:s+m]))
				return
			case so == 1 && op == backends.OpTypeReduceSum:
				addF32(out32[o:o+m], out32[o:o+m], x32[s:s+m])
				return
			}
		}
		if so == 0 { // the row is reduced into one output element
			acc := out[o]
			switch op {
			case backends.OpTypeReduceSum:
				for range m {
					acc += x[s]
					s += ss
				}
			case backends.OpTypeReduceProduct:
				for range m {
					acc *= x[s]
					s += ss
				}
			case backends.OpTypeReduceMax:
				for range m {
					acc = maxOf(acc, x[s])
					s += ss
				}
			case backends.OpTypeReduceMin:
				for range m {
					acc = minOf(acc, x[s])
					s += ss
				}
			}
			out[o] = acc
			return
		}
		for range m {
			switch op {
			case backends.OpTypeReduceSum:
				out[o] += x[s]
			case backends.OpTypeReduceProduct:
				out[o] *= x[s]
			case backends.OpTypeReduceMax:
				out[o] = maxOf(out[o], x[s])
			case backends.OpTypeReduceMin:
				out[o] = minOf(out[o], x[s])
			}
			o += so
			s += ss
		}
	})
	return out
}

func lowest[T number]() T {
	switch any(T(0)).(type) {
	case float32:
		return T(math.Inf(-1))
	case float64:
		return T(math.Inf(-1))
	case int8:
		return fromInt64[T](math.MinInt8)
	case int16:
		return fromInt64[T](math.MinInt16)
	case int32:
		return fromInt64[T](math.MinInt32)
	case int64:
		return fromInt64[T](math.MinInt64)
	}
	return 0
}

func highest[T number]() T {
	switch any(T(0)).(type) {
	case float32:
		return T(math.Inf(1))
	case float64:
		return T(math.Inf(1))
	case int8:
		return fromInt64[T](math.MaxInt8)
	case int16:
		return fromInt64[T](math.MaxInt16)
	case int32:
		return fromInt64[T](math.MaxInt32)
	case int64:
		return fromInt64[T](math.MaxInt64)
	case uint8:
		return fromInt64[T](math.MaxUint8)
	case uint16:
		return fromInt64[T](math.MaxUint16)
	case uint32:
		return fromInt64[T](math.MaxUint32)
	}
	var z uint64
	return T(^z) // uint64: all bits set
}

// fromInt64 converts at run time, where the compiler cannot reject the conversion for other
// instantiations of T.
func fromInt64[T number](v int64) T { return T(v) }

func argMinMax(x []float32, src, out shapes.Shape, axis int, isMin bool) any {
	inner := 1
	for _, d := range src.Dimensions[axis+1:] {
		inner *= d
	}
	dim := src.Dimensions[axis]
	outer := len(x) / max(dim*inner, 1)
	idx := make([]float64, outer*inner)
	for o := range outer {
		for i := range inner {
			best, bi := x[o*dim*inner+i], 0
			for k := 1; k < dim; k++ {
				v := x[(o*dim+k)*inner+i]
				if best != best {
					break
				}
				if v != v || (isMin && v < best) || (!isMin && v > best) {
					best, bi = v, k
				}
			}
			idx[o*inner+i] = float64(bi)
		}
	}
	return convertFrom(idx, out.DType)
}

// rngBits fills shape with pseudo-random bits from a PCG seeded with the first two state words and
// returns the advanced state, with the same layout of bytes as GoMLX's pure-Go backend, so that
// both produce the same random numbers from the same state.
func rngBits(state []uint64, shape shapes.Shape) []any {
	rng := rand.NewPCG(state[0], state[1])
	res := newFlat(shape.DType, shape.Size())
	bytes := words[uint8](res)
	if bs := shape.DType.Size(); bs > 1 {
		bytes = bytes[:0]
		if n := shape.Size() * bs; n > 0 {
			bytes = unsafeBytes(res, n)
		}
	}
	var bits uint64
	for i := range bytes {
		if i%8 == 0 {
			bits = rng.Uint64()
		}
		bytes[i] = byte(bits)
		bits >>= 8
	}
	m, err := rng.MarshalBinary()
	if err != nil || len(m) != 20 || string(m[:4]) != "pcg:" {
		panic(fmt.Sprintf("cpubackend: RNGBitGenerator: unexpected PCG state encoding %q (err %v)", m, err))
	}
	ns := []uint64{binary.LittleEndian.Uint64(m[4:12]), binary.LittleEndian.Uint64(m[12:20]), state[2]}
	return []any{ns, res}
}
