package osf

import (
	"fmt"
	"path/filepath"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/statefile"
)

// HistoryFile is the file SaveState writes: the configuration's Keep and the RoundLog of every round,
// as JSON. The subspaces need no file: they are recomputed from the weights each round.
const HistoryFile = "osf_history.json"

type stateJSON struct {
	Keep   float64    `json:"keep"`
	Rounds []RoundLog `json:"rounds"`
}

var _ accrete.Stateful = (*Strategy)(nil)

// SaveState implements accrete.Stateful: it writes HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	if err := statefile.WriteJSON(filepath.Join(dir, HistoryFile), stateJSON{Keep: s.cfg.keep(), Rounds: s.History}); err != nil {
		return fmt.Errorf("osf: %w", err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it restores the history SaveState wrote into dir. A saved
// Keep that differs from the configured one is an error.
func (s *Strategy) LoadState(dir string, _ *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	var st stateJSON
	if err := statefile.ReadJSON(path, &st); err != nil {
		return fmt.Errorf("osf: %w", err)
	}
	if st.Keep != s.cfg.keep() {
		return fmt.Errorf("osf: loading state: %s was saved with keep=%g, this strategy has keep=%g", path, st.Keep, s.cfg.keep())
	}
	s.History = st.Rounds
	return nil
}
