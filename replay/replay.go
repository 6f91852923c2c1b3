package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/atomicfile"
)

// DefaultRatio is the Ratio used when Config.Ratio is zero.
const DefaultRatio = 0.1

// MaxRatio bounds Config.Ratio: each earlier task then contributes at most 100 times the current
// task's size, far past the paper's w_hist of 0.1–1. MaxItems bounds a round's mixed training set.
const (
	MaxRatio = 100
	MaxItems = 10_000_000
)

// Config configures replay. The zero value replays 10% of the current task's size from every earlier
// task, drawn from the whole earlier tasks, with seed 0.
type Config struct {
	// Ratio is the paper's w_hist: in each round every earlier task contributes round(Ratio × n)
	// items, n being the number of the current task's training items (an earlier task with no items
	// contributes none). Zero means DefaultRatio (0.1); must be finite and ≥ 0. For no replay at all,
	// use the base strategy itself.
	Ratio float64
	// Budget, when > 0, keeps at most Budget items of all earlier tasks together, in a reservoir Buffer
	// filled after each round with that round's task, instead of the earlier tasks whole; the round
	// then replays round(Ratio × n) × (number of earlier tasks) items drawn from the buffer, as many
	// as without a budget. Default 0: no budget. Must be ≥ 0.
	Budget int
	// Seed drives the draws, the per-round shuffle and the reservoir. Default 0.
	Seed uint64
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	switch {
	case !(c.Ratio >= 0) || c.Ratio > MaxRatio:
		return fmt.Errorf("replay: Config.Ratio must be in [0, %d], got %g", MaxRatio, c.Ratio)
	case c.Budget < 0:
		return fmt.Errorf("replay: Config.Budget must be ≥ 0, got %d", c.Budget)
	}
	return nil
}

func (c Config) ratio() float64 {
	if c.Ratio == 0 {
		return DefaultRatio
	}
	return c.Ratio
}

// BufferFile is the file in which a strategy with a Budget saves its buffer (SaveState); the base
// strategy's own state goes into the subdirectory BaseStateDir.
const (
	BufferFile   = "replay_buffer.json"
	BaseStateDir = "base"
)

// Wrap returns a fully cooperative strategy that trains base, each round, on the current task's
// training items mixed with items replayed from the earlier tasks (see Config). The base gets a Round
// with the same Index, a Task whose Train is the shuffled mixed set (everything else unchanged, Test
// included), and the history only if base is itself accrete.FullyCooperative. The result is
// accrete.Stateful (it saves the base's state when the base is Stateful, and the buffer when Budget
// > 0) and an accrete.Namer ("replay(<base name>)"). Wrap does not fail: Validate, which accrete.Run
// calls before it scores anything, and Learn report a bad cfg.
func Wrap(base accrete.Strategy, cfg Config) *Strategy {
	return &Strategy{base: base, cfg: cfg}
}

// Strategy is a base strategy trained with replay; build it with Wrap.
type Strategy struct {
	base accrete.Strategy
	cfg  Config
	buf  *Buffer
	// tasks counts the earlier tasks added to buf.
	tasks int
}

var (
	_ accrete.FullyCooperative = (*Strategy)(nil)
	_ accrete.Stateful         = (*Strategy)(nil)
	_ accrete.Namer            = (*Strategy)(nil)
)

// FullyCooperative implements accrete.FullyCooperative.
func (*Strategy) FullyCooperative() bool { return true }

// Settings implements accrete.Configurable: the base strategy and the configuration, which a run's
// checkpoints record.
func (s *Strategy) Settings() any {
	return struct {
		Base   accrete.Strategy
		Config Config
	}{s.base, s.cfg}
}

// Name implements accrete.Namer.
func (s *Strategy) Name() string {
	if n, ok := s.base.(accrete.Namer); ok {
		return "replay(" + n.Name() + ")"
	}
	return fmt.Sprintf("replay(%T)", s.base)
}

// Validate implements accrete.Validator: it checks the configuration, then the base strategy's when
// the base is an accrete.Validator.
func (s *Strategy) Validate() error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if v, ok := s.base.(accrete.Validator); ok {
		return v.Validate()
	}
	return nil
}

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	perTask := int(math.Round(s.cfg.ratio() * float64(len(r.Task.Train))))
	if total := len(r.Task.Train) + perTask*len(r.History); total > MaxItems {
		return fmt.Errorf("replay: round %d would train on %d items (%d of task %s and %d from each of %d earlier tasks), more than %d: lower Config.Ratio",
			r.Index+1, total, len(r.Task.Train), r.Task.Name, perTask, len(r.History), MaxItems)
	}
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(r.Index)))
	mixed := make([]accrete.Example, 0, len(r.Task.Train)+perTask*len(r.History))
	mixed = append(mixed, r.Task.Train...)
	if s.cfg.Budget == 0 {
		for _, t := range r.History {
			mixed = append(mixed, draw(t.Train, perTask, rng)...)
		}
	} else {
		if s.buf == nil || s.tasks != len(r.History) {
			// No saved buffer for this point of the run: refill one from the history, which gives
			// the same buffer as filling it round by round.
			s.buf, s.tasks = NewBuffer(s.cfg.Budget, s.cfg.Seed), 0
			for _, t := range r.History {
				s.buf.Add(t.Train...)
				s.tasks++
			}
		}
		mixed = append(mixed, s.buf.Sample(perTask*len(r.History), rng)...)
	}
	rng.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })

	task := r.Task
	task.Train = mixed
	br := accrete.Round{Index: r.Index, Task: task}
	if fc, ok := s.base.(accrete.FullyCooperative); ok && fc.FullyCooperative() {
		br.History = slices.Clone(r.History)
	}
	if err := s.base.Learn(ctx, l, br); err != nil {
		return err
	}
	if s.cfg.Budget > 0 {
		s.buf.Add(r.Task.Train...)
		s.tasks++
	}
	return nil
}

type stateJSON struct {
	Tasks  int     `json:"tasks"`
	Buffer *Buffer `json:"buffer"`
}

// SaveState implements accrete.Stateful.
func (s *Strategy) SaveState(dir string) error {
	if st, ok := s.base.(accrete.Stateful); ok {
		sub := filepath.Join(dir, BaseStateDir)
		if err := os.Mkdir(sub, 0o755); err != nil {
			return fmt.Errorf("replay: saving state: %w", err)
		}
		if err := st.SaveState(sub); err != nil {
			return err
		}
	}
	if s.cfg.Budget > 0 && s.buf != nil {
		data, err := json.Marshal(stateJSON{Tasks: s.tasks, Buffer: s.buf})
		if err != nil {
			return fmt.Errorf("replay: encoding the buffer: %w", err)
		}
		path := filepath.Join(dir, BufferFile)
		if err := atomicfile.WriteFile(path, data); err != nil {
			return fmt.Errorf("replay: saving %s: %w", path, err)
		}
	}
	return nil
}

// LoadState implements accrete.Stateful. Without a saved buffer (or with one of another capacity)
// the next round refills the buffer from the history it is given.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	if st, ok := s.base.(accrete.Stateful); ok {
		if err := st.LoadState(filepath.Join(dir, BaseStateDir), l); err != nil {
			return err
		}
	}
	s.buf, s.tasks = nil, 0
	if s.cfg.Budget == 0 {
		return nil
	}
	path := filepath.Join(dir, BufferFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replay: loading state: %w", err)
	}
	var st stateJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("replay: loading state: %s: %w", path, err)
	}
	if st.Buffer == nil {
		return fmt.Errorf("replay: loading state: %s holds no buffer", path)
	}
	if st.Buffer.Capacity() == s.cfg.Budget {
		s.buf, s.tasks = st.Buffer, st.Tasks
	}
	return nil
}
