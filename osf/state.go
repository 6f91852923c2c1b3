package osf

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/model/safetensors"
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
	data, err := json.MarshalIndent(stateJSON{Keep: s.cfg.keep(), Rounds: s.History}, "", "  ")
	if err != nil {
		return fmt.Errorf("osf: encoding the history: %w", err)
	}
	path := filepath.Join(dir, HistoryFile)
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("osf: saving %s: %w", path, err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it restores the history SaveState wrote into dir. A saved
// Keep that differs from the configured one is an error.
func (s *Strategy) LoadState(dir string, _ *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("osf: loading state: %w", err)
	}
	var st stateJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("osf: loading state: %s: %w", path, err)
	}
	if st.Keep != s.cfg.keep() {
		return fmt.Errorf("osf: loading state: %s was saved with keep=%g, this strategy has keep=%g", path, st.Keep, s.cfg.keep())
	}
	s.History = st.Rounds
	return nil
}
