package gradfix

import (
	"fmt"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // pure graph math
)

// GoMLX v0.26.0 keeps the static parameters of an op (DotGeneral's axes, Slice's starts/limits/strides)
// in the unexported Node.inputs field, and no exported accessor returns them. The only exported view
// is Node.String(), which prints them through the generated nodeInputs*.String() methods, e.g.
//
//	DotGeneral(lhs=[#3], lhsContractingAxes=[1], lhsBatchAxes=[], rhs=[#4], rhsContractingAxes=[0], rhsBatchAxes=[]) -> ...
//	Slice(x=[#7], starts=[0 1], limits=[4 9], strides=[1 2]) -> ...
//
// We parse that text, and then check what we parsed against the shapes of the node and its inputs, so
// that a change of format in a later GoMLX fails loudly at graph-building time instead of producing a
// wrong gradient.

// opText returns the op description of node.String(): the text after the optional alias prefix and
// before the " -> shape" suffix.
func opText(node *Node) string {
	s := node.String()
	if alias := node.GetAlias(); alias != "" {
		s = strings.TrimPrefix(s, fmt.Sprintf("[%q] ", alias))
	}
	if i := strings.Index(s, " -> "); i >= 0 {
		s = s[:i]
	}
	return s
}

// intsField parses the "name=[1 2 3]" field of an op description.
func intsField(desc, name string) ([]int, error) {
	key := name + "=["
	i := strings.Index(desc, key)
	if i < 0 {
		return nil, fmt.Errorf("field %q not found", name)
	}
	rest := desc[i+len(key):]
	j := strings.IndexByte(rest, ']')
	if j < 0 {
		return nil, fmt.Errorf("field %q not terminated", name)
	}
	fields := strings.Fields(rest[:j])
	out := make([]int, len(fields))
	for k, f := range fields {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		out[k] = v
	}
	return out, nil
}

// dotParams are the axes of a DotGeneral node. Free axes are those neither contracted nor batch, in
// increasing order: the output of DotGeneral is [batch..., lhs free..., rhs free...].
type dotParams struct {
	lhsContracting, lhsBatch, lhsFree []int
	rhsContracting, rhsBatch, rhsFree []int
}

// readDotParams recovers the axes of a DotGeneral node and checks them against its shapes.
// It panics, naming the node, if they cannot be recovered.
func readDotParams(node *Node) dotParams {
	if node.Type() != NodeTypeDotGeneral {
		panic(fmt.Sprintf("gradfix: readDotParams on a %s node", node.Type()))
	}
	desc := opText(node)
	var p dotParams
	var err error
	for _, f := range []struct {
		name string
		dst  *[]int
	}{
		{"lhsContractingAxes", &p.lhsContracting},
		{"lhsBatchAxes", &p.lhsBatch},
		{"rhsContractingAxes", &p.rhsContracting},
		{"rhsBatchAxes", &p.rhsBatch},
	} {
		if *f.dst, err = intsField(desc, f.name); err != nil {
			panic(fmt.Sprintf("gradfix: cannot read DotGeneral axes from %q: %v", desc, err))
		}
	}
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	p.lhsFree = freeAxes(lhs.Rank(), p.lhsContracting, p.lhsBatch)
	p.rhsFree = freeAxes(rhs.Rank(), p.rhsContracting, p.rhsBatch)
	if p.lhsFree == nil || p.rhsFree == nil || !p.consistent(lhs, rhs, node) {
		panic(fmt.Sprintf("gradfix: DotGeneral axes %+v read from %q do not match lhs %s, rhs %s, output %s",
			p, desc, lhs.Shape(), rhs.Shape(), node.Shape()))
	}
	return p
}

// freeAxes returns the axes of a rank-`rank` operand that are neither contracting nor batch, or nil if
// the given axes are out of range or repeated.
func freeAxes(rank int, contracting, batch []int) []int {
	used := make([]bool, rank)
	for _, axes := range [][]int{contracting, batch} {
		for _, a := range axes {
			if a < 0 || a >= rank || used[a] {
				return nil
			}
			used[a] = true
		}
	}
	free := make([]int, 0, rank)
	for a, u := range used {
		if !u {
			free = append(free, a)
		}
	}
	return free
}

// consistent reports whether p describes a DotGeneral of lhs and rhs producing out's shape.
func (p dotParams) consistent(lhs, rhs, out *Node) bool {
	if len(p.lhsContracting) != len(p.rhsContracting) || len(p.lhsBatch) != len(p.rhsBatch) {
		return false
	}
	ld, rd := lhs.Shape().Dimensions, rhs.Shape().Dimensions
	for i := range p.lhsContracting {
		if ld[p.lhsContracting[i]] != rd[p.rhsContracting[i]] {
			return false
		}
	}
	want := make([]int, 0, out.Rank())
	for i := range p.lhsBatch {
		if ld[p.lhsBatch[i]] != rd[p.rhsBatch[i]] {
			return false
		}
		want = append(want, ld[p.lhsBatch[i]])
	}
	for _, a := range p.lhsFree {
		want = append(want, ld[a])
	}
	for _, a := range p.rhsFree {
		want = append(want, rd[a])
	}
	got := out.Shape().Dimensions
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// sliceParams are the per-axis starts, limits and strides of a Slice node.
type sliceParams struct {
	starts, limits, strides []int
}

// readSliceParams recovers the parameters of a Slice node and checks them against its shapes.
// It panics, naming the node, if they cannot be recovered.
func readSliceParams(node *Node) sliceParams {
	if node.Type() != NodeTypeSlice {
		panic(fmt.Sprintf("gradfix: readSliceParams on a %s node", node.Type()))
	}
	desc := opText(node)
	var p sliceParams
	var err error
	for _, f := range []struct {
		name string
		dst  *[]int
	}{{"starts", &p.starts}, {"limits", &p.limits}, {"strides", &p.strides}} {
		if *f.dst, err = intsField(desc, f.name); err != nil {
			panic(fmt.Sprintf("gradfix: cannot read Slice parameters from %q: %v", desc, err))
		}
	}
	x := node.Inputs()[0]
	rank := x.Rank()
	ok := len(p.starts) == rank && len(p.limits) == rank && len(p.strides) == rank
	for a := 0; ok && a < rank; a++ {
		s, l, st := p.starts[a], p.limits[a], p.strides[a]
		if st < 1 {
			st = 1
			p.strides[a] = 1
		}
		ok = s >= 0 && s <= l && l <= x.Shape().Dimensions[a] &&
			node.Shape().Dimensions[a] == (l-s+st-1)/st
	}
	if !ok {
		panic(fmt.Sprintf("gradfix: Slice parameters %+v read from %q do not match input %s, output %s",
			p, desc, x.Shape(), node.Shape()))
	}
	return p
}
