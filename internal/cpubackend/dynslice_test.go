package cpubackend_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestDynamicUpdateSlice checks the op against a direct reference (the stock backend lacks it),
// including XLA's clamping of starts that would push the update past the operand's end.
func TestDynamicUpdateSlice(t *testing.T) {
	backend := sharedBackend(t, "accrete")
	dims := []int{2, 6, 3}
	operand := make([]float32, 2*6*3)
	for i := range operand {
		operand[i] = float32(i)
	}
	update := make([]float32, 2*2*3)
	for i := range update {
		update[i] = -float32(i + 1)
	}
	for _, tc := range []struct{ start, want int32 }{{0, 0}, {3, 3}, {5, 4}, {-2, 0}} {
		e := MustNewExec(backend, func(op, up, start *Node) *Node {
			zero := ScalarZero(op.Graph(), dtypes.Int32)
			return DynamicUpdateSlice(op, up, []*Node{zero, start, zero})
		})
		out := e.MustExec(tensors.FromFlatDataAndDimensions(operand, dims...),
			tensors.FromFlatDataAndDimensions(update, 2, 2, 3), tensors.FromScalar(tc.start))[0]
		got := tensors.MustCopyFlatData[float32](out)
		for b := range 2 {
			for s := range 6 {
				for d := range 3 {
					want := operand[(b*6+s)*3+d]
					if u := s - int(tc.want); u >= 0 && u < 2 {
						want = update[(b*2+u)*3+d]
					}
					require.Equal(t, want, got[(b*6+s)*3+d], "start %d: [%d %d %d]", tc.start, b, s, d)
				}
			}
		}
		// The operand is not modified.
		require.Equal(t, float32(3), operand[3])
	}
	// Integer operands and int64 starts.
	e := MustNewExec(backend, func(op, up, start *Node) *Node {
		return DynamicUpdateSlice(op, up, []*Node{start})
	})
	out := e.MustExec([]int32{1, 2, 3, 4}, []int32{9, 8}, int64(1))[0]
	require.Equal(t, []int32{1, 9, 8, 4}, tensors.MustCopyFlatData[int32](out))
}
