package cpubackend_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// flat64 returns a tensor's values as float64 (bools as 0/1).
func flat64(t testing.TB, x *tensors.Tensor) []float64 {
	var out []float64
	require.NoError(t, x.ConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []float64:
			out = append(out, f...)
		case []int32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []int64:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []uint32:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []uint64:
			for _, v := range f {
				out = append(out, float64(v))
			}
		case []bool:
			for _, v := range f {
				if v {
					out = append(out, 1)
				} else {
					out = append(out, 0)
				}
			}
		default:
			t.Fatalf("unexpected flat type %T", flat)
		}
	}))
	return out
}

func randTensor(r *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// checkSame runs fn on the stock backend and on ours with the same inputs and compares every output.
func checkSame(t *testing.T, tol float64, fn func(in []*Node) []*Node, inputs ...*tensors.Tensor) {
	t.Helper()
	var results [2][]*tensors.Tensor
	for i, cfg := range []string{"go:ops_sequential", "accrete"} {
		exec, err := NewExec(sharedBackend(t, cfg), fn)
		require.NoError(t, err)
		args := make([]any, len(inputs))
		for j, x := range inputs {
			c, err := x.LocalClone()
			require.NoError(t, err)
			args[j] = c
		}
		out, err := exec.Exec(args...)
		require.NoError(t, err, cfg)
		results[i] = out
	}
	require.Len(t, results[1], len(results[0]))
	for k := range results[0] {
		want, got := results[0][k], results[1][k]
		require.True(t, want.Shape().Equal(got.Shape()), "output %d: stock %s, accrete %s", k, want.Shape(), got.Shape())
		w, g := flat64(t, want), flat64(t, got)
		// Errors are measured against the output's typical magnitude (its RMS): a matmul's rounding
		// error scales with its terms, not with a result that happens to cancel to near zero.
		var rms float64
		for _, v := range w {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				rms += v * v
			}
		}
		rms = math.Sqrt(rms / float64(max(1, len(w))))
		for i := range w {
			if w[i] == g[i] || math.IsNaN(w[i]) && math.IsNaN(g[i]) {
				continue
			}
			scale := max(1, math.Abs(w[i]), math.Abs(g[i]), rms)
			require.LessOrEqualf(t, math.Abs(w[i]-g[i]), tol*scale, "output %d (%s) [%d]: stock %g, accrete %g",
				k, want.Shape(), i, w[i], g[i])
		}
	}
}

var backendCache = map[string]backends.Backend{}

// sharedBackend returns one backend per config for the op tests (tests in this file are not parallel).
func sharedBackend(t testing.TB, cfg string) backends.Backend {
	if b, ok := backendCache[cfg]; ok {
		return b
	}
	b := newBackend(t, cfg)
	backendCache[cfg] = b
	return b
}

func one(f func(x *Node) *Node) func(in []*Node) []*Node {
	return func(in []*Node) []*Node { return []*Node{f(in[0])} }
}

func randDims(r *rand.Rand, rank int) []int {
	d := make([]int, rank)
	for i := range d {
		d[i] = 1 + r.IntN(6)
	}
	return d
}

func TestElementwiseOps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	unary := map[string]func(*Node) *Node{
		"Neg": Neg, "Exp": Exp, "Abs": Abs, "Sign": Sign, "Cos": Cos, "Sin": Sin, "Tanh": Tanh,
		"Logistic": Logistic, "Floor": Floor, "Ceil": Ceil, "Square": Square,
		"Log":   func(x *Node) *Node { return Log(AddScalar(Abs(x), 0.1)) },
		"Sqrt":  func(x *Node) *Node { return Sqrt(Abs(x)) },
		"Rsqrt": func(x *Node) *Node { return Rsqrt(AddScalar(Abs(x), 0.1)) },
		"Log1p": func(x *Node) *Node { return Log1p(Abs(x)) },
		"Expm1": Expm1,
		"IsNaN": func(x *Node) *Node { return IsNaN(Log(x)) },
		"Not":   func(x *Node) *Node { return LogicalNot(GreaterThan(x, ScalarZero(x.Graph(), x.DType()))) },
		"Int32": func(x *Node) *Node { return ConvertDType(ConvertDType(MulScalar(x, 10), dtypes.Int32), dtypes.Float32) },
		"Int64Neg": func(x *Node) *Node {
			return ConvertDType(Neg(Abs(ConvertDType(MulScalar(x, 10), dtypes.Int64))), dtypes.Float32)
		},
	}
	binary := map[string]func(a, b *Node) *Node{
		"Add": Add, "Sub": Sub, "Mul": Mul, "Max": Max, "Min": Min,
		"Div": func(a, b *Node) *Node { return Div(a, AddScalar(Abs(b), 0.5)) },
		"Pow": func(a, b *Node) *Node { return Pow(AddScalar(Abs(a), 0.1), b) },
		"Eq":  func(a, b *Node) *Node { return Equal(a, Max(a, b)) },
		"Ge":  GreaterOrEqual, "Gt": GreaterThan, "Le": LessOrEqual, "Lt": LessThan, "Ne": NotEqual,
		"And":   func(a, b *Node) *Node { return LogicalAnd(GreaterThan(a, b), GreaterThan(a, ZerosLike(a))) },
		"Or":    func(a, b *Node) *Node { return LogicalOr(GreaterThan(a, b), GreaterThan(a, ZerosLike(a))) },
		"Where": func(a, b *Node) *Node { return Where(GreaterThan(a, b), a, b) },
		"WhereScalar": func(a, b *Node) *Node {
			return Where(GreaterThan(a, b), a, ScalarOne(a.Graph(), a.DType()))
		},
		"IntAdd": func(a, b *Node) *Node {
			return Add(ConvertDType(MulScalar(a, 10), dtypes.Int32), ConvertDType(MulScalar(b, 10), dtypes.Int32))
		},
	}
	for trial := range 3 {
		dims := randDims(r, 1+r.IntN(4))
		x, y := randTensor(r, dims...), randTensor(r, dims...)
		for name, f := range unary {
			t.Run(fmt.Sprintf("%s/%v", name, dims), func(t *testing.T) { checkSame(t, 1e-5, one(f), x) })
		}
		for name, f := range binary {
			t.Run(fmt.Sprintf("%s/%v", name, dims), func(t *testing.T) {
				checkSame(t, 1e-5, func(in []*Node) []*Node { return []*Node{f(in[0], in[1])} }, x, y)
			})
			// Against a scalar and against a broadcast operand.
			if trial == 0 {
				t.Run(fmt.Sprintf("%s/scalar", name), func(t *testing.T) {
					checkSame(t, 1e-5, func(in []*Node) []*Node {
						return []*Node{f(in[0], Const(in[0].Graph(), float32(0.3)))}
					}, x)
				})
				t.Run(fmt.Sprintf("%s/broadcast", name), func(t *testing.T) {
					checkSame(t, 1e-5, func(in []*Node) []*Node {
						return []*Node{f(in[0], ReduceAndKeep(in[1], ReduceSum, 0))}
					}, x, y)
				})
			}
		}
	}
}

func TestShapeOps(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 1))
	for trial := range 6 {
		rank := 1 + r.IntN(4)
		dims := randDims(r, rank)
		x := randTensor(r, dims...)
		perm := r.Perm(rank)
		axis := r.IntN(rank)
		name := fmt.Sprintf("%d/%v", trial, dims)
		t.Run("Transpose/"+name, func(t *testing.T) {
			checkSame(t, 0, one(func(x *Node) *Node { return TransposeAllDims(x, perm...) }), x)
		})
		t.Run("Reshape/"+name, func(t *testing.T) {
			checkSame(t, 0, one(func(x *Node) *Node { return Reshape(x, -1) }), x)
		})
		t.Run("Broadcast/"+name, func(t *testing.T) {
			checkSame(t, 0, one(func(x *Node) *Node {
				y := InsertAxes(x, axis)
				nd := y.Shape().Clone().Dimensions
				nd[axis] = 3
				return BroadcastToDims(y, nd...)
			}), x)
		})
		t.Run("Slice/"+name, func(t *testing.T) {
			d := dims[axis]
			start := r.IntN(d)
			stride := 1 + r.IntN(2)
			checkSame(t, 0, one(func(x *Node) *Node {
				specs := make([]SliceAxisSpec, rank)
				for i := range specs {
					specs[i] = AxisRange()
				}
				specs[axis] = AxisRange(start, d).Stride(stride)
				return Slice(x, specs...)
			}), x)
		})
		t.Run("Concatenate/"+name, func(t *testing.T) {
			y := randTensor(r, dims...)
			checkSame(t, 0, func(in []*Node) []*Node {
				return []*Node{Concatenate([]*Node{in[0], in[1], in[0]}, axis)}
			}, x, y)
		})
		t.Run("Reduce/"+name, func(t *testing.T) {
			axes := []int{axis}
			if rank > 1 && trial%2 == 0 {
				axes = append(axes, (axis+1)%rank)
			}
			checkSame(t, 1e-5, func(in []*Node) []*Node {
				return []*Node{ReduceSum(in[0], axes...), ReduceMax(in[0], axes...), ReduceMin(in[0], axes...),
					ReduceAllSum(in[0]), ArgMax(in[0], axis, dtypes.Int32), Softmax(in[0], axis)}
			}, x)
		})
		t.Run("Iota/"+name, func(t *testing.T) {
			checkSame(t, 0, func(in []*Node) []*Node {
				return []*Node{Iota(in[0].Graph(), shapes.Make(dtypes.Int32, dims...), axis),
					Iota(in[0].Graph(), shapes.Make(dtypes.Float32, dims...), axis)}
			}, x)
		})
	}
}

func TestGatherAndRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 1))
	table := randTensor(r, 17, 5)
	idx := make([]int32, 3*4)
	for i := range idx {
		idx[i] = int32(r.IntN(17))
	}
	indices := tensors.FromFlatDataAndDimensions(idx, 3, 4, 1)
	checkSame(t, 0, func(in []*Node) []*Node { return []*Node{Gather(in[0], in[1])} }, table, indices)
	// The gradient of Gather is a ScatterSum with repeated indices.
	w := randTensor(r, 3, 4, 5)
	checkSame(t, 1e-5, func(in []*Node) []*Node {
		loss := ReduceAllSum(Mul(Gather(in[0], in[1]), in[2]))
		return Gradient(loss, in[0])
	}, table, indices, w)
	// Random bits, uniform floats and the advanced state agree bit for bit.
	checkSame(t, 0, func(in []*Node) []*Node {
		state := Const(in[0].Graph(), []uint64{42, 7, 0})
		s1, u := RandomUniform(state, shapes.Make(dtypes.Float32, 3, 7))
		s2, v := RandomUniform(s1, shapes.Make(dtypes.Float64, 5))
		return []*Node{s1, u, s2, v}
	}, table)
}

func TestDotGeneral(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 1))
	cases := []struct {
		eq       string
		lhs, rhs []int
	}{
		{"ij,jk->ik", []int{3, 4}, []int{4, 5}},
		{"ij,kj->ik", []int{7, 9}, []int{11, 9}},
		{"ji,jk->ik", []int{9, 7}, []int{9, 11}},
		{"ji,kj->ik", []int{33, 20}, []int{17, 33}},
		{"bij,bjk->bik", []int{3, 13, 19}, []int{3, 19, 21}},
		{"bhqd,bhkd->bhqk", []int{2, 3, 10, 8}, []int{2, 3, 12, 8}},
		{"bqhd,bkhd->bhqk", []int{2, 9, 3, 8}, []int{2, 11, 3, 8}},
		{"ij,jk->ik", []int{130, 70}, []int{70, 90}},   // blocked, edges in both directions
		{"ij,jk->ik", []int{203, 300}, []int{300, 45}}, // K > KC, parallel
		{"ij,kj->ik", []int{64, 300}, []int{300, 300}},
		{"bij,bkj->bik", []int{4, 50, 40}, []int{4, 33, 40}},
		{"ij,jk->ik", []int{1, 128}, []int{128, 512}}, // a decode step
		// Few rows against a [N, K] operand: the unpacked small-M path (K tails, odd N, batches).
		{"ij,kj->ik", []int{1, 128}, []int{512, 128}},
		{"ij,kj->ik", []int{3, 288}, []int{2001, 288}}, // split over columns
		{"ij,kj->ik", []int{16, 100}, []int{37, 100}},
		{"ij,kj->ik", []int{5, 7}, []int{700, 7}},
		{"ji,kj->ik", []int{64, 7}, []int{300, 64}},
		{"bij,bkj->bik", []int{3, 5, 70}, []int{3, 41, 70}},
		{"bqhd,bkhd->bhqk", []int{2, 1, 3, 32}, []int{2, 64, 3, 32}},
		{"btkgd,bskd->bkgts", []int{2, 1, 2, 2, 32}, []int{2, 64, 2, 32}},
		{"bkgts,bskd->btkgd", []int{2, 2, 2, 1, 64}, []int{2, 64, 2, 32}},
		{"btkgd,bskd->bkgts", []int{2, 9, 2, 2, 32}, []int{2, 64, 2, 32}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%v/%v", c.eq, c.lhs, c.rhs), func(t *testing.T) {
			a, b := randTensor(r, c.lhs...), randTensor(r, c.rhs...)
			checkSame(t, 1e-5, func(in []*Node) []*Node { return []*Node{Einsum(c.eq, in[0], in[1])} }, a, b)
		})
	}
}
