package cpubackend_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// TestBinaryBroadcastBlocks compares binary ops whose operands broadcast by rows ([N, T, 1] against
// [N, T, V], a softmax's max), by columns ([1, 1, V], a norm's weight), both ways round, and in
// mixed patterns that fall back to expanding, against the stock backend.
func TestBinaryBroadcastBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	ops := map[string]func(x, y *Node) *Node{"add": Add, "sub": Sub, "mul": Mul, "div": Div, "max": Max, "min": Min}
	for _, tc := range []struct{ full, small []int }{
		{[]int{3, 4, 17}, []int{3, 4, 1}},  // rows
		{[]int{3, 4, 17}, []int{3, 1, 1}},  // rows of 4·17
		{[]int{3, 4, 17}, []int{1, 1, 17}}, // columns
		{[]int{3, 4, 17}, []int{1, 4, 17}}, // columns of 4·17
		{[]int{3, 1, 17}, []int{3, 1, 1}},  // rows, with a size-1 axis in both
		{[]int{3, 4, 17}, []int{1, 1, 1}},  // one value for all
		{[]int{3, 4, 17}, []int{3, 1, 17}}, // mixed: expanded
		{[]int{5, 3}, []int{5, 1}},         // rows shorter than a block: expanded
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
