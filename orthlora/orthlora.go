package orthlora

import (
	"context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Config configures O-LoRA. The zero value is plain sequential LoRA (no penalty) with the learner's
// adapter and training defaults.
type Config struct {
	// Lambda (λ1) weights the orthogonality term Σ|A_new·A_pastᵀ|, divided first as Scale says.
	// Zero means no orthogonality penalty, so that λ = 0 can be compared with λ > 0. Under the default
	// Scale (Initial) the penalty starts each round at λ nats, the unit of the task loss; under Sum,
	// arXiv 2410.14753 uses 0.5 and 5 and O-LoRA's authors tune it in 0–5. Must be ≥ 0.
	Lambda float64
	// Scale says what Σ|A_new·A_pastᵀ| is divided by before Lambda weighs it. Default (0): Initial,
	// its value at the start of the round, so that λ means the same for any model width, rank, set of
	// target modules and round; Sum is the papers' raw sum. See the package doc.
	Scale Scale
	// Lambda2 weights the original O-LoRA's L2 term Σ‖P‖_F over the new adapter's A and B tensors
	// (Frobenius norm, not squared). Default 0: off, as in arXiv 2410.14753; O-LoRA tunes it in
	// 0–0.5. Must be ≥ 0.
	Lambda2 float64
	// LoRA overrides the learner's adapter configuration when set. The seed is offset by the round
	// index, so every round draws a different A.
	LoRA *lora.Config
	// Train overrides the learner's training configuration when set. The seed is offset by the round
	// index. An ExtraLoss it holds is added to the O-LoRA penalty.
	Train *lora.TrainConfig
	// OnAdapter, when set, is called with each round's trained adapter before it is folded (to store
	// or measure it). The adapter must not be modified.
	OnAdapter func(round int, a *lora.Adapter, res lora.Result) error
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	switch {
	case !(c.Lambda >= 0) || math.IsInf(c.Lambda, 0):
		return fmt.Errorf("orthlora: Config.Lambda must be finite and ≥ 0, got %g", c.Lambda)
	case !(c.Lambda2 >= 0) || math.IsInf(c.Lambda2, 0):
		return fmt.Errorf("orthlora: Config.Lambda2 must be finite and ≥ 0, got %g", c.Lambda2)
	case c.Scale < Initial || c.Scale > Sum:
		return fmt.Errorf("orthlora: Config.Scale %d unknown (Initial, Mean or Sum)", int(c.Scale))
	}
	if err := accrete.ValidateOverrides(c.LoRA, c.Train); err != nil {
		return fmt.Errorf("orthlora: %w", err)
	}
	return nil
}

// RoundLog records one finished round.
type RoundLog struct {
	// Index is the round's 0-based number and Task its task's name.
	Index int    `json:"index"`
	Task  string `json:"task"`
	// Rank is the number of lora_A rows the round added to the past subspace of each module.
	Rank int `json:"rank"`
	// Steps is the number of optimizer steps.
	Steps int `json:"steps"`
	// Loss is the mean task loss of the last epoch, Extra the mean penalty (λ-weighted and divided by
	// Divisor, with the L2 term when Lambda2 > 0) of the last epoch: lora.Result's Loss and Extra.
	Loss  float64 `json:"loss"`
	Extra float64 `json:"extra"`
	// Overlap is Σ|A_new·A_pastᵀ| of the trained adapter (not weighted by λ, not divided), and Norm
	// its Σ‖P‖_F.
	Overlap float64 `json:"overlap"`
	Norm    float64 `json:"norm"`
	// Divisor is what the round divided Overlap by before weighing it by λ (Scale.Divisor of the
	// freshly initialised adapter): the orthogonality part of Extra is about λ·Overlap/Divisor.
	Divisor float64 `json:"divisor,omitempty"`
}

// Ratio is Extra/Loss, the penalty's scale relative to the task loss (O-LoRA's authors saw it reach
// the thousands); NaN when Loss is 0.
func (r RoundLog) Ratio() float64 {
	if r.Loss == 0 {
		return math.NaN()
	}
	return r.Extra / r.Loss
}

// Strategy is O-LoRA: each round trains a fresh adapter on the current effective model with the
// orthogonality penalty against the earlier rounds' A matrices, folds it into the weights and keeps its
// A matrices. It is semi-cooperative (it reads only Round.Task) and Stateful (the past A's and the
// history are saved with Run's checkpoints).
type Strategy struct {
	cfg Config
	// History has one entry per finished round, in order.
	History []RoundLog
	past    Past
}

// New returns an O-LoRA strategy with no earlier rounds. It does not fail: Validate, which
// accrete.Run calls before it scores anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg, past: Past{}} }

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Config returns the strategy's configuration.
func (s *Strategy) Config() Config { return s.cfg }

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Past returns a copy of the stacked A matrices of the finished rounds.
func (s *Strategy) Past() Past { return s.past.Clone() }

// Name implements accrete.Namer: "o-lora λ=0.5", with " (mean)" or " (sum)" for a Scale other than
// the default and " λ2=…" when Lambda2 > 0.
func (s *Strategy) Name() string {
	n := fmt.Sprintf("o-lora λ=%g", s.cfg.Lambda)
	if s.cfg.Scale != Initial {
		n += " (" + s.cfg.Scale.String() + ")"
	}
	if s.cfg.Lambda2 != 0 {
		n += fmt.Sprintf(" λ2=%g", s.cfg.Lambda2)
	}
	return n
}

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if s.past == nil {
		s.past = Past{}
	}
	a, tc, err := l.RoundAdapter(s.cfg.LoRA, s.cfg.Train, r, fmt.Sprintf("round %d %s o-lora", r.Index+1, r.Task.Name))
	if err != nil {
		return fmt.Errorf("orthlora: round %d: %w", r.Index+1, err)
	}
	for m, A := range a.A {
		if P, ok := s.past[m]; ok && P.Shape[1] != A.Shape[1] {
			return fmt.Errorf("orthlora: round %d: module %s has lora_A %v, the past A's %v", r.Index+1, m.Path(), A.Shape, P.Shape)
		}
	}
	past := s.past.Clone() // the graph's constants; s.past changes only once the round succeeds
	div := s.cfg.Scale.Divisor(a, past)
	var extra accrete.AdapterLoss
	if s.cfg.Lambda != 0 && len(past) > 0 || s.cfg.Lambda2 != 0 {
		lambda, lambda2 := s.cfg.Lambda/div, s.cfg.Lambda2
		extra = func(a *lora.Adapter, p model.Params) *graph.Node { return Penalty(p, a, past, lambda, lambda2) }
	}

	items := l.Encode(r.Task.Train)
	res, err := l.FitAdapter(ctx, a, items, tc, accrete.Fit{Extra: extra})
	if err != nil {
		return err
	}
	if err := l.KeepAndFold(r, a, res, s.cfg.OnAdapter); err != nil {
		return err
	}

	rec := RoundLog{Index: r.Index, Task: r.Task.Name, Rank: a.Config.Rank, Steps: res.Steps, Loss: res.Loss,
		Extra: res.Extra, Overlap: OverlapPast(a, past), Norm: Norm(a), Divisor: div}
	if err := s.past.Add(a); err != nil {
		return err
	}
	s.History = append(s.History, rec)
	if l.Progress != nil {
		fmt.Fprintf(l.Progress, "o-lora round %d (%s): task loss %.4g, penalty %.4g (λ=%g %s, λ2=%g), penalty/task %.4g, overlap %.4g (÷ %.4g), past rank %d\n",
			r.Index+1, r.Task.Name, rec.Loss, rec.Extra, s.cfg.Lambda, s.cfg.Scale, s.cfg.Lambda2, rec.Ratio(), rec.Overlap, div, s.past.Rank())
	}
	return nil
}
