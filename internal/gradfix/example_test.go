package gradfix_test

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	_ "github.com/accrete/accrete/internal/gradfix"
)

// The gradient of a strided slice and of Rsqrt on the pure-Go backend, neither of which GoMLX v0.26.0
// can build there on its own.
func Example_sliceAndRsqrtGradient() {
	b, err := backends.NewWithConfig("go:ops_sequential")
	if err != nil {
		panic(err)
	}
	grad := graph.MustNewExec(b, func(x *graph.Node) *graph.Node {
		loss := graph.ReduceAllSum(graph.Rsqrt(graph.Slice(x, graph.AxisRange(1).Stride(2))))
		return graph.Gradient(loss, x)[0]
	}).MustExec1(tensors.FromFlatDataAndDimensions([]float32{1, 4, 9, 16, 25}, 5))
	for _, v := range tensors.MustCopyFlatData[float32](grad) {
		fmt.Printf("%.4g ", v)
	}
	fmt.Println()
	// Output: 0 -0.0625 0 -0.007812 0
}
