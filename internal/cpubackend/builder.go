package cpubackend

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/notimplemented"
	"github.com/gomlx/gomlx/backends/shapeinference"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// node is one op of a computation. Nodes are created in topological order (an op's inputs exist
// before it), which Compile relies on.
type node struct {
	id     int
	op     backends.OpType
	shape  shapes.Shape
	inputs []*node
	// run computes the node's value from its inputs' values (flat slices; a []any for multi-output
	// nodes). It never modifies its inputs.
	run func(b *Backend, in []any) any
	// alias is true when run may return one of its inputs (Reshape, Identity): such values are not
	// owned by the node.
	alias bool
	// runInto, when set, computes the same value as run into dst, the value of one of the inputs
	// listed in inPlace (which have the node's shape and dtype), and returns dst. Execute uses it when
	// that input's storage dies at this op and nothing else can see it, so the op allocates nothing.
	runInto func(b *Backend, in []any, dst any) any
	inPlace []int
	// bcastAxes are a BroadcastInDim's axes (element-wise consumers may read its operand instead).
	bcastAxes []int
	// constVal is a Constant's value.
	constVal any
	// scatterInto, on a ScatterSum node, scatters the updates (values of inputs 1 and 2) into dst.
	scatterInto func(dst, indices, updates any)
	param       int // index of a Parameter, else -1
	multi       bool
}

// Builder implements backends.Builder. Ops this backend does not implement return an error naming them.
type Builder struct {
	notimplemented.Builder
	backend  *Backend
	name     string
	nodes    []*node
	params   []*node
	names    []string
	compiled bool
}

var _ backends.Builder = (*Builder)(nil)

func newBuilder(b *Backend, name string) *Builder {
	bd := &Builder{backend: b, name: name}
	bd.Builder.ErrFn = func(op backends.OpType) error {
		return fmt.Errorf("cpubackend: op %s is not implemented by the %q backend (computation %q): %w",
			op, Name, name, notimplemented.NotImplementedError)
	}
	return bd
}

func (b *Builder) Name() string { return b.name }

func (b *Builder) newNode(op backends.OpType, shape shapes.Shape, run func(*Backend, []any) any, inputs ...*node) *node {
	n := &node{id: len(b.nodes), op: op, shape: shape, inputs: inputs, run: run, param: -1}
	b.nodes = append(b.nodes, n)
	return n
}

// in converts backends.Op values into nodes of this builder.
func (b *Builder) in(op backends.OpType, ops ...backends.Op) ([]*node, error) {
	if b.compiled {
		return nil, fmt.Errorf("cpubackend: %s: builder %q already compiled", op, b.name)
	}
	out := make([]*node, len(ops))
	for i, o := range ops {
		n, ok := o.(*node)
		if !ok || n == nil {
			return nil, fmt.Errorf("cpubackend: %s: input #%d is %T, not an op of this backend", op, i, o)
		}
		if n.id >= len(b.nodes) || b.nodes[n.id] != n {
			return nil, fmt.Errorf("cpubackend: %s: input #%d comes from another builder", op, i)
		}
		if n.multi {
			return nil, fmt.Errorf("cpubackend: %s: input #%d is a multi-output op", op, i)
		}
		out[i] = n
	}
	return out, nil
}

func (b *Builder) OpShape(op backends.Op) (shapes.Shape, error) {
	n, ok := op.(*node)
	if !ok {
		return shapes.Invalid(), fmt.Errorf("cpubackend: OpShape of %T", op)
	}
	return n.shape, nil
}

func (b *Builder) DistributedSPMD(int) error {
	return fmt.Errorf("cpubackend: no distributed execution")
}
func (b *Builder) DistributedAutoSharding(...backends.Mesh) error {
	return fmt.Errorf("cpubackend: no distributed execution")
}

func (b *Builder) Parameter(name string, shape shapes.Shape, sharding *backends.ShardingSpec) (backends.Op, error) {
	if sharding != nil {
		return nil, fmt.Errorf("cpubackend: Parameter %q: sharding is not supported", name)
	}
	n := b.newNode(backends.OpTypeParameter, shape.Clone(), nil)
	n.param = len(b.params)
	b.params = append(b.params, n)
	b.names = append(b.names, name)
	return n, nil
}

func (b *Builder) Constant(flat any, dims ...int) (backends.Op, error) {
	t := reflect.TypeOf(flat)
	if t == nil || t.Kind() != reflect.Slice {
		return nil, fmt.Errorf("cpubackend: Constant of %T: want a flat slice", flat)
	}
	dtype := dtypes.FromGoType(t.Elem())
	if dtype == dtypes.InvalidDType {
		return nil, fmt.Errorf("cpubackend: Constant of unsupported type %T", flat)
	}
	shape := shapes.Make(dtype, dims...)
	if n := lenOf(flat); n != shape.Size() {
		return nil, fmt.Errorf("cpubackend: Constant: %d values for shape %s", n, shape)
	}
	val := cloneHeap(flat)
	n := b.newNode(backends.OpTypeConstant, shape, func(*Backend, []any) any { return val })
	n.constVal = val
	return n, nil
}

func (b *Builder) Identity(x backends.Op) (backends.Op, error) {
	in, err := b.in(backends.OpTypeIdentity, x)
	if err != nil {
		return nil, err
	}
	n := b.newNode(backends.OpTypeIdentity, in[0].shape, func(_ *Backend, v []any) any { return v[0] }, in...)
	n.alias = true
	return n, nil
}

func (b *Builder) Iota(shape shapes.Shape, axis int) (backends.Op, error) {
	if axis < 0 || axis >= shape.Rank() {
		return nil, fmt.Errorf("cpubackend: Iota axis %d out of range for shape %s", axis, shape)
	}
	shape = shape.Clone()
	return b.newNode(backends.OpTypeIota, shape, func(*Backend, []any) any { return iota(shape, axis) }), nil
}

func (b *Builder) Reshape(x backends.Op, dims ...int) (backends.Op, error) {
	in, err := b.in(backends.OpTypeReshape, x)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.ReshapeOp(in[0].shape, dims)
	if err != nil {
		return nil, err
	}
	n := b.newNode(backends.OpTypeReshape, out, func(_ *Backend, v []any) any { return v[0] }, in...)
	n.alias = true
	return n, nil
}

func (b *Builder) Transpose(x backends.Op, perm ...int) (backends.Op, error) {
	in, err := b.in(backends.OpTypeTranspose, x)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.TransposeOp(in[0].shape, perm)
	if err != nil {
		return nil, err
	}
	src, perm := in[0].shape, slices.Clone(perm)
	return b.newNode(backends.OpTypeTranspose, out, func(_ *Backend, v []any) any {
		return transpose(v[0], src, perm)
	}, in...), nil
}

func (b *Builder) BroadcastInDim(x backends.Op, outputShape shapes.Shape, axes []int) (backends.Op, error) {
	in, err := b.in(backends.OpTypeBroadcastInDim, x)
	if err != nil {
		return nil, err
	}
	if err := shapeinference.BroadcastInDimOp(in[0].shape, outputShape, axes); err != nil {
		return nil, err
	}
	src, out, axes := in[0].shape, outputShape.Clone(), slices.Clone(axes)
	n := b.newNode(backends.OpTypeBroadcastInDim, out, func(_ *Backend, v []any) any {
		return broadcastInDim(v[0], src, out, axes)
	}, in...)
	n.bcastAxes = axes
	return n, nil
}

func (b *Builder) Slice(x backends.Op, starts, limits, strides []int) (backends.Op, error) {
	in, err := b.in(backends.OpTypeSlice, x)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.SliceOp(in[0].shape, starts, limits, strides)
	if err != nil {
		return nil, err
	}
	src := in[0].shape
	starts, strides = slices.Clone(starts), slices.Clone(strides)
	if len(strides) == 0 {
		strides = make([]int, src.Rank())
	}
	for i := range strides {
		if strides[i] == 0 {
			strides[i] = 1
		}
	}
	return b.newNode(backends.OpTypeSlice, out, func(_ *Backend, v []any) any {
		return slice(v[0], src, out, starts, strides)
	}, in...), nil
}

func (b *Builder) Concatenate(axis int, operands ...backends.Op) (backends.Op, error) {
	in, err := b.in(backends.OpTypeConcatenate, operands...)
	if err != nil {
		return nil, err
	}
	ins := make([]shapes.Shape, len(in))
	for i, n := range in {
		ins[i] = n.shape
	}
	out, err := shapeinference.ConcatenateOp(ins, axis)
	if err != nil {
		return nil, err
	}
	return b.newNode(backends.OpTypeConcatenate, out, func(_ *Backend, v []any) any {
		return concatenate(v, ins, out, axis)
	}, in...), nil
}

func (b *Builder) ConvertDType(x backends.Op, dtype dtypes.DType) (backends.Op, error) {
	in, err := b.in(backends.OpTypeConvertDType, x)
	if err != nil {
		return nil, err
	}
	out := in[0].shape.Clone()
	out.DType = dtype
	from := in[0].shape.DType
	if err := checkConvert(from, dtype); err != nil {
		return nil, err
	}
	return b.newNode(backends.OpTypeConvertDType, out, func(_ *Backend, v []any) any {
		return convert(v[0], from, dtype)
	}, in...), nil
}

func (b *Builder) Where(cond, onTrue, onFalse backends.Op) (backends.Op, error) {
	in, err := b.in(backends.OpTypeWhere, cond, onTrue, onFalse)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.WhereOp(in[0].shape, in[1].shape, in[2].shape)
	if err != nil {
		return nil, err
	}
	s := []shapes.Shape{in[0].shape, in[1].shape, in[2].shape}
	return b.newNode(backends.OpTypeWhere, out, func(_ *Backend, v []any) any {
		return where(v, s, out)
	}, in...), nil
}

func (b *Builder) reduce(op backends.OpType, x backends.Op, axes []int) (backends.Op, error) {
	in, err := b.in(op, x)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 {
		axes = make([]int, in[0].shape.Rank())
		for i := range axes {
			axes[i] = i
		}
	}
	out, err := shapeinference.ReduceOp(in[0].shape, axes)
	if err != nil {
		return nil, err
	}
	src := in[0].shape
	if !supportedNumeric(src.DType) {
		return nil, fmt.Errorf("cpubackend: %s of dtype %s is not implemented", op, src.DType)
	}
	axes = slices.Clone(axes)
	return b.newNode(op, out, func(_ *Backend, v []any) any {
		return reduceOp(op, v[0], src, out, axes)
	}, in...), nil
}

func (b *Builder) ReduceSum(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceSum, x, axes)
}
func (b *Builder) ReduceMax(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceMax, x, axes)
}
func (b *Builder) ReduceMin(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceMin, x, axes)
}
func (b *Builder) ReduceProduct(x backends.Op, axes ...int) (backends.Op, error) {
	return b.reduce(backends.OpTypeReduceProduct, x, axes)
}

func (b *Builder) ArgMinMax(x backends.Op, axis int, outputDType dtypes.DType, isMin bool) (backends.Op, error) {
	in, err := b.in(backends.OpTypeArgMinMax, x)
	if err != nil {
		return nil, err
	}
	out, err := shapeinference.ArgMinMaxOp(in[0].shape, axis, outputDType)
	if err != nil {
		return nil, err
	}
	src := in[0].shape
	if src.DType != dtypes.Float32 {
		return nil, fmt.Errorf("cpubackend: ArgMinMax of %s is not implemented (float32 only)", src)
	}
	if !supportedNumeric(outputDType) {
		return nil, fmt.Errorf("cpubackend: ArgMinMax output dtype %s is not implemented", outputDType)
	}
	return b.newNode(backends.OpTypeArgMinMax, out, func(_ *Backend, v []any) any {
		return argMinMax(v[0].([]float32), src, out, axis, isMin)
	}, in...), nil
}

func (b *Builder) RNGBitGenerator(state backends.Op, shape shapes.Shape) (backends.Op, backends.Op, error) {
	in, err := b.in(backends.OpTypeRNGBitGenerator, state)
	if err != nil {
		return nil, nil, err
	}
	if !in[0].shape.Equal(backends.RNGStateShape) {
		return nil, nil, fmt.Errorf("cpubackend: RNGBitGenerator state must be %s, got %s", backends.RNGStateShape, in[0].shape)
	}
	shape = shape.Clone()
	gen := b.newNode(backends.OpTypeRNGBitGenerator, shape, func(_ *Backend, v []any) any {
		return rngBits(v[0].([]uint64), shape)
	}, in...)
	gen.multi = true
	pick := func(k int, s shapes.Shape) *node {
		return b.newNode(backends.OpTypeRNGBitGenerator, s, func(_ *Backend, v []any) any { return v[0].([]any)[k] }, gen)
	}
	return pick(0, in[0].shape), pick(1, shape), nil
}

func (b *Builder) Compile(outputs []backends.Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	if len(shardings) != 0 {
		return nil, fmt.Errorf("cpubackend: Compile %q: sharding is not supported", b.name)
	}
	outs, err := b.in(backends.OpTypeInvalid, outputs...)
	if err != nil {
		return nil, fmt.Errorf("cpubackend: Compile %q: %w", b.name, err)
	}
	b.compiled = true
	return newExecutable(b, outs), nil
}

func lenOf(flat any) int { return sliceLen(flat) }
