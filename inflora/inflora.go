package inflora

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Config configures InfLoRA. The zero value uses the learner's adapter and training defaults, a
// threshold of 0.95 and 128 sequences per covariance.
type Config struct {
	// Threshold is the fraction of each round's input energy (trace of its covariance) that the memory
	// must hold after the round (GPM's ε). Default (0): 0.95. Must be in (0, 1]; 1 can fill the space.
	Threshold float64
	// Samples is how many of the round's sequences the covariances are computed from, taken evenly
	// spaced. Default (0): 128; negative: all.
	Samples int
	// LoRA overrides the learner's adapter configuration when set (its A is replaced by the design;
	// its seed is unused).
	LoRA *lora.Config
	// Train overrides the learner's training configuration when set. Only B is trained.
	Train *lora.TrainConfig
	// OnAdapter, when set, is called with each round's trained adapter before it is folded. The
	// adapter must not be modified.
	OnAdapter func(round int, a *lora.Adapter, res lora.Result) error
}

func (c Config) threshold() float64 {
	if c.Threshold == 0 {
		return 0.95
	}
	return c.Threshold
}

func (c Config) samples() int {
	if c.Samples == 0 {
		return 128
	}
	return c.Samples
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	if !(c.Threshold >= 0 && c.Threshold <= 1) {
		return fmt.Errorf("inflora: Config.Threshold must be in (0, 1], got %g", c.Threshold)
	}
	if err := accrete.ValidateOverrides(c.LoRA, c.Train); err != nil {
		return fmt.Errorf("inflora: %w", err)
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
	// Residual is the mean over modules of the fraction of the round's input energy that lay outside
	// the memory before the round: how much room the design had (1 in round 1).
	Residual float64 `json:"residual"`
	// MemoryRank is the largest number of memory rows of any module after the round.
	MemoryRank int `json:"memory_rank"`
	// Exhausted counts the modules whose designed A had a zero row (no input energy left outside M).
	Exhausted int `json:"exhausted,omitempty"`
}

// Strategy is InfLoRA. It is semi-cooperative and Stateful (the memory and the history are saved with
// Run's checkpoints).
type Strategy struct {
	cfg Config
	// History has one entry per finished round, in order.
	History []RoundLog
	memory  map[lora.Module]Memory
}

// New returns an InfLoRA strategy with an empty memory. It does not fail: Validate, which
// accrete.Run calls before it scores anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg, memory: map[lora.Module]Memory{}} }

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Memory returns a copy of the input-subspace memory of every module.
func (s *Strategy) Memory() map[lora.Module]Memory {
	c := make(map[lora.Module]Memory, len(s.memory))
	for m, t := range s.memory {
		c[m] = t.Clone()
	}
	return c
}

// Name implements accrete.Namer: "inflora ε=0.95".
func (s *Strategy) Name() string { return fmt.Sprintf("inflora ε=%g", s.cfg.threshold()) }

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if s.memory == nil {
		s.memory = map[lora.Module]Memory{}
	}
	a, tc, err := l.RoundAdapter(s.cfg.LoRA, s.cfg.Train, r, fmt.Sprintf("round %d %s inflora", r.Index+1, r.Task.Name))
	if err != nil {
		return fmt.Errorf("inflora: round %d: %w", r.Index+1, err)
	}
	mods := a.Modules()
	for _, m := range mods {
		if M, ok := s.memory[m]; ok && M.Shape[1] != a.A[m].Shape[1] {
			return fmt.Errorf("inflora: round %d: module %s: memory %v, lora_A %v", r.Index+1, m.Path(), M.Shape, a.A[m].Shape)
		}
	}
	items := l.Encode(r.Task.Train)
	l.Model.SetAdapter(nil)
	cov, _, err := Covariances(ctx, l.Model, mods, items, s.cfg.samples())
	if err != nil {
		return fmt.Errorf("inflora: round %d: %w", r.Index+1, err)
	}
	rec := RoundLog{Index: r.Index, Task: r.Task.Name}
	residuals := make([]float64, len(mods))
	exhausted := make([]bool, len(mods))
	eachModule(len(mods), func(i int) {
		m := mods[i]
		A, residual := Design(cov[m], s.memory[m], a.Config.Rank)
		copy(a.A[m].Data, A.Data)
		residuals[i], exhausted[i] = residual, slices.Contains(rowNorms(A), 0)
	})
	for i := range mods {
		rec.Residual += residuals[i] / float64(len(mods))
		if exhausted[i] {
			rec.Exhausted++
		}
	}
	if rec.Exhausted > 0 {
		l.Warn("inflora round %d: %d of %d modules have no input direction left outside the memory; part of their A is 0", r.Index+1, rec.Exhausted, len(mods))
	}
	var trainB []string
	for _, m := range mods {
		trainB = append(trainB, a.TensorName(m, "B"))
	}
	res, err := l.FitAdapter(ctx, a, items, tc, accrete.Fit{Tensors: trainB})
	if err != nil {
		return err
	}
	if err := l.KeepAndFold(r, a, res, s.cfg.OnAdapter); err != nil {
		return err
	}

	// The memory learns the task's inputs on the model that has learned it (GPM), then the data go.
	after, _, err := Covariances(ctx, l.Model, mods, items, s.cfg.samples())
	if err != nil {
		return fmt.Errorf("inflora: round %d: %w", r.Index+1, err)
	}
	memory := make(map[lora.Module]Memory, len(s.memory))
	for m, M := range s.memory {
		memory[m] = M
	}
	extended := make([]Memory, len(mods))
	eachModule(len(mods), func(i int) { extended[i] = Extend(after[mods[i]], s.memory[mods[i]], s.cfg.threshold()) })
	for i, m := range mods {
		memory[m] = extended[i]
		rec.MemoryRank = max(rec.MemoryRank, memory[m].Shape[0])
	}
	s.memory = memory
	rec.Steps, rec.Loss = res.Steps, res.Loss
	s.History = append(s.History, rec)
	if l.Progress != nil {
		fmt.Fprintf(l.Progress, "inflora round %d (%s): task loss %.4g, input energy outside the memory %.3f, memory rank ≤ %d\n",
			r.Index+1, r.Task.Name, rec.Loss, rec.Residual, rec.MemoryRank)
	}
	return nil
}

// eachModule calls f(0), …, f(n-1) on up to GOMAXPROCS goroutines and returns when all have returned.
// The modules' designs and memories are independent, and each f writes only its own index's results,
// so the outcome does not depend on the schedule.
func eachModule(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

func rowNorms(t *model.Tensor) []float64 {
	r, n := t.Shape[0], t.Shape[1]
	out := make([]float64, r)
	for i := range r {
		for _, v := range t.Data[i*n : (i+1)*n] {
			out[i] += float64(v) * float64(v)
		}
	}
	return out
}
