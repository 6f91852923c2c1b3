package cpubackend_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestBinaryBroadcastBlocks compares binary ops whose operands broadcast by rows ([N, T, 1] against
// [N, T, V], a softmax's max), by columns ([1, 1, V], a norm's weight), both ways round, and in
// mixed patterns that fall back to expanding, against the stock backend.
func TestBinaryBroadcastBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	ops := map[string]func(x, y *Node) *Node{"add": Add, "sub": Sub, "mul": Mul, "div": Div, "max": Max, "min": Min}
	for _, tc := range []struct{ full, small []int }{
		{[]int{3, 4, 17}, []int{3, 4, 1}},            // rows
		{[]int{3, 4, 17}, []int{3, 1, 1}},            // rows of 4·17
		{[]int{3, 4, 17}, []int{1, 1, 17}},           // columns
		{[]int{3, 4, 17}, []int{1, 4, 17}},           // columns of 4·17
		{[]int{3, 1, 17}, []int{3, 1, 1}},            // rows, with a size-1 axis in both
		{[]int{3, 4, 17}, []int{1, 1, 1}},            // one value for all
		{[]int{3, 4, 17}, []int{3, 1, 17}},           // one run of broadcast axes in the middle
		{[]int{2, 3, 4, 5, 9}, []int{2, 3, 1, 1, 9}}, // a longer run
		{[]int{2, 3, 4, 1, 9}, []int{2, 1, 1, 1, 9}}, // a run with a size-1 axis of both
		{[]int{2, 3, 4, 5, 9}, []int{2, 1, 4, 1, 9}}, // two runs: expanded
		{[]int{5, 3}, []int{5, 1}},                   // rows shorter than a block: expanded
		{[]int{5, 3, 4}, []int{5, 1, 4}},             // a run over blocks shorter than minBlock
	} {
		for name, op := range ops {
			t.Run(fmt.Sprintf("%s/%v/%v", name, tc.full, tc.small), func(t *testing.T) {
				x, y := randTensor(r, tc.full...), randTensor(r, tc.small...)
				checkSame(t, 1e-6, func(in []*Node) []*Node {
					return []*Node{op(in[0], in[1]), op(in[1], in[0])}
				}, x, y)
			})
		}
	}
}

// TestExplicitBroadcastsAndFusedScatterAdd compares against the stock backend the patterns
// gradients produce: explicit BroadcastInDim operands (read in place, or both operands broadcast
// alike so the op runs on the small ones), and x + ScatterSum(zeros, ...) from a Gather's gradient
// (scattered straight into x), including repeated indices.
func TestExplicitBroadcastsAndFusedScatterAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	x, y := randTensor(r, 3, 4, 1), randTensor(r, 3, 4, 17)
	checkSame(t, 1e-6, func(in []*Node) []*Node {
		bx := BroadcastToDims(in[0], 3, 4, 17)
		return []*Node{Mul(bx, in[1]), Sub(in[1], bx), Mul(in[0], bx), Div(bx, BroadcastToDims(in[0], 3, 4, 17)),
			Add(BroadcastToDims(Reshape(in[0], 3, 1, 4, 1), 3, 5, 4, 17), Reshape(in[1], 3, 1, 4, 17))}
	}, x, y)
	table, idx := randTensor(r, 40, 9), tensors.FromFlatDataAndDimensions([]int32{3, 0, 39, 3, 7, 3}, 6, 1)
	checkSame(t, 1e-5, func(in []*Node) []*Node {
		loss := Add(ReduceAllSum(Mul(Gather(in[0], in[1]), Gather(in[0], in[1]))), ReduceAllSum(Mul(in[0], in[0])))
		return []*Node{Gradient(loss, in[0])[0]}
	}, table, idx)
}
