package osf

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/symeig"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Config configures OSF. The zero value keeps half of every module's singular directions, with the
// learner's adapter and training defaults.
type Config struct {
	// Keep is the fraction of min(out, in) singular directions of each weight, the leading ones, that
	// the round's update must stay orthogonal to (on both sides). Default (0): 0.5. Must be in [0, 1).
	Keep float64
	// LoRA overrides the learner's adapter configuration when set. The seed is offset by the round.
	// Its Dropout is not applied (see the package doc).
	LoRA *lora.Config
	// Train overrides the learner's training configuration when set.
	Train *lora.TrainConfig
	// OnAdapter, when set, is called with each round's trained adapter, already projected, before it
	// is folded. The adapter must not be modified.
	OnAdapter func(round int, a *lora.Adapter, res lora.Result) error
}

func (c Config) keep() float64 {
	if c.Keep == 0 {
		return 0.5
	}
	return c.Keep
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	if !(c.Keep >= 0 && c.Keep < 1) {
		return fmt.Errorf("osf: Config.Keep must be in [0, 1), got %g", c.Keep)
	}
	if err := accrete.ValidateOverrides(c.LoRA, c.Train); err != nil {
		return fmt.Errorf("osf: %w", err)
	}
	return nil
}

// RoundLog records one finished round.
type RoundLog struct {
	Index int    `json:"index"`
	Task  string `json:"task"`
	Steps int    `json:"steps"`
	// Loss is the last epoch's mean task loss.
	Loss float64 `json:"loss"`
	// Kept is the number of singular directions preserved in the largest module.
	Kept int `json:"kept"`
	// Norm is ‖ΔW‖_F of the projected update over every module.
	Norm float64 `json:"norm"`
}

// Strategy is OSF over sequential LoRA rounds. It is semi-cooperative and Stateful (the history; the
// subspaces live in the weights).
type Strategy struct {
	cfg Config
	// History has one entry per finished round, in order.
	History []RoundLog
}

// New returns an OSF strategy. It does not fail: Validate, which accrete.Run calls before it scores
// anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg} }

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Name implements accrete.Namer: "osf keep=0.5".
func (s *Strategy) Name() string { return fmt.Sprintf("osf keep=%g", s.cfg.keep()) }

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	a, tc, err := l.RoundAdapter(s.cfg.LoRA, s.cfg.Train, r, fmt.Sprintf("round %d %s osf", r.Index+1, r.Task.Name))
	if err != nil {
		return fmt.Errorf("osf: round %d: %w", r.Index+1, err)
	}
	p := &Projected{Adapter: a, Sub: map[lora.Module]Subspace{}}
	rec := RoundLog{Index: r.Index, Task: r.Task.Name}
	for _, m := range a.Modules() {
		W := l.Model.Weights[model.ModuleWeightName(m.Layer, m.Name)]
		out, in := W.Shape[0], W.Shape[1]
		k := int(math.Ceil(s.cfg.keep() * float64(min(out, in))))
		p.Sub[m] = Leading(W, k)
		rec.Kept = max(rec.Kept, p.Sub[m].V.Shape[0])
	}
	items := l.Encode(r.Task.Train)
	res, err := l.FitAdapter(ctx, a, items, tc, accrete.Fit{Attach: p})
	if err != nil {
		return err
	}
	p.Fold()
	if err := l.KeepAndFold(r, a, res, s.cfg.OnAdapter); err != nil {
		return err
	}
	var norm float64
	for _, m := range a.Modules() {
		for _, v := range a.DeltaW(m).Data {
			norm += float64(v) * float64(v)
		}
	}
	rec.Steps, rec.Loss, rec.Norm = res.Steps, res.Loss, math.Sqrt(norm)
	s.History = append(s.History, rec)
	if l.Progress != nil {
		fmt.Fprintf(l.Progress, "osf round %d (%s): task loss %.4g, %d leading directions kept per side, ‖ΔW‖ %.4g\n",
			r.Index+1, r.Task.Name, rec.Loss, rec.Kept, rec.Norm)
	}
	return nil
}

// Subspace holds a weight's k leading singular directions as rows: U [k, out] (left) and V [k, in]
// (right), orthonormal.
type Subspace struct{ U, V *model.Tensor }

// Leading returns the k leading singular directions of W [out, in] (k clamped to [0, min(out, in)]),
// from the eigendecomposition of the smaller Gram matrix (WᵀW or W·Wᵀ) and the other side's vectors
// as W·v/σ or Wᵀ·u/σ. Directions whose singular value is 0 are left out.
func Leading(W *model.Tensor, k int) Subspace {
	out, in := W.Shape[0], W.Shape[1]
	k = max(0, min(k, out, in))
	wd := W.Float32()
	at := func(o, i int) float64 { return float64(wd[o*in+i]) }
	// The small side has n = min(out, in) entries; x(a, j) reads W so that the Gram is over it.
	n, m, x := in, out, func(a, j int) float64 { return at(a, j) }
	if out < in {
		n, m, x = out, in, func(a, j int) float64 { return at(j, a) }
	}
	gram := make([]float64, n*n)
	row := make([]float64, n)
	for a := range m {
		for j := range n {
			row[j] = x(a, j)
		}
		for i, p := range row {
			if p == 0 {
				continue
			}
			for j, q := range row {
				gram[i*n+j] += p * q
			}
		}
	}
	vals, vecs := symeig.Decompose(gram, n)
	var small, large []float32
	kept := 0
	for i := range k {
		if !(vals[i] > 1e-12*math.Max(vals[0], 1e-30)) {
			break
		}
		sigma := math.Sqrt(vals[i])
		v := vecs[i*n : (i+1)*n]
		for a := range m {
			var d float64
			for j := range n {
				d += x(a, j) * v[j]
			}
			large = append(large, float32(d/sigma))
		}
		for _, e := range v {
			small = append(small, float32(e))
		}
		kept++
	}
	U, V := &model.Tensor{Shape: []int{kept, out}, Data: large}, &model.Tensor{Shape: []int{kept, in}, Data: small}
	if out < in {
		U, V = &model.Tensor{Shape: []int{kept, out}, Data: small}, &model.Tensor{Shape: []int{kept, in}, Data: large}
	}
	return Subspace{U: U, V: V}
}

// Projected is a LoRA adapter whose update is confined to the complement of a subspace per module:
// its Delta is (I − UᵀU)·Scale·B·A·(I − VᵀV)·x for the subspace's rows U and V. It implements
// model.Adapter with the wrapped adapter's tensors, so lora.Train trains A and B through it.
type Projected struct {
	*lora.Adapter
	Sub map[lora.Module]Subspace
}

// Delta implements model.Adapter.
func (p *Projected) Delta(params model.Params, layer int, module string, x *graph.Node) *graph.Node {
	sub, ok := p.Sub[lora.Module{Layer: layer, Name: module}]
	if ok && sub.V.Shape[0] > 0 {
		x = graph.Sub(x, onto(x, sub.V))
	}
	d := p.Adapter.Delta(params, layer, module, x)
	if d != nil && ok && sub.U.Shape[0] > 0 {
		d = graph.Sub(d, onto(d, sub.U))
	}
	return d
}

// onto is (x·Rᵀ)·R: x [..., n] projected onto the span of R's rows [k, n].
func onto(x *graph.Node, R *model.Tensor) *graph.Node {
	c := graph.ConvertDType(graph.ConstTensor(x.Graph(), tensors.FromFlatDataAndDimensions(R.Data, R.Shape...)), x.DType())
	h := graph.DotGeneral(x, []int{x.Rank() - 1}, nil, c, []int{1}, nil) // [..., k]
	return graph.DotGeneral(h, []int{h.Rank() - 1}, nil, c, []int{0}, nil)
}

// Fold writes the projection into the wrapped adapter's factors, A ← A·(I − VᵀV) and
// B ← (I − UᵀU)·B, so that the plain adapter's ΔW equals the projected one; the subspaces are then
// cleared (Delta no longer projects).
func (p *Projected) Fold() {
	for m, sub := range p.Sub {
		A, B := p.A[m], p.B[m]
		r, in, out := A.Shape[0], A.Shape[1], B.Shape[0]
		k := sub.V.Shape[0]
		for j := range r { // row j of A: a ← a − Σ_i (a·v_i) v_i
			a := A.Data[j*in : (j+1)*in]
			for i := range k {
				v := sub.V.Data[i*in : (i+1)*in]
				var d float64
				for l, x := range a {
					d += float64(x) * float64(v[l])
				}
				for l := range a {
					a[l] -= float32(d * float64(v[l]))
				}
			}
		}
		ku := sub.U.Shape[0]
		for j := range r { // column j of B: b ← b − Σ_i (u_i·b) u_i
			for i := range ku {
				u := sub.U.Data[i*out : (i+1)*out]
				var d float64
				for o := range out {
					d += float64(u[o]) * float64(B.Data[o*r+j])
				}
				for o := range out {
					B.Data[o*r+j] -= float32(d * float64(u[o]))
				}
			}
		}
	}
	p.Sub = map[lora.Module]Subspace{}
}
