package nlora

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Config configures N-LoRA. The zero value is plain sequential LoRA (λ = 0) with the learner's adapter
// and training defaults.
type Config struct {
	// Lambda (λ) weighs the L1 term Σ‖ΔW‖₁ (or Σ‖A‖₁+‖B‖₁ with Factors). Default 0: no penalty.
	// Must be finite and ≥ 0.
	Lambda float64
	// Factors, when true, penalises the adapter's factors, Σ(‖A‖₁ + ‖B‖₁), instead of ΔW = Scale·B·A.
	// Default false: ΔW, as the paper states it.
	Factors bool
	// LoRA overrides the learner's adapter configuration when set. The seed is offset by the round.
	LoRA *lora.Config
	// Train overrides the learner's training configuration when set. An ExtraLoss it holds is added
	// to the penalty.
	Train *lora.TrainConfig
	// OnAdapter, when set, is called with each round's trained adapter before it is folded. The
	// adapter must not be modified.
	OnAdapter func(round int, a *lora.Adapter, res lora.Result) error
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	if !(c.Lambda >= 0) || math.IsInf(c.Lambda, 0) {
		return fmt.Errorf("nlora: Config.Lambda must be finite and ≥ 0, got %g", c.Lambda)
	}
	if err := accrete.ValidateOverrides(c.LoRA, c.Train); err != nil {
		return fmt.Errorf("nlora: %w", err)
	}
	return nil
}

// RoundLog records one finished round.
type RoundLog struct {
	Index int    `json:"index"`
	Task  string `json:"task"`
	Steps int    `json:"steps"`
	// Loss and Extra are lora.Result's: the last epoch's mean task loss and mean λ-weighted penalty.
	Loss  float64 `json:"loss"`
	Extra float64 `json:"extra"`
	// L1 is the unweighted term of the trained adapter (L1 or L1Factors, as configured).
	L1 float64 `json:"l1"`
	// Sparsity is the fraction of ΔW's entries whose magnitude is below 1e-3 of the largest, over
	// every module: how sparse the round's update came out.
	Sparsity float64 `json:"sparsity"`
}

// Ratio is Extra/Loss, the penalty's scale relative to the task loss; NaN when Loss is 0.
func (r RoundLog) Ratio() float64 {
	if r.Loss == 0 {
		return math.NaN()
	}
	return r.Extra / r.Loss
}

// Strategy is N-LoRA. It is semi-cooperative and Stateful (its history is saved with Run's
// checkpoints).
type Strategy struct {
	cfg Config
	// History has one entry per finished round, in order.
	History []RoundLog
}

// New returns an N-LoRA strategy. It does not fail: Validate, which accrete.Run calls before it
// scores anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg} }

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Name implements accrete.Namer: "n-lora λ=0.001", with " (factors)" for Factors.
func (s *Strategy) Name() string {
	n := fmt.Sprintf("n-lora λ=%g", s.cfg.Lambda)
	if s.cfg.Factors {
		n += " (factors)"
	}
	return n
}

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	a, tc, err := l.RoundAdapter(s.cfg.LoRA, s.cfg.Train, r, fmt.Sprintf("round %d %s n-lora", r.Index+1, r.Task.Name))
	if err != nil {
		return fmt.Errorf("nlora: round %d: %w", r.Index+1, err)
	}
	var extra accrete.AdapterLoss
	if s.cfg.Lambda != 0 {
		lambda, factors := s.cfg.Lambda, s.cfg.Factors
		extra = func(a *lora.Adapter, p model.Params) *graph.Node { return Penalty(p, a, lambda, factors) }
	}
	items := l.Encode(r.Task.Train)
	res, err := l.FitAdapter(ctx, a, items, tc, accrete.Fit{Extra: extra})
	if err != nil {
		return err
	}
	if err := l.KeepAndFold(r, a, res, s.cfg.OnAdapter); err != nil {
		return err
	}

	norm := L1(a)
	if s.cfg.Factors {
		norm = L1Factors(a)
	}
	rec := RoundLog{Index: r.Index, Task: r.Task.Name, Steps: res.Steps, Loss: res.Loss, Extra: res.Extra, L1: norm, Sparsity: Sparsity(a, 1e-3)}
	s.History = append(s.History, rec)
	if l.Progress != nil {
		fmt.Fprintf(l.Progress, "n-lora round %d (%s): task loss %.4g, penalty %.4g (λ=%g), penalty/task %.4g, L1 %.4g, ΔW sparsity %.3f\n",
			r.Index+1, r.Task.Name, rec.Loss, rec.Extra, s.cfg.Lambda, rec.Ratio(), rec.L1, rec.Sparsity)
	}
	return nil
}

// Penalty builds, inside a training graph whose parameters are p, N-LoRA's term for adapter a:
// λ·Σ_modules ‖Scale·B·A‖₁, or with factors λ·Σ_modules (‖A‖₁ + ‖B‖₁). It panics, naming the tensor,
// if p lacks one of a's tensors.
func Penalty(p model.Params, a *lora.Adapter, lambda float64, factors bool) *graph.Node {
	var total *graph.Node
	add := func(x *graph.Node) {
		if total == nil {
			total = x
		} else {
			total = graph.Add(total, x)
		}
	}
	for _, m := range a.Modules() {
		A, B := param(p, a, m, "A"), param(p, a, m, "B")
		if factors {
			add(graph.Add(l1(A), l1(B)))
			continue
		}
		dw := graph.MulScalar(graph.DotGeneral(B, []int{1}, nil, A, []int{0}, nil), a.Config.Scale())
		add(l1(dw))
	}
	if total == nil {
		panic(fmt.Sprintf("nlora: Penalty: adapter %q adapts no module", a.Name))
	}
	return graph.MulScalar(total, lambda)
}

// l1 is Σ|x| with the subgradient sign(x), 0 at x = 0 (GoMLX's Abs takes +1 there, which would push
// every entry of a zero B the same way).
func l1(x *graph.Node) *graph.Node {
	return graph.ReduceAllSum(graph.Mul(x, graph.StopGradient(graph.Sign(x))))
}

func param(p model.Params, a *lora.Adapter, m lora.Module, which string) *graph.Node {
	name := a.TensorName(m, which)
	n, ok := p[name]
	if !ok {
		panic(fmt.Sprintf("nlora: Penalty: the graph has no parameter %q", name))
	}
	return n
}

// L1 is Σ_modules ‖ΔW‖₁ of adapter a, on the host in float64: the penalty without λ.
func L1(a *lora.Adapter) float64 {
	var s float64
	for _, m := range a.Modules() {
		for _, v := range a.DeltaW(m).Data {
			s += math.Abs(float64(v))
		}
	}
	return s
}

// L1Factors is Σ_modules (‖A‖₁ + ‖B‖₁) of adapter a: the Factors penalty without λ.
func L1Factors(a *lora.Adapter) float64 {
	var s float64
	for _, m := range a.Modules() {
		for _, t := range []*model.Tensor{a.A[m], a.B[m]} {
			for _, v := range t.Data {
				s += math.Abs(float64(v))
			}
		}
	}
	return s
}

// Sparsity is the fraction of the entries of a's ΔW, over every module, whose magnitude is at most rel
// times the largest magnitude of any module's ΔW (1 for an all-zero update).
func Sparsity(a *lora.Adapter, rel float64) float64 {
	var dws []*model.Tensor
	var largest float64
	for _, m := range a.Modules() {
		dw := a.DeltaW(m)
		dws = append(dws, dw)
		for _, v := range dw.Data {
			largest = max(largest, math.Abs(float64(v)))
		}
	}
	var small, n int
	for _, dw := range dws {
		for _, v := range dw.Data {
			if math.Abs(float64(v)) <= rel*largest {
				small++
			}
		}
		n += len(dw.Data)
	}
	if n == 0 {
		return 0
	}
	return float64(small) / float64(n)
}
