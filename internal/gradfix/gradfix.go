package gradfix

import (
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // pure graph math
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// stock holds the rules init replaced (nil where there was none), for Stock.
var stock = map[NodeType]VJP{}

func init() {
	for t, vjp := range Rules() {
		stock[t] = VJPRegistration[t]
		VJPRegistration[t] = vjp
	}
}

// Stock returns the rules GoMLX had registered for the node types in Rules before this package
// replaced them (nil for types that had none). The map is new on each call; benchmarks use it to
// compare against the stock rules.
func Stock() map[NodeType]VJP {
	out := make(map[NodeType]VJP, len(stock))
	for t, vjp := range stock {
		out[t] = vjp
	}
	return out
}

// Rules returns the gradient rules this package registers in graph.VJPRegistration at init, keyed by
// node type. The map is new on each call.
func Rules() map[NodeType]VJP {
	return map[NodeType]VJP{
		NodeTypeDotGeneral: single(DotGeneralVJP),
		NodeTypeDot:        single(DotVJP),
		NodeTypeSlice:      single(SliceVJP),
		NodeTypeRsqrt:      single(RsqrtVJP),
		NodeTypeExpm1:      single(Expm1VJP),
		NodeTypeIdentity:   single(IdentityVJP),
	}
}

// single adapts a rule for a single-output node to graph.VJP.
func single(fn func(node, v *Node) []*Node) VJP {
	return func(node *Node, vjps []*Node, _ shapes.Shape) []*Node {
		return fn(node, vjps[0])
	}
}

// DotGeneralVJP returns the gradients of a DotGeneral node with respect to its two operands, given v,
// the gradient with respect to its output. Each is itself one DotGeneral of v with the other operand,
// contracting the output axes that came from the other operand's free axes (and the batch axes kept as
// batch), followed by a Transpose to the operand's axis order when that differs.
//
// GoMLX v0.26.0's rule instead broadcasts v against the other operand and reduces, which materialises
// a tensor of size batch·lhsFree·rhsFree·contracted.
func DotGeneralVJP(node, v *Node) []*Node {
	p := readDotParams(node)
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	nb, nlf, nrf := len(p.lhsBatch), len(p.lhsFree), len(p.rhsFree)
	vBatch := seq(0, nb)
	vLhsFree := seq(nb, nlf)
	vRhsFree := seq(nb+nlf, nrf)

	// d lhs = v ·(rhs free) rhs: result is [batch, lhs free, rhs contracting (in increasing rhs order)].
	gl := DotGeneral(v, vRhsFree, vBatch, rhs, p.rhsFree, p.rhsBatch)
	perm := make([]int, lhs.Rank())
	for i, a := range p.lhsBatch {
		perm[a] = i
	}
	for j, a := range p.lhsFree {
		perm[a] = nb + j
	}
	sortedRC := slices.Sorted(slices.Values(p.rhsContracting))
	for k, a := range p.lhsContracting {
		perm[a] = nb + nlf + slices.Index(sortedRC, p.rhsContracting[k])
	}
	if !isIdentity(perm) {
		// Operands laid out [batch, contracting, free] get their gradient in that order directly by
		// putting rhs first: [batch, rhs contracting (in increasing rhs order), lhs free].
		alt := make([]int, lhs.Rank())
		for i, a := range p.lhsBatch {
			alt[a] = i
		}
		for k, a := range p.lhsContracting {
			alt[a] = nb + slices.Index(sortedRC, p.rhsContracting[k])
		}
		for j, a := range p.lhsFree {
			alt[a] = nb + len(p.rhsContracting) + j
		}
		if isIdentity(alt) {
			gl, perm = DotGeneral(rhs, p.rhsFree, p.rhsBatch, v, vRhsFree, vBatch), alt
		}
	}
	gl = transposeIfNeeded(gl, perm)

	// d rhs = lhs ·(lhs free) v: result is [batch, lhs contracting (in increasing lhs order), rhs free].
	// Putting lhs first makes the plain matmul case [M,K]x[K,N] need no transpose.
	gr := DotGeneral(lhs, p.lhsFree, p.lhsBatch, v, vLhsFree, vBatch)
	perm = make([]int, rhs.Rank())
	for i, a := range p.rhsBatch {
		perm[a] = i
	}
	sortedLC := slices.Sorted(slices.Values(p.lhsContracting))
	for k, a := range p.rhsContracting {
		perm[a] = nb + slices.Index(sortedLC, p.lhsContracting[k])
	}
	nc := len(p.lhsContracting)
	for j, a := range p.rhsFree {
		perm[a] = nb + nc + j
	}
	if !isIdentity(perm) {
		// Operands laid out [batch, free, contracting] — a Hugging Face weight [out, in] — get their
		// gradient in that order directly with v first: [batch, rhs free, lhs contracting]. Besides
		// the transpose this saves, the big operand (v: the logits' gradient for an LM head) is then
		// the matmul's left side, which the backend packs in row blocks instead of whole per worker.
		alt := make([]int, rhs.Rank())
		for i, a := range p.rhsBatch {
			alt[a] = i
		}
		for j, a := range p.rhsFree {
			alt[a] = nb + j
		}
		for k, a := range p.rhsContracting {
			alt[a] = nb + nrf + slices.Index(sortedLC, p.lhsContracting[k])
		}
		if isIdentity(alt) {
			gr, perm = DotGeneral(v, vLhsFree, vBatch, lhs, p.lhsFree, p.lhsBatch), alt
		}
	}
	gr = transposeIfNeeded(gr, perm)
	return []*Node{gl, gr}
}

// DotVJP returns the gradients of a Dot node (vector·vector, matrix·vector or matrix·matrix) by
// treating it as the DotGeneral it is: lhs's last axis contracted with rhs's first.
func DotVJP(node, v *Node) []*Node {
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	if lhs.Rank() < 1 || lhs.Rank() > 2 || rhs.Rank() < 1 || rhs.Rank() > 2 {
		panic("gradfix: Dot gradient needs operands of rank 1 or 2, got " +
			lhs.Shape().String() + " and " + rhs.Shape().String())
	}
	// v is [lhs free..., rhs free...]; lhs has at most one free axis (0), rhs at most one (1).
	var vLhsFree, vRhsFree, lhsFree, rhsFree []int
	if lhs.Rank() == 2 {
		lhsFree, vLhsFree = []int{0}, []int{0}
	}
	if rhs.Rank() == 2 {
		rhsFree, vRhsFree = []int{1}, []int{len(vLhsFree)}
	}
	gl := DotGeneral(v, vRhsFree, nil, rhs, rhsFree, nil) // [lhs free, K]
	gr := DotGeneral(lhs, lhsFree, nil, v, vLhsFree, nil) // [K, rhs free]
	return []*Node{gl, gr}
}

// SliceVJP returns the gradient of a Slice node with respect to its input: v scattered back to the
// sliced positions, zeros elsewhere. GoMLX v0.26.0 builds it with Pad, which the pure-Go backend does
// not implement; this rule uses only Reshape, Concatenate and Slice. For an axis with stride s, v is
// interleaved with s-1 zero rows by concatenating along a new axis and merging it, then zero blocks
// are concatenated before (start) and after (up to the input's dimension).
func SliceVJP(node, v *Node) []*Node {
	p := readSliceParams(node)
	x := node.Inputs()[0]
	g := x.Graph()
	if v.Shape().Size() == 0 {
		return []*Node{ZerosLike(x)}
	}
	dims := x.Shape().Dimensions
	grad := v
	zeros := func(axis, size int) *Node {
		s := grad.Shape().Clone()
		s.Dimensions[axis] = size
		return Zeros(g, s)
	}
	for a := range dims {
		n := grad.Shape().Dimensions[a]
		if n == dims[a] { // Untouched axis (the stride is then irrelevant, unless n <= 1).
			continue
		}
		if st := p.strides[a]; st > 1 && n > 1 {
			// [..., n, ...] -> [..., n, 1, ...] ++ zeros [..., n, st-1, ...] -> [..., n*st, ...]
			expanded := InsertAxes(grad, a+1)
			s := expanded.Shape().Clone()
			s.Dimensions[a+1] = st - 1
			merged := Concatenate([]*Node{expanded, Zeros(g, s)}, a+1)
			s = grad.Shape().Clone()
			s.Dimensions[a] = n * st
			grad = Reshape(merged, s.Dimensions...)
			// The st-1 zeros after the last sliced element may overrun the input; trim them.
			if p.starts[a]+n*st > dims[a] {
				grad = SliceAxis(grad, a, AxisRange(0, dims[a]-p.starts[a]))
			}
		}
		parts := make([]*Node, 0, 3)
		if p.starts[a] > 0 {
			parts = append(parts, zeros(a, p.starts[a]))
		}
		parts = append(parts, grad)
		if tail := dims[a] - p.starts[a] - grad.Shape().Dimensions[a]; tail > 0 {
			parts = append(parts, zeros(a, tail))
		}
		grad = Concatenate(parts, a)
	}
	return []*Node{grad}
}

// RsqrtVJP returns the gradient of y = x^(-1/2): dy/dx = -½·x^(-3/2) = -½·y³.
func RsqrtVJP(node, v *Node) []*Node {
	y := node
	return []*Node{Mul(v, MulScalar(Mul(y, Mul(y, y)), -0.5))}
}

// Expm1VJP returns the gradient of y = exp(x)-1: dy/dx = exp(x) = y+1.
func Expm1VJP(node, v *Node) []*Node {
	return []*Node{Mul(v, AddScalar(node, 1))}
}

// IdentityVJP passes the gradient through an Identity node. StopGradient and custom-gradient
// identities are handled by graph.Gradient before the registry is consulted, so this only covers
// plain Identity nodes, which v0.26.0 leaves without a rule.
func IdentityVJP(_, v *Node) []*Node {
	return []*Node{v}
}

// transposeIfNeeded returns TransposeAllAxes(x, perm...), or x when perm is the identity.
func isIdentity(perm []int) bool {
	for i, a := range perm {
		if i != a {
			return false
		}
	}
	return true
}

func transposeIfNeeded(x *Node, perm []int) *Node {
	for i, a := range perm {
		if i != a {
			return TransposeAllAxes(x, perm...)
		}
	}
	return x
}

// seq returns [start, start+1, ..., start+n-1], or nil when n is 0.
func seq(start, n int) []int {
	if n == 0 {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}
