package nlora

import (
	"fmt"
	"path/filepath"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/statefile"
)

// HistoryFile is the file SaveState writes: the configuration's λ and form and the RoundLog of every
// round, as JSON.
const HistoryFile = "nlora_history.json"

type stateJSON struct {
	Lambda  float64    `json:"lambda"`
	Factors bool       `json:"factors"`
	Rounds  []RoundLog `json:"rounds"`
}

var _ accrete.Stateful = (*Strategy)(nil)

// SaveState implements accrete.Stateful: it writes HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	if err := statefile.WriteJSON(filepath.Join(dir, HistoryFile), stateJSON{Lambda: s.cfg.Lambda, Factors: s.cfg.Factors, Rounds: s.History}); err != nil {
		return fmt.Errorf("nlora: %w", err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it restores the history SaveState wrote into dir. A saved λ
// or form that differs from the configured one is an error.
func (s *Strategy) LoadState(dir string, _ *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	var st stateJSON
	if err := statefile.ReadJSON(path, &st); err != nil {
		return fmt.Errorf("nlora: %w", err)
	}
	if st.Lambda != s.cfg.Lambda || st.Factors != s.cfg.Factors {
		return fmt.Errorf("nlora: loading state: %s was saved with λ=%g factors=%v, this strategy has λ=%g factors=%v",
			path, st.Lambda, st.Factors, s.cfg.Lambda, s.cfg.Factors)
	}
	s.History = st.Rounds
	return nil
}
