package ewc

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Config configures EWC. The zero value is plain sequential LoRA (λ = 0) that still records each
// round's Fisher, with the learner's adapter and training defaults.
type Config struct {
	// Lambda (λ) weighs the penalty λ/2·Σ F⊙ΔW². Default 0: no penalty, so that λ = 0 can be compared
	// with λ > 0. Must be finite and ≥ 0.
	Lambda float64
	// Gamma (γ) decays the earlier rounds' Fisher in the running sum F ← γ·F + F_t. Default (0): 1, the
	// plain sum (Huszár 2018). Must be in [0, 1]; 0 means 1.
	Gamma float64
	// Samples is how many of the round's training sequences the Fisher is estimated from (one
	// forward and backward pass each), taken evenly spaced. Default (0): 128; negative: all.
	Samples int
	// Raw, when true, uses the Fisher as computed; by default it is divided by its mean entry over
	// every module, so that λ reads the same on any model and data (see the package doc).
	Raw bool
	// LoRA overrides the learner's adapter configuration when set. The seed is offset by the round.
	LoRA *lora.Config
	// Train overrides the learner's training configuration when set. An ExtraLoss it holds is added
	// to the EWC penalty.
	Train *lora.TrainConfig
	// OnAdapter, when set, is called with each round's trained adapter before it is folded. The
	// adapter must not be modified.
	OnAdapter func(round int, a *lora.Adapter, res lora.Result) error
}

func (c Config) gamma() float64 {
	if c.Gamma == 0 {
		return 1
	}
	return c.Gamma
}

func (c Config) samples() int {
	if c.Samples == 0 {
		return 128
	}
	return c.Samples
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	switch {
	case !(c.Lambda >= 0) || math.IsInf(c.Lambda, 0):
		return fmt.Errorf("ewc: Config.Lambda must be finite and ≥ 0, got %g", c.Lambda)
	case !(c.Gamma >= 0 && c.Gamma <= 1):
		return fmt.Errorf("ewc: Config.Gamma must be in [0, 1], got %g", c.Gamma)
	}
	if err := accrete.ValidateOverrides(c.LoRA, c.Train); err != nil {
		return fmt.Errorf("ewc: %w", err)
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
	// Quadratic is ½·Σ F⊙ΔW² of the trained adapter under the Fisher it was trained against (as
	// normalised), without λ.
	Quadratic float64 `json:"quadratic"`
	// FisherMean is the mean entry of the round's own raw Fisher F_t, and Samples the sequences it was
	// estimated from.
	FisherMean float64 `json:"fisher_mean"`
	Samples    int     `json:"samples"`
}

// Strategy is EWC over sequential LoRA rounds. It is semi-cooperative and Stateful (the running
// Fisher and the history are saved with Run's checkpoints).
type Strategy struct {
	cfg Config
	// History has one entry per finished round, in order.
	History []RoundLog
	fisher  Fisher
}

// New returns an EWC strategy with no earlier rounds. It does not fail: Validate, which accrete.Run
// calls before it scores anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg, fisher: Fisher{}} }

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Fisher returns a copy of the running (raw) Fisher.
func (s *Strategy) Fisher() Fisher { return s.fisher.Clone() }

// Name implements accrete.Namer: "ewc λ=100", with " γ=…" for γ < 1 and " (raw)" for Raw.
func (s *Strategy) Name() string {
	n := fmt.Sprintf("ewc λ=%g", s.cfg.Lambda)
	if s.cfg.gamma() != 1 {
		n += fmt.Sprintf(" γ=%g", s.cfg.Gamma)
	}
	if s.cfg.Raw {
		n += " (raw)"
	}
	return n
}

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if s.fisher == nil {
		s.fisher = Fisher{}
	}
	a, tc, err := l.RoundAdapter(s.cfg.LoRA, s.cfg.Train, r, fmt.Sprintf("round %d %s ewc", r.Index+1, r.Task.Name))
	if err != nil {
		return fmt.Errorf("ewc: round %d: %w", r.Index+1, err)
	}
	F := s.fisher.Clone()
	if !s.cfg.Raw {
		F.Normalize()
	}
	var extra accrete.AdapterLoss
	if s.cfg.Lambda != 0 && len(F) > 0 {
		lambda := s.cfg.Lambda
		extra = func(a *lora.Adapter, p model.Params) *graph.Node { return Penalty(p, a, F, lambda) }
	}
	items := l.Encode(r.Task.Train)
	res, err := l.FitAdapter(ctx, a, items, tc, accrete.Fit{Extra: extra})
	if err != nil {
		return err
	}
	if err := l.KeepAndFold(r, a, res, s.cfg.OnAdapter); err != nil {
		return err
	}

	// The round's own Fisher, at its solution, from its own data (which is then dropped).
	Ft, n, err := FisherOf(ctx, l.Model, a.Modules(), items, s.cfg.samples())
	if err != nil {
		return fmt.Errorf("ewc: round %d: %w", r.Index+1, err)
	}
	rec := RoundLog{Index: r.Index, Task: r.Task.Name, Steps: res.Steps, Loss: res.Loss, Extra: res.Extra,
		Quadratic: Quadratic(a, F), FisherMean: Ft.Mean(), Samples: n}
	s.fisher.Accumulate(Ft, s.cfg.gamma())
	s.History = append(s.History, rec)
	if l.Progress != nil {
		fmt.Fprintf(l.Progress, "ewc round %d (%s): task loss %.4g, penalty %.4g (λ=%g), ½ΣF·ΔW² %.4g, Fisher mean %.3g over %d sequences\n",
			r.Index+1, r.Task.Name, rec.Loss, rec.Extra, s.cfg.Lambda, rec.Quadratic, rec.FisherMean, n)
	}
	return nil
}

// Penalty builds, inside a training graph whose parameters are p, the EWC term of adapter a:
// λ/2 · Σ_modules Σ F ⊙ ΔW² with ΔW = Scale·B·A from p's nodes of a's tensors and F entering as
// constants. Modules without a Fisher contribute nothing. It returns a scalar (zero when no module has
// one) and panics, naming the tensor or the shapes, on a missing parameter or a Fisher of another shape.
func Penalty(p model.Params, a *lora.Adapter, F Fisher, lambda float64) *graph.Node {
	var total *graph.Node
	var g *graph.Graph
	for _, m := range a.Modules() {
		A, B := param(p, a, m, "A"), param(p, a, m, "B")
		g = A.Graph()
		f, ok := F[m]
		if !ok {
			continue
		}
		dw := graph.MulScalar(graph.DotGeneral(B, []int{1}, nil, A, []int{0}, nil), a.Config.Scale()) // [out, in]
		if !slices.Equal(dw.Shape().Dimensions, f.Shape) {
			panic(fmt.Sprintf("ewc: Penalty: module %s: ΔW %s and Fisher %v differ", m.Path(), dw.Shape(), f.Shape))
		}
		c := graph.ConvertDType(graph.ConstTensor(g, tensors.FromFlatDataAndDimensions(f.Data, f.Shape...)), dw.DType())
		term := graph.ReduceAllSum(graph.Mul(c, graph.Square(dw)))
		if total == nil {
			total = term
		} else {
			total = graph.Add(total, term)
		}
	}
	if g == nil {
		panic(fmt.Sprintf("ewc: Penalty: adapter %q adapts no module", a.Name))
	}
	if total == nil {
		return graph.ScalarZero(g, param(p, a, a.Modules()[0], "A").DType())
	}
	return graph.MulScalar(total, lambda/2)
}

func param(p model.Params, a *lora.Adapter, m lora.Module, which string) *graph.Node {
	name := a.TensorName(m, which)
	n, ok := p[name]
	if !ok {
		panic(fmt.Sprintf("ewc: Penalty: the graph has no parameter %q", name))
	}
	return n
}

// Quadratic is ½·Σ_modules Σ F ⊙ ΔW² of adapter a, on the host in float64: the penalty without λ.
func Quadratic(a *lora.Adapter, F Fisher) float64 {
	var s float64
	for _, m := range a.Modules() {
		f, ok := F[m]
		if !ok {
			continue
		}
		dw := a.DeltaW(m)
		for i, v := range dw.Data {
			s += float64(f.Data[i]) * float64(v) * float64(v)
		}
	}
	return s / 2
}
