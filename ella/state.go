package ella

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/statefile"
)

// Files SaveState writes.
const (
	// PastFile holds W_past, one F32 tensor per module under the module's weight name, e.g.
	// "model.layers.0.self_attn.q_proj.weight" [out, in].
	PastFile = "ella_past.safetensors"
	// HistoryFile holds the configuration's λ and Raw and the RoundLog of every round as JSON.
	HistoryFile = "ella_history.json"
)

type stateJSON struct {
	Lambda float64    `json:"lambda"`
	Raw    bool       `json:"raw"`
	Rounds []RoundLog `json:"rounds"`
}

var _ accrete.Stateful = (*Strategy)(nil)

// SaveState implements accrete.Stateful: it writes PastFile and HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	if err := statefile.WriteTensors(filepath.Join(dir, PastFile), s.past, statefile.Weights, "accrete-ella", len(s.History)); err != nil {
		return fmt.Errorf("ella: %w", err)
	}
	if err := statefile.WriteJSON(filepath.Join(dir, HistoryFile), stateJSON{Lambda: s.cfg.Lambda, Raw: s.cfg.Raw, Rounds: s.History}); err != nil {
		return fmt.Errorf("ella: %w", err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces W_past and the history with those SaveState
// wrote into dir, checking every tensor against l's model. A saved λ or Raw that differs from the
// configured one is an error: resuming would mix two penalties.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	var st stateJSON
	if err := statefile.ReadJSON(path, &st); err != nil {
		return fmt.Errorf("ella: %w", err)
	}
	if st.Lambda != s.cfg.Lambda || st.Raw != s.cfg.Raw {
		return fmt.Errorf("ella: loading state: %s was saved with λ=%g raw=%v, this strategy has λ=%g raw=%v",
			path, st.Lambda, st.Raw, s.cfg.Lambda, s.cfg.Raw)
	}
	path = filepath.Join(dir, PastFile)
	P, err := statefile.ReadTensors(path, l.Model.Config, statefile.Weights)
	if err != nil {
		return fmt.Errorf("ella: %w", err)
	}
	if len(st.Rounds) > 0 && len(P) == 0 {
		return errors.New("ella: loading state: " + path + " holds no W_past but the history has rounds")
	}
	s.past, s.History = P, st.Rounds
	return nil
}
