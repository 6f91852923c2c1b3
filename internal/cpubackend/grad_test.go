package cpubackend_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// TestGradients compares graph.Gradient of a random weighting of each op's output, on both backends.
func TestGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	ops := map[string]func(x *Node) *Node{
		"Exp": Exp, "Neg": Neg, "Logistic": Logistic, "Cos": Cos, "Sin": Sin, "Tanh": Tanh, "Abs": Abs,
		"Log":        func(x *Node) *Node { return Log(AddScalar(Square(x), 0.5)) },
		"Sqrt":       func(x *Node) *Node { return Sqrt(AddScalar(Square(x), 0.5)) },
		"Rsqrt":      func(x *Node) *Node { return Rsqrt(AddScalar(Square(x), 0.5)) },
		"Div":        func(x *Node) *Node { return Div(x, AddScalar(Square(x), 1)) },
		"Max":        func(x *Node) *Node { return Max(x, ScalarZero(x.Graph(), x.DType())) },
		"Softmax":    func(x *Node) *Node { return Softmax(x, -1) },
		"LogSoftmax": func(x *Node) *Node { return LogSoftmax(x, -1) },
		"ReduceMax":  func(x *Node) *Node { return ReduceAndKeep(x, ReduceMax, -1) },
		"Transpose":  func(x *Node) *Node { return TransposeAllDims(x, 2, 0, 1) },
		"Slice":      func(x *Node) *Node { return Slice(x, AxisRange(), AxisRange(1), AxisRange(0, 3)) },
		"Concat":     func(x *Node) *Node { return Concatenate([]*Node{x, Exp(x)}, 1) },
		"Reshape":    func(x *Node) *Node { return Reshape(x, -1, 4) },
		"Where":      func(x *Node) *Node { return Where(GreaterThan(x, ZerosLike(x)), Square(x), Neg(x)) },
		"Broadcast":  func(x *Node) *Node { return Add(x, ReduceAndKeep(x, ReduceSum, 0)) },
		"MatMul":     func(x *Node) *Node { return Einsum("abc,adc->abd", x, Tanh(x)) },
		"Attention": func(x *Node) *Node {
			s := Softmax(Einsum("abc,adc->abd", x, Cos(x)), -1)
			return Einsum("abd,adc->abc", s, x)
		},
	}
	x := randTensor(r, 2, 3, 4)
	for name, f := range ops {
		t.Run(name, func(t *testing.T) {
			y := f(Parameter(NewGraph(newBackend(t, "accrete"), "shape"), "x", x.Shape()))
			w := randTensor(r, y.Shape().Dimensions...)
			checkSame(t, 1e-5, func(in []*Node) []*Node {
				loss := ReduceAllSum(Mul(f(in[0]), in[1]))
				return Gradient(loss, in[0])
			}, x, w)
		})
	}
	_ = fmt.Sprint
}
