package cpubackend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// DynamicUpdateSlice returns operand with update written at startIndices (one integer scalar per
// axis), each start clamped, as XLA does, so that the update fits. Generate uses it to write a decode
// step's keys and values into the KV cache.
func (b *Builder) DynamicUpdateSlice(operandOp, updateOp backends.Op, startIndices []backends.Op) (backends.Op, error) {
	in, err := b.in(backends.OpTypeDynamicUpdateSlice, append([]backends.Op{operandOp, updateOp}, startIndices...)...)
	if err != nil {
		return nil, err
	}
	os, us := in[0].shape, in[1].shape
	desc := fmt.Sprintf("DynamicUpdateSlice(%s, update %s, %d start indices)", os, us, len(startIndices))
	if os.DType != us.DType || os.Rank() != us.Rank() || len(startIndices) != os.Rank() {
		return nil, fmt.Errorf("cpubackend: %s: want equal dtypes and ranks and one start index per axis", desc)
	}
	for i, d := range us.Dimensions {
		if d > os.Dimensions[i] {
			return nil, fmt.Errorf("cpubackend: %s: update is larger than the operand on axis %d", desc, i)
		}
	}
	for i, s := range in[2:] {
		if s.shape.Rank() != 0 || !s.shape.DType.IsInt() {
			return nil, fmt.Errorf("cpubackend: %s: start index #%d is %s, want an integer scalar", desc, i, s.shape)
		}
	}
	n := b.newNode(backends.OpTypeDynamicUpdateSlice, os.Clone(), func(_ *Backend, v []any) any {
		return dynamicUpdateSlice(cloneFlat(v[0]), v[1], os, us, v[2:])
	}, in...)
	n.runInto = func(_ *Backend, v []any, dst any) any { return dynamicUpdateSlice(dst, v[1], os, us, v[2:]) }
	n.inPlace = []int{0}
	return n, nil
}

// dynamicUpdateSlice writes update into res (the operand's values) and returns res.
func dynamicUpdateSlice(res, update any, os, us shapes.Shape, starts []any) any {
	if us.Size() == 0 {
		return res
	}
	ss := stridesOf(os.Dimensions)
	base := 0
	for i, s := range starts {
		st := min(max(indexValues(s)[0], 0), os.Dimensions[i]-us.Dimensions[i])
		base += st * ss[i]
	}
	dims, us2 := us.Dimensions, stridesOf(us.Dimensions)
	if len(dims) == 0 {
		dims, ss, us2 = []int{1}, []int{1}, []int{1}
	}
	switch os.DType.Size() {
	case 1:
		stridedCopy(words[uint8](res), words[uint8](update), dims, ss, us2, base, 0)
	case 2:
		stridedCopy(words[uint16](res), words[uint16](update), dims, ss, us2, base, 0)
	case 4:
		stridedCopy(words[uint32](res), words[uint32](update), dims, ss, us2, base, 0)
	case 8:
		stridedCopy(words[uint64](res), words[uint64](update), dims, ss, us2, base, 0)
	default:
		panic(fmt.Sprintf("cpubackend: dtype %s of size %d", os.DType, os.DType.Size()))
	}
	return res
}
