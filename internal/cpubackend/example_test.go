package cpubackend_test

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	_ "github.com/accrete/accrete/internal/cpubackend"
)

// Selecting the backend by name (as GOMLX_BACKEND=accrete does) and running a matmul and its gradient.
func Example_matMulGradient() {
	b, err := backends.NewWithConfig("accrete")
	if err != nil {
		panic(err)
	}
	exec := graph.MustNewExec(b, func(x, w *graph.Node) []*graph.Node {
		y := graph.MatMul(x, w)
		return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(y), w)...)
	})
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 2, 2)
	w := tensors.FromFlatDataAndDimensions([]float32{0.5, -1, 2, 0.25}, 2, 2)
	out := exec.MustExec(x, w)
	for _, t := range out {
		var line []string
		for _, v := range tensors.MustCopyFlatData[float32](t) {
			line = append(line, fmt.Sprintf("%.4g", v))
		}
		fmt.Println(strings.Join(line, " "))
	}
	// Output:
	// 4.5 -0.5 9.5 -2
	// 4 4 6 6
}
