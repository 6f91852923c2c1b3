package ella

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Config configures ELLA. The zero value is plain sequential LoRA (λ = 0) that still aggregates the
// rounds' updates, with the learner's adapter and training defaults.
type Config struct {
	// Lambda (λ) weighs Σ‖ΔW_t ⊙ W_past‖²_F. Default 0: no penalty. Must be finite and ≥ 0.
	Lambda float64
	// Raw, when true, weighs ΔW_t² by the raw W_past²; by default W_past² is divided by its mean
	// entry over every module first (see the package doc).
	Raw bool
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
		return fmt.Errorf("ella: Config.Lambda must be finite and ≥ 0, got %g", c.Lambda)
	}
	if err := accrete.ValidateOverrides(c.LoRA, c.Train); err != nil {
		return fmt.Errorf("ella: %w", err)
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
	// Overlap is Σ‖ΔW_t ⊙ W_past‖²_F of the trained adapter under the weights it was trained against
	// (normalised unless Raw), without λ.
	Overlap float64 `json:"overlap"`
	// Norm is ‖ΔW_t‖_F over every module, the size of the round's update.
	Norm float64 `json:"norm"`
}

// Strategy is ELLA. It is semi-cooperative and Stateful (W_past and the history are saved with Run's
// checkpoints).
type Strategy struct {
	cfg Config
	// History has one entry per finished round, in order.
	History []RoundLog
	past    Past
}

// New returns an ELLA strategy with no earlier rounds. It does not fail: Validate, which
// accrete.Run calls before it scores anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg, past: Past{}} }

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Past returns a copy of the aggregated earlier updates W_past.
func (s *Strategy) Past() Past { return s.past.Clone() }

// Name implements accrete.Namer: "ella λ=1", with " (raw)" for Raw.
func (s *Strategy) Name() string {
	n := fmt.Sprintf("ella λ=%g", s.cfg.Lambda)
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
	if s.past == nil {
		s.past = Past{}
	}
	a, tc, err := l.RoundAdapter(s.cfg.LoRA, s.cfg.Train, r, fmt.Sprintf("round %d %s ella", r.Index+1, r.Task.Name))
	if err != nil {
		return fmt.Errorf("ella: round %d: %w", r.Index+1, err)
	}
	for m, t := range s.past {
		if out, in := l.Model.Config.ModuleShape(m.Name); !slices.Equal(t.Shape, []int{out, in}) {
			return fmt.Errorf("ella: round %d: module %s: W_past %v, the model's weight [%d, %d]", r.Index+1, m.Path(), t.Shape, out, in)
		}
	}
	weights := s.past.Weights(!s.cfg.Raw)
	var extra accrete.AdapterLoss
	if s.cfg.Lambda != 0 && len(weights) > 0 {
		lambda := s.cfg.Lambda
		extra = func(a *lora.Adapter, p model.Params) *graph.Node { return Penalty(p, a, weights, lambda) }
	}
	items := l.Encode(r.Task.Train)
	res, err := l.FitAdapter(ctx, a, items, tc, accrete.Fit{Extra: extra})
	if err != nil {
		return err
	}
	if err := l.KeepAndFold(r, a, res, s.cfg.OnAdapter); err != nil {
		return err
	}

	rec := RoundLog{Index: r.Index, Task: r.Task.Name, Steps: res.Steps, Loss: res.Loss, Extra: res.Extra,
		Overlap: Overlap(a, weights), Norm: frobenius(a)}
	s.past.Add(a)
	s.History = append(s.History, rec)
	if l.Progress != nil {
		fmt.Fprintf(l.Progress, "ella round %d (%s): task loss %.4g, penalty %.4g (λ=%g), Σ‖ΔW⊙W_past‖² %.4g, ‖ΔW‖ %.4g\n",
			r.Index+1, r.Task.Name, rec.Loss, rec.Extra, s.cfg.Lambda, rec.Overlap, rec.Norm)
	}
	return nil
}

// Past is the aggregated update W_past = Σ ΔW of the finished rounds, per module [out, in].
type Past map[lora.Module]*model.Tensor

// Clone returns a deep copy.
func (p Past) Clone() Past {
	c := make(Past, len(p))
	for m, t := range p {
		c[m] = t.Clone()
	}
	return c
}

// Add adds a's ΔW = Scale·B·A to p, module by module.
func (p Past) Add(a *lora.Adapter) {
	for _, m := range a.Modules() {
		dw := a.DeltaW(m)
		old, ok := p[m]
		if !ok {
			p[m] = dw
			continue
		}
		for i, v := range dw.Data {
			old.Data[i] += v
		}
	}
}

// Weights returns W_past², entry by entry, divided by its mean entry over every module when normalize
// is set (and that mean is not 0): the per-entry weights of ΔW² in the penalty.
func (p Past) Weights(normalize bool) Past {
	w := make(Past, len(p))
	var sum float64
	n := 0
	// In a fixed order (the modules' paths), so that the float64 sum, the mean and every weight are
	// the same from run to run: Go ranges over a map in a random order.
	mods := slices.Collect(maps.Keys(p))
	slices.SortFunc(mods, func(a, b lora.Module) int { return strings.Compare(a.Path(), b.Path()) })
	for _, m := range mods {
		t := p[m]
		sq := model.NewTensor(t.Shape...)
		for i, v := range t.Data {
			sq.Data[i] = v * v
			sum += float64(v) * float64(v)
		}
		n += len(t.Data)
		w[m] = sq
	}
	if normalize && sum > 0 {
		mean := sum / float64(n)
		for _, t := range w {
			for i, v := range t.Data {
				t.Data[i] = float32(float64(v) / mean)
			}
		}
	}
	return w
}

// Penalty builds, inside a training graph whose parameters are p, ELLA's term for adapter a:
// λ · Σ_modules Σ weights ⊙ ΔW², ΔW = Scale·B·A, where weights is W_past² (Past.Weights) entering as
// constants, so that the term is λ·Σ‖ΔW ⊙ W_past‖²_F. Modules without a weight contribute nothing. It
// returns a scalar (zero when no module has one) and panics, naming the tensor or the shapes, on a
// missing parameter or a weight of another shape.
func Penalty(p model.Params, a *lora.Adapter, weights Past, lambda float64) *graph.Node {
	var total *graph.Node
	var g *graph.Graph
	for _, m := range a.Modules() {
		A, B := param(p, a, m, "A"), param(p, a, m, "B")
		g = A.Graph()
		w, ok := weights[m]
		if !ok {
			continue
		}
		dw := graph.MulScalar(graph.DotGeneral(B, []int{1}, nil, A, []int{0}, nil), a.Config.Scale())
		if !slices.Equal(dw.Shape().Dimensions, w.Shape) {
			panic(fmt.Sprintf("ella: Penalty: module %s: ΔW %s and W_past %v differ", m.Path(), dw.Shape(), w.Shape))
		}
		c := graph.ConvertDType(graph.ConstTensor(g, tensors.FromFlatDataAndDimensions(w.Data, w.Shape...)), dw.DType())
		term := graph.ReduceAllSum(graph.Mul(c, graph.Square(dw)))
		if total == nil {
			total = term
		} else {
			total = graph.Add(total, term)
		}
	}
	if g == nil {
		panic(fmt.Sprintf("ella: Penalty: adapter %q adapts no module", a.Name))
	}
	if total == nil {
		return graph.ScalarZero(g, param(p, a, a.Modules()[0], "A").DType())
	}
	return graph.MulScalar(total, lambda)
}

func param(p model.Params, a *lora.Adapter, m lora.Module, which string) *graph.Node {
	name := a.TensorName(m, which)
	n, ok := p[name]
	if !ok {
		panic(fmt.Sprintf("ella: Penalty: the graph has no parameter %q", name))
	}
	return n
}

// Overlap is Σ_modules Σ weights ⊙ ΔW² of adapter a on the host in float64: the penalty without λ
// (with weights = Past.Weights(false), Σ‖ΔW ⊙ W_past‖²_F).
func Overlap(a *lora.Adapter, weights Past) float64 {
	var s float64
	for _, m := range a.Modules() {
		w, ok := weights[m]
		if !ok {
			continue
		}
		for i, v := range a.DeltaW(m).Data {
			s += float64(w.Data[i]) * float64(v) * float64(v)
		}
	}
	return s
}

func frobenius(a *lora.Adapter) float64 {
	var s float64
	for _, m := range a.Modules() {
		for _, v := range a.DeltaW(m).Data {
			s += float64(v) * float64(v)
		}
	}
	return math.Sqrt(s)
}
