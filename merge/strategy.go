package merge

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/atomicfile"
	"github.com/accrete/accrete/lora"
)

// Strategy is the semi-cooperative merging strategy: every round trains an adapter from the base on the
// round's task alone, keeps it, and sets the effective model to base + merge(every adapter so far). It
// keeps adapters, never data. Build it with New.
type Strategy struct {
	cfg      Config
	adapters []*lora.Adapter
}

// New returns a merging strategy. It does not fail: Validate, which accrete.Run calls before it
// scores anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy {
	cfg.Weights = append([]float64(nil), cfg.Weights...)
	if len(cfg.Weights) == 0 {
		cfg.Weights = nil
	}
	return &Strategy{cfg: cfg}
}

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Name implements accrete.Namer: "merge-" and the method, e.g. "merge-ties", "merge-dare-linear".
func (s *Strategy) Name() string {
	return "merge-" + strings.ReplaceAll(string(s.cfg.WithDefaults().Method), "_", "-")
}

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Adapters returns the adapters kept so far, in round order (the slice is a copy; the adapters are
// not).
func (s *Strategy) Adapters() []*lora.Adapter { return append([]*lora.Adapter(nil), s.adapters...) }

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	l.ResetToBase()
	lc, tc := l.RoundConfig(s.cfg.LoRA, s.cfg.Train, r.Index)
	a, res, err := l.TrainAdapter(ctx, accrete.AdapterName(r), l.Encode(r.Task.Train), &lc, &tc)
	if err != nil {
		return err
	}
	if err := l.Keep(a.Name, r.Task.Name, r.Index, a, res, nil); err != nil {
		return err
	}
	all := append(s.Adapters(), a)
	if err := Merge(all, s.cfg, FoldInto(l.Model.Weights)); err != nil {
		l.ResetToBase()
		return fmt.Errorf("merge: round %d: %w", r.Index+1, err)
	}
	l.Model.UpdateWeights()
	s.adapters = all
	return nil
}

const stateFile = "merge.json"

type state struct {
	Method   Method   `json:"method"`
	Adapters []string `json:"adapters"` // subdirectories, in round order
	Names    []string `json:"names"`    // the adapters' names
}

// SaveState implements accrete.Stateful: each adapter in PEFT's layout (lora.SavePEFT) in its own
// subdirectory (adapter-01, ...) and merge.json listing them, written last.
func (s *Strategy) SaveState(dir string) error {
	st := state{Method: s.cfg.WithDefaults().Method}
	for i, a := range s.adapters {
		sub := fmt.Sprintf("adapter-%02d", i+1)
		if err := lora.SavePEFT(filepath.Join(dir, sub), a, ""); err != nil {
			return fmt.Errorf("merge: saving state: %w", err)
		}
		st.Adapters = append(st.Adapters, sub)
		st.Names = append(st.Names, a.Name)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, stateFile)
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("merge: saving state: %w", err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it restores the adapters (the effective weights are restored
// by the caller, as accrete.Run does).
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, stateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("merge: loading state: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("merge: loading state: %s: %w", path, err)
	}
	if want := s.cfg.WithDefaults().Method; st.Method != want {
		return fmt.Errorf("merge: loading state: %s was saved by method %q, this strategy is %q", path, st.Method, want)
	}
	if len(st.Names) != len(st.Adapters) {
		return fmt.Errorf("merge: loading state: %s lists %d adapters and %d names", path, len(st.Adapters), len(st.Names))
	}
	var ads []*lora.Adapter
	for i, sub := range st.Adapters {
		if sub == "" || strings.ContainsAny(sub, `/\`) || sub == "." || sub == ".." {
			return fmt.Errorf("merge: loading state: %s: bad adapter directory %q", path, sub)
		}
		a, err := lora.LoadPEFT(filepath.Join(dir, sub), l.Model.Config)
		if err != nil {
			return fmt.Errorf("merge: loading state: %w", err)
		}
		a.Name = st.Names[i]
		ads = append(ads, a)
	}
	s.adapters = ads
	return nil
}

var (
	_ accrete.Stateful = (*Strategy)(nil)
	_ accrete.Namer    = (*Strategy)(nil)
)
