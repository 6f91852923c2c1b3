package cpubackend

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

type number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type float interface{ ~float32 | ~float64 }

func supportedNumeric(d dtypes.DType) bool {
	switch d {
	case dtypes.Float32, dtypes.Float64, dtypes.Int8, dtypes.Int16, dtypes.Int32, dtypes.Int64,
		dtypes.Uint8, dtypes.Uint16, dtypes.Uint32, dtypes.Uint64:
		return true
	}
	return false
}

func sliceLen(flat any) int {
	switch f := flat.(type) {
	case []float32:
		return len(f)
	case []float64:
		return len(f)
	case []int32:
		return len(f)
	case []int64:
		return len(f)
	case []bool:
		return len(f)
	}
	return reflectLen(flat)
}

// ---- unary ----

func (b *Builder) unary(op backends.OpType, x backends.Op) (backends.Op, error) {
	in, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.UnaryOp(op, in[0].shape)
	if err != nil {
		return nil, err
	}
	dt := in[0].shape.DType
	switch {
	case op == backends.OpTypeLogicalNot:
	case dt == dtypes.Float32 || dt == dtypes.Float64:
	case supportedNumeric(dt) && (op == backends.OpTypeNeg || op == backends.OpTypeAbs || op == backends.OpTypeSign ||
		op == backends.OpTypeBitwiseNot):
	default:
		return nil, fmt.Errorf("cpubackend: %s of %s is not implemented", op, in[0].shape)
	}
	n := b.newNode(op, out, func(_ *Backend, v []any) any { return unaryOp(op, v[0]) }, in...)
	if dt == dtypes.Float32 && out.DType == dtypes.Float32 {
		n.runInto = func(_ *Backend, v []any, dst any) any { return unaryFloat(op, v[0].([]float32), dst.([]float32)) }
		n.inPlace = []int{0}
	}
	return n, nil
}

func unaryOp(op backends.OpType, x any) any {
	switch x := x.(type) {
	case []float32:
		return unaryFloat(op, x, nil)
	case []float64:
		return unaryFloat(op, x, nil)
	case []bool:
		out := make([]bool, len(x))
		for i, v := range x {
			out[i] = !v
		}
		return out
	case []int32:
		return unaryInt(op, x)
	case []int64:
		return unaryInt(op, x)
	case []int8:
		return unaryInt(op, x)
	case []int16:
		return unaryInt(op, x)
	case []uint8:
		return unaryInt(op, x)
	case []uint16:
		return unaryInt(op, x)
	case []uint32:
		return unaryInt(op, x)
	case []uint64:
		return unaryInt(op, x)
	}
	panic(fmt.Sprintf("cpubackend: %s of %T", op, x))
}

func unaryInt[T integer](op backends.OpType, x []T) []T {
	out := make([]T, len(x))
	switch op {
	case backends.OpTypeNeg:
		for i, v := range x {
			out[i] = -v
		}
	case backends.OpTypeAbs:
		for i, v := range x {
			if v < 0 {
				v = -v
			}
			out[i] = v
		}
	case backends.OpTypeSign:
		for i, v := range x {
			switch {
			case v > 0:
				out[i] = 1
			case v < 0:
				var one T = 1
				out[i] = 0 - one
			}
		}
	case backends.OpTypeBitwiseNot:
		for i, v := range x {
			out[i] = ^v
		}
	default:
		panic(fmt.Sprintf("cpubackend: %s of integers", op))
	}
	return out
}

func unaryFloat[T float](op backends.OpType, x []T, out []T) any {
	if op == backends.OpTypeIsFinite || op == backends.OpTypeIsNaN {
		out := make([]bool, len(x))
		for i, v := range x {
			f := float64(v)
			if op == backends.OpTypeIsNaN {
				out[i] = math.IsNaN(f)
			} else {
				out[i] = !math.IsNaN(f) && !math.IsInf(f, 0)
			}
		}
		return out
	}
	if out == nil {
		out = makeSlice[T](len(x))
	}
	if x32, ok := any(x).([]float32); ok && (op == backends.OpTypeExp || op == backends.OpTypeLogistic) {
		kind := kindExp
		if op == backends.OpTypeLogistic {
			kind = kindLogistic
		}
		unaryExp32(kind, x32, any(out).([]float32))
		return out
	}
	var f func(float64) float64
	switch op {
	case backends.OpTypeNeg:
		for i, v := range x {
			out[i] = -v
		}
		return out
	case backends.OpTypeAbs:
		for i, v := range x {
			if v < 0 {
				v = -v
			}
			out[i] = v
		}
		return out
	case backends.OpTypeSign:
		for i, v := range x {
			switch {
			case v > 0:
				out[i] = 1
			case v < 0:
				out[i] = -1
			default:
				out[i] = v // 0, -0 or NaN
			}
		}
		return out
	case backends.OpTypeSqrt:
		for i, v := range x {
			out[i] = T(math.Sqrt(float64(v)))
		}
		return out
	case backends.OpTypeRsqrt:
		for i, v := range x {
			out[i] = T(1 / math.Sqrt(float64(v)))
		}
		return out
	case backends.OpTypeExp:
		f = math.Exp
	case backends.OpTypeExpm1:
		f = math.Expm1
	case backends.OpTypeLog:
		f = math.Log
	case backends.OpTypeLog1p:
		f = math.Log1p
	case backends.OpTypeLogistic:
		f = func(v float64) float64 {
			if v >= 0 {
				return 1 / (1 + math.Exp(-v))
			}
			e := math.Exp(v)
			return e / (1 + e)
		}
	case backends.OpTypeCos:
		f = math.Cos
	case backends.OpTypeSin:
		f = math.Sin
	case backends.OpTypeTanh:
		f = math.Tanh
	case backends.OpTypeFloor:
		f = math.Floor
	case backends.OpTypeCeil:
		f = math.Ceil
	case backends.OpTypeRound:
		f = math.RoundToEven
	case backends.OpTypeErf:
		f = math.Erf
	default:
		panic(fmt.Sprintf("cpubackend: unary %s of floats", op))
	}
	for i, v := range x {
		out[i] = T(f(float64(v)))
	}
	return out
}

func (b *Builder) Abs(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeAbs, x) }
func (b *Builder) Neg(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeNeg, x) }
func (b *Builder) Sign(x backends.Op) (backends.Op, error)  { return b.unary(backends.OpTypeSign, x) }
func (b *Builder) Exp(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeExp, x) }
func (b *Builder) Expm1(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeExpm1, x) }
func (b *Builder) Log(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeLog, x) }
func (b *Builder) Log1p(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeLog1p, x) }
func (b *Builder) Sqrt(x backends.Op) (backends.Op, error)  { return b.unary(backends.OpTypeSqrt, x) }
func (b *Builder) Rsqrt(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeRsqrt, x) }
func (b *Builder) Logistic(x backends.Op) (backends.Op, error) {
	return b.unary(backends.OpTypeLogistic, x)
}
func (b *Builder) Cos(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeCos, x) }
func (b *Builder) Sin(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeSin, x) }
func (b *Builder) Tanh(x backends.Op) (backends.Op, error)  { return b.unary(backends.OpTypeTanh, x) }
func (b *Builder) Floor(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeFloor, x) }
func (b *Builder) Ceil(x backends.Op) (backends.Op, error)  { return b.unary(backends.OpTypeCeil, x) }
func (b *Builder) Round(x backends.Op) (backends.Op, error) { return b.unary(backends.OpTypeRound, x) }
func (b *Builder) Erf(x backends.Op) (backends.Op, error)   { return b.unary(backends.OpTypeErf, x) }
func (b *Builder) IsFinite(x backends.Op) (backends.Op, error) {
	return b.unaryBool(backends.OpTypeIsFinite, x)
}
func (b *Builder) IsNaN(x backends.Op) (backends.Op, error) {
	return b.unaryBool(backends.OpTypeIsNaN, x)
}
func (b *Builder) LogicalNot(x backends.Op) (backends.Op, error) {
	return b.unary(backends.OpTypeLogicalNot, x)
}
func (b *Builder) BitwiseNot(x backends.Op) (backends.Op, error) {
	return b.unary(backends.OpTypeBitwiseNot, x)
}

func (b *Builder) unaryBool(op backends.OpType, x backends.Op) (backends.Op, error) {
	in, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	dt := in[0].shape.DType
	if dt != dtypes.Float32 && dt != dtypes.Float64 {
		return nil, fmt.Errorf("cpubackend: %s of %s is not implemented", op, in[0].shape)
	}
	out := in[0].shape.Clone()
	out.DType = dtypes.Bool
	return b.newNode(op, out, func(_ *Backend, v []any) any { return unaryOp(op, v[0]) }, in...), nil
}

// ---- binary ----

func (b *Builder) binary(op backends.OpType, lhs, rhs backends.Op) (backends.Op, error) {
	in, err := b.in(op, lhs, rhs)
	if err != nil {
		return nil, err
	}
	var out shapes.Shape
	if shapeinference.ComparisonOperations.Has(op) {
		out, err = shapeinference.ComparisonOp(op, in[0].shape, in[1].shape)
	} else {
		out, err = shapeinference.BinaryOp(op, in[0].shape, in[1].shape)
	}
	if err != nil {
		return nil, err
	}
	dt := in[0].shape.DType
	if !supportedNumeric(dt) && dt != dtypes.Bool {
		return nil, fmt.Errorf("cpubackend: %s of %s is not implemented", op, in[0].shape)
	}
	sa, sb := in[0].shape, in[1].shape
	f32 := dt == dtypes.Float32 && !shapeinference.ComparisonOperations.Has(op)
	if f32 && op == backends.OpTypeAdd {
		if n := b.fusedScatterAdd(in[0], in[1], out); n != nil {
			return n, nil
		}
	}
	if f32 {
		// A broadcast feeding this op is read by blocks instead of being expanded (the
		// BroadcastInDim then never runs if nothing else needs it).
		ea, eb := in[0], in[1]
		if x, s, ok := lazyBroadcast(in[0]); ok {
			ea, sa = x, s
		}
		if y, s, ok := lazyBroadcast(in[1]); ok {
			eb, sb = y, s
		}
		if sa.Size() != out.Size() && sa.Equal(sb) && !sa.IsScalar() {
			// Both operands broadcast the same way: apply op to the small operands, then expand once.
			small := sa
			n := b.newNode(op, out, func(_ *Backend, v []any) any {
				r := binaryNum(op, v[0].([]float32), v[1].([]float32), small.Size(), nil)
				res := broadcastInDim(r, small, out, allAxes(small.Rank()))
				putFlat(r)
				return res
			}, ea, eb)
			return n, nil
		}
		run, full := blockBroadcast(op, sa, sb, out)
		if run == nil && (ea != in[0] || eb != in[1]) { // reading the broadcast's operand does not help
			ea, eb, sa, sb = in[0], in[1], in[0].shape, in[1].shape
			run, full = blockBroadcast(op, sa, sb, out)
		}
		if run != nil {
			n := b.newNode(op, out, func(_ *Backend, v []any) any {
				return run(v[0].([]float32), v[1].([]float32), nil)
			}, ea, eb)
			n.runInto = func(_ *Backend, v []any, dst any) any {
				return run(v[0].([]float32), v[1].([]float32), dst.([]float32))
			}
			n.inPlace = []int{full}
			return n, nil
		}
		sa, sb = in[0].shape, in[1].shape
	}
	full := out.Clone()
	full.DType = sa.DType
	// run computes op into dst (allocated when nil). Operands broadcast only from scalars or size-1
	// axes: those that are neither are expanded first.
	run := func(x, y, dst any) any {
		xe := !sa.IsScalar() && sa.Size() != full.Size()
		ye := !sb.IsScalar() && sb.Size() != full.Size()
		if xe {
			x = broadcastInDim(x, sa, full, allAxes(sa.Rank()))
		}
		if ye {
			y = broadcastInDim(y, sb, full, allAxes(sb.Rank()))
		}
		var res any
		if dst != nil {
			res = binaryNum(op, x.([]float32), y.([]float32), full.Size(), dst.([]float32))
		} else {
			res = binaryOp(op, x, y, full.Size())
		}
		if xe {
			putFlat(x)
		}
		if ye {
			putFlat(y)
		}
		return res
	}
	n := b.newNode(op, out, func(_ *Backend, v []any) any { return run(v[0], v[1], nil) }, in...)
	if f32 {
		for k, s := range []shapes.Shape{sa, sb} {
			if !s.IsScalar() && s.Size() == full.Size() {
				n.inPlace = append(n.inPlace, k)
			}
		}
		n.runInto = func(_ *Backend, v []any, dst any) any { return run(v[0], v[1], dst) }
	}
	return n, nil
}

// fusedScatterAdd returns, for x + ScatterSum(zeros, indices, updates) (either way round, as the
// gradient of a Gather adds to another gradient), a node that scatters the updates straight into x
// (in place when x dies here), so that the zeros are never materialised; nil if the pattern is absent.
func (b *Builder) fusedScatterAdd(x, y *node, out shapes.Shape) *node {
	for _, p := range [][2]*node{{x, y}, {y, x}} {
		full, sc := p[0], p[1]
		for sc.op == backends.OpTypeReshape { // the scatter's flat layout is the same
			sc = sc.inputs[0]
		}
		zero, ok := sc.constVal.(float32)
		if sc.op != backends.OpTypeScatterSum || sc.scatterInto == nil || !ok || zero != 0 ||
			!full.shape.Equal(out) || sc.shape.Size() != out.Size() {
			continue
		}
		into := sc.scatterInto
		n := b.newNode(backends.OpTypeAdd, out, func(_ *Backend, v []any) any {
			res := cloneFlat(v[0])
			into(res, v[1], v[2])
			return res
		}, full, sc.inputs[0], sc.inputs[1])
		n.runInto = func(_ *Backend, v []any, dst any) any {
			into(dst, v[1], v[2])
			return dst
		}
		n.inPlace = []int{0}
		return n
	}
	return nil
}

// lazyBroadcast returns the operand of a BroadcastInDim node that keeps the operand's axis order,
// and the operand's shape with size-1 axes inserted where the broadcast adds axes: element-wise ops
// can read that directly by rows or columns.
func lazyBroadcast(n *node) (*node, shapes.Shape, bool) {
	if n.op != backends.OpTypeBroadcastInDim || n.shape.DType != dtypes.Float32 {
		return nil, shapes.Shape{}, false
	}
	src := n.inputs[0]
	dims := make([]int, n.shape.Rank())
	for i := range dims {
		dims[i] = 1
	}
	for i, a := range n.bcastAxes {
		if i > 0 && a <= n.bcastAxes[i-1] {
			return nil, shapes.Shape{}, false
		}
		dims[a] = src.shape.Dimensions[i]
	}
	return src, shapes.Make(dtypes.Float32, dims...), true
}

// broadcastKind classifies how an operand of shape s broadcasts to full: bcastNone (same size or
// a scalar: the plain loops handle it), bcastRows (s is full with its trailing axes from some point
// set to 1: one value per block of inner elements, as a softmax's row max), bcastCols (s is full
// with its leading axes up to some point set to 1: the same inner values for every block, as a
// norm's weight), bcastRun (s is full with one run of consecutive axes [p, q) set to 1 in the
// middle: full = [outer, mid, inner] blocks against s = [outer, 1, inner]) or bcastOther.
type broadcastKind int

const (
	bcastNone  broadcastKind = 0
	bcastRows  broadcastKind = 1
	bcastCols  broadcastKind = 2
	bcastOther broadcastKind = 3
	bcastRun   broadcastKind = 4
)

// minBlock is the smallest block a blocked broadcast loops over; smaller ones are expanded.
const minBlock = 8

// broadcastOf returns how s broadcasts to full and, for rows, the number of rows and the row length
// (outer, inner), or for columns the number of repeats and the repeated length.
func broadcastOf(s, full shapes.Shape) (kind broadcastKind, outer, inner int) {
	k, o, _, in := broadcastRun(s, full)
	switch k {
	case bcastRows:
		return k, o, full.Size() / max(o, 1)
	case bcastCols:
		return k, full.Size() / max(in, 1), in
	}
	return k, 0, 0
}

// broadcastRun finds the single run of axes along which s broadcasts to full; see broadcastOf.
func broadcastRun(s, full shapes.Shape) (kind broadcastKind, outer, mid, inner int) {
	if s.IsScalar() || s.Size() == full.Size() {
		return bcastNone, 0, 0, 0
	}
	r := full.Rank()
	p := 0
	for p < r && s.Dimensions[p] == full.Dimensions[p] {
		p++
	}
	q := p
	for q < r && s.Dimensions[q] == 1 {
		q++
	}
	for q > p && full.Dimensions[q-1] == 1 { // size-1 axes of both belong to either side
		q--
	}
	if !slices.Equal(s.Dimensions[q:], full.Dimensions[q:]) {
		return bcastOther, 0, 0, 0
	}
	outer, mid, inner = 1, 1, 1
	for i, d := range full.Dimensions {
		switch {
		case i < p:
			outer *= d
		case i < q:
			mid *= d
		default:
			inner *= d
		}
	}
	switch {
	case inner == 1 && mid >= minBlock:
		return bcastRows, outer, mid, 1
	case outer == 1 && inner >= minBlock:
		return bcastCols, 1, mid, inner
	case inner >= minBlock:
		return bcastRun, outer, mid, inner
	}
	return bcastOther, 0, 0, 0
}

// blockBroadcast returns a float32 loop for op when one operand is full-sized and the other
// broadcasts by rows or columns, so that the broadcast operand is never expanded, and which operand
// is the full one (the loop may write into it); nil otherwise. The loop writes into res, or into a
// new buffer when res is nil.
func blockBroadcast(op backends.OpType, sa, sb, out shapes.Shape) (loop func(x, y, res []float32) []float32, full int) {
	ka, oa, ia := broadcastOf(sa, out)
	kb, ob, ib := broadcastOf(sb, out)
	n := out.Size()
	alloc := func(res []float32) []float32 {
		if res == nil {
			return getF32(n)
		}
		return res
	}
	if k, o, m, in := broadcastRun(sb, out); k == bcastRun && ka == bcastNone && !sa.IsScalar() {
		return func(x, y, res []float32) []float32 {
			res = alloc(res)
			for i := range o * m {
				yo := (i / m) * in
				binaryLoop(op, res[i*in:(i+1)*in], x[i*in:(i+1)*in], y[yo:yo+in])
			}
			return res
		}, 0
	}
	if k, o, m, in := broadcastRun(sa, out); k == bcastRun && kb == bcastNone && !sb.IsScalar() {
		return func(x, y, res []float32) []float32 {
			res = alloc(res)
			for i := range o * m {
				xo := (i / m) * in
				binaryLoop(op, res[i*in:(i+1)*in], x[xo:xo+in], y[i*in:(i+1)*in])
			}
			return res
		}, 1
	}
	switch {
	case ka == bcastNone && !sa.IsScalar() && kb == bcastRows:
		return func(x, y, res []float32) []float32 {
			res = alloc(res)
			for o := range ob {
				binaryScalarR(op, res[o*ib:(o+1)*ib], x[o*ib:(o+1)*ib], y[o])
			}
			return res
		}, 0
	case ka == bcastNone && !sa.IsScalar() && kb == bcastCols:
		return func(x, y, res []float32) []float32 {
			res = alloc(res)
			for o := range ob {
				binaryLoop(op, res[o*ib:(o+1)*ib], x[o*ib:(o+1)*ib], y)
			}
			return res
		}, 0
	case kb == bcastNone && !sb.IsScalar() && ka == bcastRows:
		return func(x, y, res []float32) []float32 {
			res = alloc(res)
			for o := range oa {
				binaryScalarL(op, res[o*ia:(o+1)*ia], x[o], y[o*ia:(o+1)*ia])
			}
			return res
		}, 1
	case kb == bcastNone && !sb.IsScalar() && ka == bcastCols:
		return func(x, y, res []float32) []float32 {
			res = alloc(res)
			for o := range oa {
				binaryLoop(op, res[o*ia:(o+1)*ia], x, y[o*ia:(o+1)*ia])
			}
			return res
		}, 1
	}
	return nil, -1
}

func allAxes(rank int) []int {
	a := make([]int, rank)
	for i := range a {
		a[i] = i
	}
	return a
}

func binaryOp(op backends.OpType, x, y any, n int) any {
	switch x := x.(type) {
	case []float32:
		return binaryNum(op, x, y.([]float32), n, nil)
	case []float64:
		return binaryNum(op, x, y.([]float64), n, nil)
	case []int32:
		return binaryNum(op, x, y.([]int32), n, nil)
	case []int64:
		return binaryNum(op, x, y.([]int64), n, nil)
	case []uint64:
		return binaryNum(op, x, y.([]uint64), n, nil)
	case []uint32:
		return binaryNum(op, x, y.([]uint32), n, nil)
	case []int8:
		return binaryNum(op, x, y.([]int8), n, nil)
	case []int16:
		return binaryNum(op, x, y.([]int16), n, nil)
	case []uint8:
		return binaryNum(op, x, y.([]uint8), n, nil)
	case []uint16:
		return binaryNum(op, x, y.([]uint16), n, nil)
	case []bool:
		return binaryBool(op, x, y.([]bool), n)
	}
	panic(fmt.Sprintf("cpubackend: %s of %T", op, x))
}

func binaryBool(op backends.OpType, x, y []bool, n int) []bool {
	out := make([]bool, n)
	at := func(s []bool, i int) bool {
		if len(s) == 1 {
			return s[0]
		}
		return s[i]
	}
	for i := range out {
		a, b := at(x, i), at(y, i)
		switch op {
		case backends.OpTypeLogicalAnd:
			out[i] = a && b
		case backends.OpTypeLogicalOr:
			out[i] = a || b
		case backends.OpTypeLogicalXor, backends.OpTypeNotEqual:
			out[i] = a != b
		case backends.OpTypeEqual:
			out[i] = a == b
		default:
			panic(fmt.Sprintf("cpubackend: %s of booleans", op))
		}
	}
	return out
}

// binaryNum applies op element-wise; x and y have n elements or one (a scalar).
func binaryNum[T number](op backends.OpType, x, y []T, n int, out []T) any {
	if shapeinference.ComparisonOperations.Has(op) {
		return compare(op, x, y, n)
	}
	if out == nil {
		out = makeSlice[T](n)
	}
	switch {
	case len(x) == n && len(y) == n:
		binaryLoop(op, out, x, y)
	case len(y) == 1 && len(x) == n:
		binaryScalarR(op, out, x, y[0])
	case len(x) == 1 && len(y) == n:
		binaryScalarL(op, out, x[0], y)
	default: // both scalars
		binaryLoop(op, out, x, y)
	}
	return out
}

func binaryLoop[T number](op backends.OpType, out, x, y []T) {
	x, y = x[:len(out)], y[:len(out)]
	if o, ok := any(out).([]float32); ok && vecBinary(op, o, any(x).([]float32), any(y).([]float32)) {
		return
	}
	switch op {
	case backends.OpTypeAdd:
		for i := range out {
			out[i] = x[i] + y[i]
		}
	case backends.OpTypeSub:
		for i := range out {
			out[i] = x[i] - y[i]
		}
	case backends.OpTypeMul:
		for i := range out {
			out[i] = x[i] * y[i]
		}
	case backends.OpTypeDiv:
		if isInt[T]() {
			for i := range out {
				out[i] = intDiv(x[i], y[i])
			}
			return
		}
		for i := range out {
			out[i] = x[i] / y[i]
		}
	case backends.OpTypeMax:
		for i := range out {
			out[i] = maxOf(x[i], y[i])
		}
	case backends.OpTypeMin:
		for i := range out {
			out[i] = minOf(x[i], y[i])
		}
	default:
		for i := range out {
			out[i] = scalarOp(op, x[i], y[i])
		}
	}
}

func binaryScalarR[T number](op backends.OpType, out, x []T, c T) {
	if o, ok := any(out).([]float32); ok && vecScalar(op, o, any(x).([]float32), any(c).(float32), false) {
		return
	}
	x = x[:len(out)]
	switch op {
	case backends.OpTypeAdd:
		for i := range out {
			out[i] = x[i] + c
		}
	case backends.OpTypeSub:
		for i := range out {
			out[i] = x[i] - c
		}
	case backends.OpTypeMul:
		for i := range out {
			out[i] = x[i] * c
		}
	case backends.OpTypeDiv:
		if isInt[T]() {
			for i := range out {
				out[i] = intDiv(x[i], c)
			}
			return
		}
		for i := range out {
			out[i] = x[i] / c
		}
	case backends.OpTypeMax:
		for i := range out {
			out[i] = maxOf(x[i], c)
		}
	case backends.OpTypeMin:
		for i := range out {
			out[i] = minOf(x[i], c)
		}
	default:
		for i := range out {
			out[i] = scalarOp(op, x[i], c)
		}
	}
}

func binaryScalarL[T number](op backends.OpType, out []T, c T, y []T) {
	if o, ok := any(out).([]float32); ok && vecScalar(op, o, any(y).([]float32), any(c).(float32), true) {
		return
	}
	y = y[:len(out)]
	switch op {
	case backends.OpTypeAdd:
		for i := range out {
			out[i] = c + y[i]
		}
	case backends.OpTypeSub:
		for i := range out {
			out[i] = c - y[i]
		}
	case backends.OpTypeMul:
		for i := range out {
			out[i] = c * y[i]
		}
	default:
		for i := range out {
			out[i] = scalarOp(op, c, y[i])
		}
	}
}

func isInt[T number]() bool {
	var one T = 1
	return one/2 == 0
}

func intDiv[T number](a, b T) T {
	if b == 0 {
		return 0
	}
	return a / b
}

// maxOf and minOf propagate NaN like XLA.
func maxOf[T number](a, b T) T {
	if a != a || a >= b {
		return a
	}
	return b
}

func minOf[T number](a, b T) T {
	if a != a || a <= b {
		return a
	}
	return b
}

func scalarOp[T number](op backends.OpType, a, b T) T {
	switch op {
	case backends.OpTypeAdd:
		return a + b
	case backends.OpTypeSub:
		return a - b
	case backends.OpTypeMul:
		return a * b
	case backends.OpTypeDiv:
		if isInt[T]() {
			return intDiv(a, b)
		}
		return a / b
	case backends.OpTypeMax:
		return maxOf(a, b)
	case backends.OpTypeMin:
		return minOf(a, b)
	case backends.OpTypePow:
		return T(math.Pow(float64(a), float64(b)))
	case backends.OpTypeRem:
		if isInt[T]() {
			if b == 0 {
				return 0
			}
			return T(math.Mod(float64(a), float64(b)))
		}
		return T(math.Mod(float64(a), float64(b)))
	}
	if isInt[T]() {
		return intOp(op, a, b)
	}
	panic(fmt.Sprintf("cpubackend: binary %s of %T", op, a))
}

// intOp implements the bitwise ops; it goes through uint64 because generic shifts need integer types.
func intOp[T number](op backends.OpType, a, b T) T {
	ua, ub := uint64(int64(a)), uint64(int64(b))
	bits := uint64(8 * sizeOf[T]())
	var r uint64
	switch op {
	case backends.OpTypeBitwiseAnd:
		r = ua & ub
	case backends.OpTypeBitwiseOr:
		r = ua | ub
	case backends.OpTypeBitwiseXor:
		r = ua ^ ub
	case backends.OpTypeShiftLeft:
		if ub >= bits {
			return 0
		}
		r = ua << ub
	case backends.OpTypeShiftRightLogical:
		if ub >= bits {
			return 0
		}
		mask := uint64(math.MaxUint64)
		if bits < 64 {
			mask = 1<<bits - 1
		}
		r = (ua & mask) >> ub
	case backends.OpTypeShiftRightArithmetic:
		if ub >= bits {
			ub = bits - 1
		}
		return T(int64(a) >> ub)
	default:
		panic(fmt.Sprintf("cpubackend: binary %s of %T", op, a))
	}
	return T(r)
}

func sizeOf[T number]() int {
	switch any(T(0)).(type) {
	case int8, uint8:
		return 1
	case int16, uint16:
		return 2
	case int32, uint32, float32:
		return 4
	}
	return 8
}

func compare[T number](op backends.OpType, x, y []T, n int) []bool {
	out := make([]bool, n)
	sx, sy := len(x) == 1 && n != 1, len(y) == 1 && n != 1
	for i := range out {
		a, b := x[0], y[0]
		if !sx {
			a = x[i]
		}
		if !sy {
			b = y[i]
		}
		switch op {
		case backends.OpTypeEqual:
			out[i] = a == b
		case backends.OpTypeNotEqual:
			out[i] = a != b
		case backends.OpTypeGreaterOrEqual:
			out[i] = a >= b
		case backends.OpTypeGreaterThan:
			out[i] = a > b
		case backends.OpTypeLessOrEqual:
			out[i] = a <= b
		case backends.OpTypeLessThan:
			out[i] = a < b
		default:
			panic(fmt.Sprintf("cpubackend: comparison %s", op))
		}
	}
	return out
}

func (b *Builder) Add(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeAdd, x, y)
}
func (b *Builder) Sub(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeSub, x, y)
}
func (b *Builder) Mul(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMul, x, y)
}
func (b *Builder) Div(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeDiv, x, y)
}
func (b *Builder) Max(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMax, x, y)
}
func (b *Builder) Min(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeMin, x, y)
}
func (b *Builder) Pow(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypePow, x, y)
}
func (b *Builder) Rem(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeRem, x, y)
}
func (b *Builder) Equal(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeEqual, x, y)
}
func (b *Builder) NotEqual(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeNotEqual, x, y)
}
func (b *Builder) GreaterOrEqual(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeGreaterOrEqual, x, y)
}
func (b *Builder) GreaterThan(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeGreaterThan, x, y)
}
func (b *Builder) LessOrEqual(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLessOrEqual, x, y)
}
func (b *Builder) LessThan(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLessThan, x, y)
}
func (b *Builder) LogicalAnd(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLogicalAnd, x, y)
}
func (b *Builder) LogicalOr(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLogicalOr, x, y)
}
func (b *Builder) LogicalXor(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeLogicalXor, x, y)
}
func (b *Builder) BitwiseAnd(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeBitwiseAnd, x, y)
}
func (b *Builder) BitwiseOr(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeBitwiseOr, x, y)
}
func (b *Builder) BitwiseXor(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeBitwiseXor, x, y)
}
func (b *Builder) ShiftLeft(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeShiftLeft, x, y)
}
func (b *Builder) ShiftRightLogical(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeShiftRightLogical, x, y)
}
func (b *Builder) ShiftRightArithmetic(x, y backends.Op) (backends.Op, error) {
	return b.binary(backends.OpTypeShiftRightArithmetic, x, y)
}

// ---- Where and ConvertDType ----

func where(v []any, s []shapes.Shape, out shapes.Shape) any {
	cond := v[0].([]bool)
	switch out.DType.Size() {
	case 1:
		return whereW(cond, words[uint8](v[1]), words[uint8](v[2]), out)
	case 2:
		return whereW(cond, words[uint16](v[1]), words[uint16](v[2]), out)
	case 4:
		return whereW(cond, words[uint32](v[1]), words[uint32](v[2]), out)
	case 8:
		return whereW(cond, words[uint64](v[1]), words[uint64](v[2]), out)
	}
	panic(fmt.Sprintf("cpubackend: Where of %s", out))
}

func whereW[W any](cond []bool, t, f []W, out shapes.Shape) any {
	res := newFlat(out.DType, out.Size())
	o := words[W](res)
	n := len(o)
	for i := range o {
		c := cond[0]
		if len(cond) == n {
			c = cond[i]
		}
		if c {
			if len(t) == n {
				o[i] = t[i]
			} else {
				o[i] = t[0]
			}
		} else {
			if len(f) == n {
				o[i] = f[i]
			} else {
				o[i] = f[0]
			}
		}
	}
	return res
}

func checkConvert(from, to dtypes.DType) error {
	ok := func(d dtypes.DType) bool { return supportedNumeric(d) || d == dtypes.Bool }
	if from == dtypes.BFloat16 || to == dtypes.BFloat16 {
		// bfloat16 is a storage type here: it converts to and from float32 only.
		if (from == dtypes.BFloat16 || from == dtypes.Float32) && (to == dtypes.BFloat16 || to == dtypes.Float32) {
			return nil
		}
		return fmt.Errorf("cpubackend: ConvertDType from %s to %s is not implemented (bfloat16 converts to and from float32 only)", from, to)
	}
	if !ok(from) || !ok(to) {
		return fmt.Errorf("cpubackend: ConvertDType from %s to %s is not implemented", from, to)
	}
	return nil
}

func convert(x any, from, to dtypes.DType) any {
	if from == to {
		return cloneFlat(x)
	}
	if from == dtypes.BFloat16 {
		src := x.([]bfloat16.BFloat16)
		out := getF32(len(src))
		bf16ToF32(out, src)
		return out
	}
	if to == dtypes.BFloat16 {
		src := x.([]float32)
		out := make([]bfloat16.BFloat16, len(src))
		f32ToBF16(out, src)
		return out
	}
	switch x := x.(type) {
	case []bool:
		u := make([]uint8, len(x))
		for i, v := range x {
			if v {
				u[i] = 1
			}
		}
		return convertFrom(u, to)
	case []float32:
		return convertFrom(x, to)
	case []float64:
		return convertFrom(x, to)
	case []int32:
		return convertFrom(x, to)
	case []int64:
		return convertFrom(x, to)
	case []uint64:
		return convertFrom(x, to)
	case []uint32:
		return convertFrom(x, to)
	case []int8:
		return convertFrom(x, to)
	case []int16:
		return convertFrom(x, to)
	case []uint8:
		return convertFrom(x, to)
	case []uint16:
		return convertFrom(x, to)
	}
	panic(fmt.Sprintf("cpubackend: ConvertDType of %T", x))
}

func convertFrom[F number](x []F, to dtypes.DType) any {
	switch to {
	case dtypes.Bool:
		out := make([]bool, len(x))
		for i, v := range x {
			out[i] = v != 0
		}
		return out
	case dtypes.Float32:
		return convertTo[F, float32](x)
	case dtypes.Float64:
		return convertTo[F, float64](x)
	case dtypes.Int32:
		return convertTo[F, int32](x)
	case dtypes.Int64:
		return convertTo[F, int64](x)
	case dtypes.Uint64:
		return convertTo[F, uint64](x)
	case dtypes.Uint32:
		return convertTo[F, uint32](x)
	case dtypes.Int8:
		return convertTo[F, int8](x)
	case dtypes.Int16:
		return convertTo[F, int16](x)
	case dtypes.Uint8:
		return convertTo[F, uint8](x)
	case dtypes.Uint16:
		return convertTo[F, uint16](x)
	}
	panic(fmt.Sprintf("cpubackend: ConvertDType to %s", to))
}

func convertTo[F, T number](x []F) []T {
	out := makeSlice[T](len(x))
	for i, v := range x {
		out[i] = T(v)
	}
	return out
}

// vecBinary runs out = x op y with the SIMD kernels for the ops they cover, reporting whether it did.
func vecBinary(op backends.OpType, out, x, y []float32) bool {
	switch op {
	case backends.OpTypeAdd:
		addF32(out, x, y)
	case backends.OpTypeSub:
		subF32(out, x, y)
	case backends.OpTypeMul:
		mulF32(out, x, y)
	case backends.OpTypeDiv:
		divF32(out, x, y)
	default:
		return false
	}
	return true
}

// vecScalar runs out = x op c (or c op x when left) with the SIMD kernels for the ops they cover,
// reporting whether it did.
func vecScalar(op backends.OpType, out, x []float32, c float32, left bool) bool {
	switch {
	case op == backends.OpTypeAdd:
		addScalarF32(out, x, c)
	case op == backends.OpTypeMul:
		mulScalarF32(out, x, c)
	case op == backends.OpTypeSub && !left:
		subScalarF32(out, x, c)
	case op == backends.OpTypeSub:
		rsubScalarF32(out, x, c)
	case op == backends.OpTypeDiv && !left:
		divScalarF32(out, x, c)
	case op == backends.OpTypeDiv:
		rdivScalarF32(out, x, c)
	default:
		return false
	}
	return true
}
