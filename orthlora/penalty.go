package orthlora

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Past is the stacked lora_A of earlier rounds, per module: A_past [Σr, d_in].
type Past map[lora.Module]*model.Tensor

// Rank is the number of stacked rows (Σr) of the module with the most, 0 when p is empty.
func (p Past) Rank() int {
	n := 0
	for _, t := range p {
		n = max(n, t.Shape[0])
	}
	return n
}

// Clone returns a deep copy.
func (p Past) Clone() Past {
	c := make(Past, len(p))
	for m, t := range p {
		c[m] = t.Clone()
	}
	return c
}

// Add stacks a's A matrices below the ones already held. It fails, leaving p unchanged, if a module's
// d_in differs from what p holds.
func (p Past) Add(a *lora.Adapter) error {
	for m, A := range a.A {
		if P, ok := p[m]; ok && P.Shape[1] != A.Shape[1] {
			return fmt.Errorf("orthlora: adapter %q module %s has lora_A %v, the past A's of that module %v",
				a.Name, m.Path(), A.Shape, P.Shape)
		}
	}
	for m, A := range a.A {
		P, ok := p[m]
		if !ok {
			p[m] = A.Clone()
			continue
		}
		s := &model.Tensor{Shape: []int{P.Shape[0] + A.Shape[0], A.Shape[1]}, Data: slices.Concat(P.Data, A.Data)}
		p[m] = s
	}
	return nil
}

// PastOf stacks the A matrices of adapters, in order.
func PastOf(adapters ...*lora.Adapter) (Past, error) {
	p := Past{}
	for _, a := range adapters {
		if err := p.Add(a); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Overlap measures how far adapter a's input subspace overlaps the earlier adapters':
// Σ_modules Σ_{j,k} |(A_new·A_pastᵀ)_{jk}|, the L1 norm that the O-LoRA penalty weights by λ (so the
// penalty of a is λ·Overlap(a, past)). Modules that a adapts and no earlier adapter does contribute
// nothing. It is computed on the host in float64 and panics if a module's d_in differs between
// adapters.
func Overlap(a *lora.Adapter, past []*lora.Adapter) float64 {
	var s float64
	for _, p := range past {
		for _, m := range a.Modules() {
			if P, ok := p.A[m]; ok {
				s += overlapL1(a.A[m], P, m)
			}
		}
	}
	return s
}

// OverlapPast is Overlap against already stacked past A's.
func OverlapPast(a *lora.Adapter, past Past) float64 {
	var s float64
	for _, m := range a.Modules() {
		if P, ok := past[m]; ok {
			s += overlapL1(a.A[m], P, m)
		}
	}
	return s
}

func overlapL1(A, P *model.Tensor, m lora.Module) float64 {
	r, in := A.Shape[0], A.Shape[1]
	q := P.Shape[0]
	if P.Shape[1] != in {
		panic(fmt.Sprintf("orthlora: Overlap: module %s: lora_A %v and past A %v differ in d_in", m.Path(), A.Shape, P.Shape))
	}
	var s float64
	for j := range r {
		a := A.Data[j*in : (j+1)*in]
		for k := range q {
			p := P.Data[k*in : (k+1)*in]
			var d float64
			for i, v := range a {
				d += float64(v) * float64(p[i])
			}
			s += math.Abs(d)
		}
	}
	return s
}

// Scale says what the orthogonality term Σ_modules Σ_{j,k} |(A_new·A_pastᵀ)_{jk}| is divided by
// before λ weighs it (see Config.Scale and the package doc's "λ on a known scale").
type Scale int

const (
	// Initial divides by the term's value for the freshly initialised A_new of the round, so that the
	// penalty starts every round at λ, in the task loss's unit (nats per token), whatever the model
	// width, rank, target modules or number of past rounds; training then lowers it as A_new turns
	// away from the past subspace. The default.
	Initial Scale = iota
	// Mean divides by the number of entries of A_new·A_pastᵀ over every module with a past,
	// Σ_modules r·Σr: λ weighs the mean absolute inner product of a new and a past row of A. That
	// mean still depends on A's scale (Kaiming-uniform rows have inner products of order 1/√d_in).
	Mean
	// Sum divides by nothing: the raw sum of O-LoRA's and arXiv 2410.14753's code. It grows with the
	// number of adapted modules, with the rank and with every round (Σr), so a fixed λ weighs later
	// rounds ever more heavily.
	Sum
)

// String returns "initial", "mean" or "sum".
func (s Scale) String() string {
	switch s {
	case Initial:
		return "initial"
	case Mean:
		return "mean"
	case Sum:
		return "sum"
	}
	return fmt.Sprintf("Scale(%d)", int(s))
}

// Divisor returns what Σ|A_new·A_pastᵀ| of adapter a against past is divided by under s: 1 for Sum,
// Entries(a, past) for Mean, OverlapPast(a, past) for Initial (call it before training, on the
// freshly initialised a). It returns 1 where that would be 0 (no past, or an A of zeros), so that the
// weight λ/Divisor is always finite. It panics on an unknown Scale.
func (s Scale) Divisor(a *lora.Adapter, past Past) float64 {
	var d float64
	switch s {
	case Sum:
		return 1
	case Mean:
		d = float64(Entries(a, past))
	case Initial:
		d = OverlapPast(a, past)
	default:
		panic(fmt.Sprintf("orthlora: unknown Scale %d", int(s)))
	}
	if !(d > 0) || math.IsInf(d, 0) {
		return 1
	}
	return d
}

// Entries is the number of entries of A_new·A_pastᵀ summed over the modules that a adapts and past
// holds: Σ_modules r·Σr.
func Entries(a *lora.Adapter, past Past) int {
	n := 0
	for _, m := range a.Modules() {
		if P, ok := past[m]; ok {
			n += a.A[m].Shape[0] * P.Shape[0]
		}
	}
	return n
}

// Norm is the original O-LoRA's L2 term without its λ2: Σ over a's tensors (every lora_A and lora_B)
// of the Frobenius norm ‖P‖ = √(Σ P²), not squared, computed on the host in float64.
func Norm(a *lora.Adapter) float64 {
	var s float64
	for _, m := range a.Modules() {
		for _, t := range []*model.Tensor{a.A[m], a.B[m]} {
			var n float64
			for _, v := range t.Data {
				n += float64(v) * float64(v)
			}
			s += math.Sqrt(n)
		}
	}
	return s
}

// Penalty builds, inside a training graph whose parameters are p, the O-LoRA term for adapter a:
// lambda·Σ_modules Σ|A_new·A_pastᵀ| + lambda2·Σ_P ‖P‖_F (the raw sum: pass λ/Scale.Divisor as lambda
// for a normalised penalty, as Strategy does), with A_new = p[a.TensorName(m, "A")], the
// past A's entering as constants, and P ranging over a's A and B tensors. It returns a scalar of A's
// dtype (a zero when both terms vanish) and panics, naming the tensor, if p lacks one of a's tensors.
func Penalty(p model.Params, a *lora.Adapter, past Past, lambda, lambda2 float64) *graph.Node {
	var total *graph.Node
	add := func(x *graph.Node) {
		if total == nil {
			total = x
		} else {
			total = graph.Add(total, x)
		}
	}
	param := func(m lora.Module, which string) *graph.Node {
		name := a.TensorName(m, which)
		n, ok := p[name]
		if !ok {
			panic(fmt.Sprintf("orthlora: Penalty: the graph has no parameter %q", name))
		}
		return n
	}
	var g *graph.Graph
	for _, m := range a.Modules() {
		A := param(m, "A")
		g = A.Graph()
		if P, ok := past[m]; ok && lambda != 0 {
			if A.Rank() != 2 || A.Shape().Dimensions[1] != P.Shape[1] {
				panic(fmt.Sprintf("orthlora: Penalty: module %s: lora_A %s and past A %v differ in d_in", m.Path(), A.Shape(), P.Shape))
			}
			c := graph.ConstTensor(g, tensors.FromFlatDataAndDimensions(P.Data, P.Shape...))
			c = graph.ConvertDType(c, A.DType())
			prod := graph.DotGeneral(A, []int{1}, nil, c, []int{1}, nil) // [r, Σr]
			add(graph.MulScalar(graph.ReduceAllSum(graph.Abs(prod)), lambda))
		}
		if lambda2 != 0 {
			add(graph.MulScalar(graph.Add(frobenius(A), frobenius(param(m, "B"))), lambda2))
		}
	}
	if g == nil {
		panic(fmt.Sprintf("orthlora: Penalty: adapter %q adapts no module", a.Name))
	}
	if total == nil {
		return graph.ScalarZero(g, param(a.Modules()[0], "A").DType())
	}
	return total
}

// frobenius is √(Σx²) with the gradient at x = 0 taken as 0 (PyTorch's choice for torch.norm), by
// keeping the square root's argument away from 0 on the branch that is not taken.
func frobenius(x *graph.Node) *graph.Node {
	s := graph.ReduceAllSum(graph.Square(x))
	pos := graph.GreaterThan(s, graph.ZerosLike(s))
	safe := graph.Where(pos, s, graph.OnesLike(s))
	return graph.Where(pos, graph.Sqrt(safe), graph.ZerosLike(s))
}
