package ewc

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/statefile"
)

// Files SaveState writes.
const (
	// FisherFile holds the running raw Fisher, one F32 tensor per module under the module's weight
	// name, e.g. "model.layers.0.self_attn.q_proj.weight" [out, in].
	FisherFile = "ewc_fisher.safetensors"
	// HistoryFile holds the configuration's λ, γ and Raw and the RoundLog of every round as JSON.
	HistoryFile = "ewc_history.json"
)

type stateJSON struct {
	Lambda float64    `json:"lambda"`
	Gamma  float64    `json:"gamma"`
	Raw    bool       `json:"raw"`
	Rounds []RoundLog `json:"rounds"`
}

var _ accrete.Stateful = (*Strategy)(nil)

// SaveState implements accrete.Stateful: it writes FisherFile and HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	if err := statefile.WriteTensors(filepath.Join(dir, FisherFile), s.fisher, statefile.Weights, "accrete-ewc", len(s.History)); err != nil {
		return fmt.Errorf("ewc: %w", err)
	}
	st := stateJSON{Lambda: s.cfg.Lambda, Gamma: s.cfg.gamma(), Raw: s.cfg.Raw, Rounds: s.History}
	if err := statefile.WriteJSON(filepath.Join(dir, HistoryFile), st); err != nil {
		return fmt.Errorf("ewc: %w", err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces the Fisher and the history with those SaveState
// wrote into dir, checking every tensor against l's model. A saved λ, γ or Raw that differs from the
// configured one is an error: resuming would mix two penalties.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	var st stateJSON
	if err := statefile.ReadJSON(path, &st); err != nil {
		return fmt.Errorf("ewc: %w", err)
	}
	if st.Lambda != s.cfg.Lambda || st.Gamma != s.cfg.gamma() || st.Raw != s.cfg.Raw {
		return fmt.Errorf("ewc: loading state: %s was saved with λ=%g γ=%g raw=%v, this strategy has λ=%g γ=%g raw=%v",
			path, st.Lambda, st.Gamma, st.Raw, s.cfg.Lambda, s.cfg.gamma(), s.cfg.Raw)
	}
	path = filepath.Join(dir, FisherFile)
	F, err := statefile.ReadTensors(path, l.Model.Config, statefile.Weights)
	if err != nil {
		return fmt.Errorf("ewc: %w", err)
	}
	if len(st.Rounds) > 0 && len(F) == 0 {
		return errors.New("ewc: loading state: " + path + " holds no Fisher but the history has rounds")
	}
	s.fisher, s.History = F, st.Rounds
	return nil
}
