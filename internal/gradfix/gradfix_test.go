package gradfix_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/gradfix"
)

var shared struct {
	once sync.Once
	b    backends.Backend
	err  error
}

// backend returns the pure-Go backend, in the sequential mode the project uses.
func backend(tb testing.TB) backends.Backend {
	tb.Helper()
	shared.once.Do(func() { shared.b, shared.err = backends.NewWithConfig("go:ops_sequential") })
	require.NoError(tb, shared.err)
	return shared.b
}

// gradCase is a scalar-valued function of float64 inputs whose gradient is checked against central
// finite differences.
type gradCase struct {
	name string
	dims [][]int                              // shapes of the float64 inputs
	fn   func(xs []*Node) *Node               // any-shaped output; the loss is a fixed weighted sum of it
	pos  bool                                 // draw inputs from [0.5, 2] instead of [-1, 1]
	h    float64                              // finite-difference step; zero means 1e-5
	tol  float64                              // max |grad-fd| / max|fd|; zero means 1e-6
	init func(r *rand.Rand) []*tensors.Tensor // custom inputs; nil means random per dims/pos
}

// weightedSum reduces out to a scalar with fixed, non-uniform weights, so that the incoming gradient
// of every rule is a varied tensor rather than all ones.
func weightedSum(out *Node) *Node {
	g := out.Graph()
	w := Sin(AddScalar(MulScalar(IotaFull(g, shapes.Make(out.DType(), out.Shape().Dimensions...)), 0.731), 0.5))
	return ReduceAllSum(Mul(out, w))
}

func randomInputs(r *rand.Rand, dims [][]int, pos bool) []*tensors.Tensor {
	ts := make([]*tensors.Tensor, len(dims))
	for i, d := range dims {
		n := 1
		for _, x := range d {
			n *= x
		}
		data := make([]float64, n)
		for j := range data {
			if pos {
				data[j] = 0.5 + 1.5*r.Float64()
			} else {
				data[j] = 2*r.Float64() - 1
			}
		}
		ts[i] = tensors.FromFlatDataAndDimensions(data, d...)
	}
	return ts
}

// checkGradient compares graph.Gradient of c on the simplego backend with central finite differences.
func checkGradient(t *testing.T, c gradCase, r *rand.Rand) {
	t.Helper()
	b := backend(t)
	h := cmpOr(c.h, 1e-5)
	tol := cmpOr(c.tol, 1e-6)
	var inputs []*tensors.Tensor
	if c.init != nil {
		inputs = c.init(r)
	} else {
		inputs = randomInputs(r, c.dims, c.pos)
	}
	gradExec := MustNewExec(b, func(xs []*Node) []*Node {
		loss := weightedSum(c.fn(xs))
		return append([]*Node{loss}, Gradient(loss, xs...)...)
	})
	lossExec := MustNewExec(b, func(xs []*Node) *Node { return weightedSum(c.fn(xs)) })
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	outs := gradExec.MustExec(args...)
	lossAt := func() float64 { return tensors.MustCopyFlatData[float64](lossExec.MustExec(args...)[0])[0] }

	for i, in := range inputs {
		got := tensors.MustCopyFlatData[float64](outs[1+i])
		data := tensors.MustCopyFlatData[float64](in)
		dims := in.Shape().Dimensions
		fd := make([]float64, len(data))
		for j := range data {
			orig := data[j]
			data[j] = orig + h
			args[i] = tensors.FromFlatDataAndDimensions(data, dims...)
			plus := lossAt()
			data[j] = orig - h
			args[i] = tensors.FromFlatDataAndDimensions(data, dims...)
			minus := lossAt()
			data[j] = orig
			fd[j] = (plus - minus) / (2 * h)
		}
		args[i] = in
		scale := 0.0
		for _, v := range fd {
			scale = math.Max(scale, math.Abs(v))
		}
		require.Greater(t, scale, 0.0, "input #%d: finite differences are all zero, the case tests nothing", i)
		for j := range fd {
			require.LessOrEqualf(t, math.Abs(got[j]-fd[j])/scale, tol,
				"input #%d %v, flat index %d: gradient %.10g, finite difference %.10g", i, dims, j, got[j], fd[j])
		}
	}
}

func cmpOr(x, def float64) float64 {
	if x == 0 {
		return def
	}
	return x
}

func runCases(t *testing.T, cases []gradCase) {
	t.Helper()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkGradient(t, c, rand.New(rand.NewPCG(42, uint64(i))))
		})
	}
}

func TestDotGeneralGradient(t *testing.T) {
	dg := func(lc, lb, rc, rb []int) func(xs []*Node) *Node {
		return func(xs []*Node) *Node { return DotGeneral(xs[0], lc, lb, xs[1], rc, rb) }
	}
	einsum := func(eq string) func(xs []*Node) *Node {
		return func(xs []*Node) *Node { return Einsum(eq, xs[0], xs[1]) }
	}
	runCases(t, []gradCase{
		{name: "matmul", dims: [][]int{{5, 4}, {4, 3}}, fn: dg([]int{1}, nil, []int{0}, nil)},
		{name: "matmul_rhs_transposed", dims: [][]int{{5, 4}, {3, 4}}, fn: dg([]int{1}, nil, []int{1}, nil)},
		{name: "matmul_lhs_transposed", dims: [][]int{{4, 5}, {4, 3}}, fn: dg([]int{0}, nil, []int{0}, nil)},
		{name: "batch_first", dims: [][]int{{2, 5, 4}, {2, 4, 3}}, fn: dg([]int{2}, []int{0}, []int{1}, []int{0})},
		{name: "batch_middle", dims: [][]int{{5, 2, 4}, {4, 2, 3}}, fn: dg([]int{2}, []int{1}, []int{0}, []int{1})},
		{name: "batch_last_vs_first", dims: [][]int{{3, 4, 2}, {2, 4, 5}}, fn: dg([]int{1}, []int{2}, []int{1}, []int{0})},
		{name: "two_contracting_crossed", dims: [][]int{{3, 4, 5, 2}, {2, 6, 4}},
			fn: dg([]int{1, 3}, nil, []int{2, 0}, nil)},
		{name: "two_batch_permuted", dims: [][]int{{2, 3, 4, 5}, {4, 5, 6, 2}},
			fn: dg([]int{2}, []int{3, 0}, []int{0}, []int{1, 3})},
		{name: "contract_and_batch_everything", dims: [][]int{{3, 4}, {4, 3}}, fn: dg([]int{1}, []int{0}, []int{0}, []int{1})},
		{name: "outer_product", dims: [][]int{{3}, {4}}, fn: dg(nil, nil, nil, nil)},
		{name: "vector_matrix", dims: [][]int{{4}, {4, 3}}, fn: dg([]int{0}, nil, []int{0}, nil)},
		{name: "matrix_vector", dims: [][]int{{3, 4}, {4}}, fn: dg([]int{1}, nil, []int{0}, nil)},
		{name: "einsum_attention_scores", dims: [][]int{{2, 3, 2, 4}, {2, 5, 2, 4}}, fn: einsum("bqhd,bkhd->bhqk")},
		{name: "einsum_attention_values", dims: [][]int{{2, 2, 3, 5}, {2, 5, 2, 4}}, fn: einsum("bhqk,bkhd->bqhd")},
		{name: "einsum_projection", dims: [][]int{{2, 3, 4}, {4, 5}}, fn: einsum("btd,df->btf")},
		{name: "same_operand_gram", dims: [][]int{{3, 4}}, fn: func(xs []*Node) *Node {
			return DotGeneral(xs[0], []int{1}, nil, xs[0], []int{1}, nil)
		}},
		{name: "aliased_node", dims: [][]int{{3, 4}, {4, 2}}, fn: func(xs []*Node) *Node {
			// An alias prefixes Node.String(), from which the axes are read.
			return DotGeneral(xs[0], []int{1}, nil, xs[1], []int{0}, nil).WithAlias("w -> [1 2] lhsBatchAxes=[0]")
		}},
		{name: "dot_matmul", dims: [][]int{{3, 4}, {4, 5}}, fn: func(xs []*Node) *Node { return Dot(xs[0], xs[1]) }},
		{name: "dot_matrix_vector", dims: [][]int{{3, 4}, {4}}, fn: func(xs []*Node) *Node { return Dot(xs[0], xs[1]) }},
		{name: "dot_vector_vector", dims: [][]int{{4}, {4}}, fn: func(xs []*Node) *Node { return Dot(xs[0], xs[1]) }},
	})
}

func TestSliceGradient(t *testing.T) {
	slice := func(specs ...SliceAxisSpec) func(xs []*Node) *Node {
		return func(xs []*Node) *Node { return Slice(xs[0], specs...) }
	}
	runCases(t, []gradCase{
		{name: "offsets", dims: [][]int{{6, 7}}, fn: slice(AxisRange(1, 5), AxisRange(2, 7))},
		{name: "prefix_only", dims: [][]int{{6, 7}}, fn: slice(AxisRange(0, 3))},
		{name: "strides", dims: [][]int{{9, 8}}, fn: slice(AxisRange(1, 8).Stride(3), AxisRange().Stride(2))},
		{name: "stride_ends_on_last", dims: [][]int{{7}}, fn: slice(AxisRange().Stride(3))},
		{name: "stride_single_element", dims: [][]int{{6, 3}}, fn: slice(AxisRange(2, 3).Stride(4))},
		{name: "stride_with_gap_at_end", dims: [][]int{{10}}, fn: slice(AxisRange(1, 6).Stride(2))},
		{name: "rank3_mixed", dims: [][]int{{4, 5, 6}},
			fn: slice(AxisRange(), AxisRange(1, 5).Stride(2), AxisRange(5))},
		{name: "negative_indices", dims: [][]int{{5, 6}}, fn: slice(AxisRange(-3), AxisRange(1, -1).Stride(2))},
	})
}

func TestRsqrtGradient(t *testing.T) {
	runCases(t, []gradCase{
		{name: "rsqrt", dims: [][]int{{3, 4}}, pos: true, fn: func(xs []*Node) *Node { return Rsqrt(xs[0]) }},
		{name: "rsqrt_of_mean_square", dims: [][]int{{2, 5}}, fn: func(xs []*Node) *Node {
			return Rsqrt(AddScalar(ReduceMean(Square(xs[0]), -1), 1e-3))
		}},
	})
}

// TestOtherOpsOnSimpleGo checks that the rest of the ops a Llama model differentiates through have a
// gradient that builds and runs on the pure-Go backend (stock v0.26.0 rules, or ours).
func TestOtherOpsOnSimpleGo(t *testing.T) {
	un := func(f func(x *Node) *Node) func(xs []*Node) *Node {
		return func(xs []*Node) *Node { return f(xs[0]) }
	}
	bin := func(f func(x, y *Node) *Node) func(xs []*Node) *Node {
		return func(xs []*Node) *Node { return f(xs[0], xs[1]) }
	}
	runCases(t, []gradCase{
		{name: "gather", dims: [][]int{{5, 3}}, fn: func(xs []*Node) *Node {
			idx := Const(xs[0].Graph(), [][]int32{{1}, {4}, {1}, {0}})
			return Gather(xs[0], idx)
		}},
		{name: "concatenate", dims: [][]int{{2, 3}, {2, 4}}, fn: func(xs []*Node) *Node {
			return Concatenate(xs, 1)
		}},
		{name: "transpose", dims: [][]int{{2, 3, 4}}, fn: un(func(x *Node) *Node { return TransposeAllAxes(x, 2, 0, 1) })},
		{name: "reshape", dims: [][]int{{2, 6}}, fn: un(func(x *Node) *Node { return Reshape(x, 3, 4) })},
		{name: "broadcast_in_dim", dims: [][]int{{3, 1}}, fn: un(func(x *Node) *Node { return BroadcastToDims(x, 3, 4) })},
		{name: "reduce_max", dims: [][]int{{3, 4}}, fn: un(func(x *Node) *Node { return ReduceMax(x, 1) })},
		{name: "reduce_sum", dims: [][]int{{3, 4}}, fn: un(func(x *Node) *Node { return ReduceSum(x, 0) })},
		{name: "exp", dims: [][]int{{3, 4}}, fn: un(Exp)},
		{name: "expm1", dims: [][]int{{3, 4}}, fn: un(Expm1)},
		{name: "log", dims: [][]int{{3, 4}}, pos: true, fn: un(Log)},
		{name: "logistic", dims: [][]int{{3, 4}}, fn: un(Logistic)},
		{name: "sqrt", dims: [][]int{{3, 4}}, pos: true, fn: un(Sqrt)},
		{name: "identity", dims: [][]int{{3, 4}}, fn: un(Identity)},
		{name: "where", dims: [][]int{{3, 4}, {3, 4}}, fn: bin(func(x, y *Node) *Node {
			return Where(GreaterThan(x, ScalarZero(x.Graph(), x.DType())), Mul(x, y), Neg(y))
		})},
		{name: "softmax", dims: [][]int{{3, 5}}, fn: un(func(x *Node) *Node { return Softmax(x, -1) })},
		{name: "add_broadcast", dims: [][]int{{3, 4}, {1, 4}}, fn: bin(Add)},
		{name: "mul_broadcast", dims: [][]int{{3, 4}, {3, 1}}, fn: bin(Mul)},
		{name: "div_broadcast", dims: [][]int{{3, 4}, {1, 4}}, pos: true, fn: bin(Div)},
		{name: "max", dims: [][]int{{3, 4}, {3, 4}}, fn: bin(Max)},
		{name: "convert_dtype", dims: [][]int{{3, 4}}, h: 1e-2, tol: 1e-4, fn: un(func(x *Node) *Node {
			return ConvertDType(MulScalar(ConvertDType(x, dtypes.Float32), 3), dtypes.Float64)
		})},
	})
}

// TestMLPGradient differentiates a small 2-layer MLP with an embedding lookup, an Rsqrt RMSNorm,
// Einsum projections, SiLU, a strided slice and a log-softmax, end to end on the pure-Go backend.
func TestMLPGradient(t *testing.T) {
	const vocab, dim, hidden, out = 7, 6, 8, 5
	tokens := [][]int32{{1}, {4}, {6}, {1}, {0}, {3}}
	mlp := func(xs []*Node) *Node {
		embed, gamma, w1, w2 := xs[0], xs[1], xs[2], xs[3]
		g := embed.Graph()
		x := Reshape(Gather(embed, Const(g, tokens)), 2, 3, dim) // [batch, time, dim]
		norm := Rsqrt(AddScalar(ReduceAndKeep(Square(x), ReduceMean, -1), 1e-5))
		x = Mul(Mul(x, norm), Reshape(gamma, 1, 1, dim))
		h := Einsum("btd,df->btf", x, w1)
		h = Mul(h, Logistic(h))                                                 // SiLU
		h = Slice(h, AxisRange(), AxisRange(1), AxisRange(1, hidden).Stride(2)) // [2, 2, hidden/2]
		logits := Einsum("btf,fo->bto", h, w2)
		logp := Sub(logits, Log(ReduceAndKeep(Exp(logits), ReduceSum, -1)))
		return logp
	}
	checkGradient(t, gradCase{
		name: "mlp",
		dims: [][]int{{vocab, dim}, {dim}, {dim, hidden}, {hidden / 2, out}},
		fn:   mlp,
	}, rand.New(rand.NewPCG(7, 7)))
}

// TestMatchesStockRule checks our DotGeneral rule against v0.26.0's on a case both handle.
func TestMatchesStockRule(t *testing.T) {
	b := backend(t)
	r := rand.New(rand.NewPCG(3, 3))
	in := randomInputs(r, [][]int{{2, 3, 4, 5}, {4, 5, 6, 2}}, false)
	fn := func(lhs, rhs *Node) []*Node {
		y := DotGeneral(lhs, []int{2}, []int{3, 0}, rhs, []int{0}, []int{1, 3})
		return Gradient(weightedSum(y), lhs, rhs)
	}
	ours := MustNewExec(b, fn).MustExec(in[0], in[1])
	stock := withStockRule(NodeTypeDotGeneral, func() []*tensors.Tensor { return MustNewExec(b, fn).MustExec(in[0], in[1]) })
	for i := range ours {
		want := tensors.MustCopyFlatData[float64](stock[i])
		got := tensors.MustCopyFlatData[float64](ours[i])
		require.InDeltaSlice(t, want, got, 1e-12, "operand %d", i)
	}
}

// withStockRule runs fn, which must build (and may run) its graphs inside, with v0.26.0's rule for
// node type nt registered instead of ours.
func withStockRule[T any](nt NodeType, fn func() T) T {
	ours := VJPRegistration[nt]
	if stock := gradfix.Stock()[nt]; stock != nil {
		VJPRegistration[nt] = stock
	} else {
		delete(VJPRegistration, nt)
	}
	defer func() { VJPRegistration[nt] = ours }()
	return fn()
}

// TestStockRulesFailOnSimpleGo documents why the package exists: with v0.26.0's rules, the gradients
// of Slice and Rsqrt cannot be built for the pure-Go backend. If this fails after a GoMLX upgrade,
// the corresponding rule here may no longer be needed.
func TestStockRulesFailOnSimpleGo(t *testing.T) {
	b := backend(t)
	x := tensors.FromFlatDataAndDimensions([]float64{1, 2, 3, 4}, 4)
	for _, c := range []struct {
		nt   NodeType
		fn   func(x *Node) *Node
		want string // in the panic
	}{
		{NodeTypeSlice, func(x *Node) *Node { return Slice(x, AxisRange(1, 3)) }, `op "Pad" not implemented`},
		{NodeTypeRsqrt, Rsqrt, "no gradient is defined"},
	} {
		t.Run(c.nt.String(), func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				withStockRule(c.nt, func() any {
					return MustNewExec(b, func(x *Node) *Node {
						return Gradient(ReduceAllSum(c.fn(x)), x)[0]
					}).MustExec(x)
				})
			}()
			require.NotNil(t, got, "the stock rule worked")
			require.Contains(t, fmt.Sprint(got), c.want)
		})
	}
	require.Nil(t, gradfix.Stock()[NodeTypeRsqrt], "v0.26.0 has no Rsqrt rule")
}
