package gradfix

import (
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/stretchr/testify/require"
)

func TestReadParams(t *testing.T) {
	b, err := backends.NewWithConfig("go:ops_sequential")
	require.NoError(t, err)
	g := NewGraph(b, "params")
	lhs := Parameter(g, "lhs", shapes.Make(dtypes.Float32, 2, 3, 4, 5))
	rhs := Parameter(g, "rhs", shapes.Make(dtypes.Float32, 4, 5, 6, 2))

	dot := DotGeneral(lhs, []int{2}, []int{3, 0}, rhs, []int{0}, []int{1, 3})
	require.Equal(t, dotParams{
		lhsContracting: []int{2}, lhsBatch: []int{3, 0}, lhsFree: []int{1},
		rhsContracting: []int{0}, rhsBatch: []int{1, 3}, rhsFree: []int{2},
	}, readDotParams(dot))

	sl := Slice(lhs, AxisRange(1), AxisRange(0, 3).Stride(2), AxisRange(), AxisRange(4))
	require.Equal(t, sliceParams{
		starts: []int{1, 0, 0, 4}, limits: []int{2, 3, 4, 5}, strides: []int{1, 2, 1, 1},
	}, readSliceParams(sl))

	outer := DotGeneral(lhs, nil, nil, rhs, nil, nil).WithAlias("tricky -> lhsBatchAxes=[1] strides=[9]")
	require.Empty(t, readDotParams(outer).lhsBatch)

	require.PanicsWithValue(t, "gradfix: readDotParams on a Slice node", func() { readDotParams(sl) })
	require.PanicsWithValue(t, "gradfix: readSliceParams on a DotGeneral node", func() { readSliceParams(dot) })
}

func TestIntsField(t *testing.T) {
	got, err := intsField("Slice(x=[#7], starts=[0 12], limits=[], strides=[1 -2])", "starts")
	require.NoError(t, err)
	require.Equal(t, []int{0, 12}, got)
	got, err = intsField("Slice(x=[#7], starts=[0 12], limits=[], strides=[1 -2])", "limits")
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = intsField("Slice(x=[#7])", "starts")
	require.Error(t, err)
	_, err = intsField("Slice(starts=[0 a])", "starts")
	require.Error(t, err)
	_, err = intsField("Slice(starts=[0 1", "starts")
	require.Error(t, err)
}
