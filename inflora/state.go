package inflora

import (
	"fmt"
	"path/filepath"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/statefile"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Files SaveState writes.
const (
	// MemoryFile holds the memory, one F32 tensor "<module path>.input_basis" [k, in] per module
	// with k > 0, e.g. "model.layers.0.self_attn.q_proj.input_basis".
	MemoryFile = "inflora_memory.safetensors"
	// HistoryFile holds the configuration's threshold and the RoundLog of every round as JSON.
	HistoryFile = "inflora_history.json"
)

type stateJSON struct {
	Threshold float64    `json:"threshold"`
	Rounds    []RoundLog `json:"rounds"`
}

var _ accrete.Stateful = (*Strategy)(nil)

// memoryLayout names a module's memory "<module path>.input_basis" [k ≤ in, in].
var memoryLayout = statefile.Layout{
	Name: func(m lora.Module) string { return m.Path() + ".input_basis" },
	What: "the input basis of a module",
	Want: func(mc model.Config, m lora.Module, shape []int) string {
		if _, in := mc.ModuleShape(m.Name); len(shape) != 2 || shape[1] != in || shape[0] > in {
			return fmt.Sprintf("[k ≤ %d, %d]", in, in)
		}
		return ""
	},
}

// SaveState implements accrete.Stateful: it writes MemoryFile and HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	mem := map[lora.Module]*model.Tensor{}
	for m, t := range s.memory {
		if t.Shape[0] > 0 {
			mem[m] = t
		}
	}
	if err := statefile.WriteTensors(filepath.Join(dir, MemoryFile), mem, memoryLayout, "accrete-inflora", len(s.History)); err != nil {
		return fmt.Errorf("inflora: %w", err)
	}
	if err := statefile.WriteJSON(filepath.Join(dir, HistoryFile), stateJSON{Threshold: s.cfg.threshold(), Rounds: s.History}); err != nil {
		return fmt.Errorf("inflora: %w", err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces the memory and the history with those SaveState
// wrote into dir, checking every tensor against l's model. A saved threshold that differs from the
// configured one is an error.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	var st stateJSON
	if err := statefile.ReadJSON(path, &st); err != nil {
		return fmt.Errorf("inflora: %w", err)
	}
	if st.Threshold != s.cfg.threshold() {
		return fmt.Errorf("inflora: loading state: %s was saved with ε=%g, this strategy has ε=%g", path, st.Threshold, s.cfg.threshold())
	}
	mem, err := statefile.ReadTensors(filepath.Join(dir, MemoryFile), l.Model.Config, memoryLayout)
	if err != nil {
		return fmt.Errorf("inflora: %w", err)
	}
	s.memory, s.History = mem, st.Rounds
	return nil
}
