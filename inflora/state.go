package inflora

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/safetensors"
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

// SaveState implements accrete.Stateful: it writes MemoryFile and HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	ts := map[string]safetensors.Tensor{}
	for m, t := range s.memory {
		if t.Shape[0] > 0 {
			ts[m.Path()+".input_basis"] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
		}
	}
	path := filepath.Join(dir, MemoryFile)
	meta := map[string]string{"format": "accrete-inflora", "rounds": strconv.Itoa(len(s.History))}
	if err := safetensors.Write(path, ts, safetensors.F32, meta); err != nil {
		return fmt.Errorf("inflora: saving %s: %w", path, err)
	}
	data, err := json.MarshalIndent(stateJSON{Threshold: s.cfg.threshold(), Rounds: s.History}, "", "  ")
	if err != nil {
		return fmt.Errorf("inflora: encoding the history: %w", err)
	}
	path = filepath.Join(dir, HistoryFile)
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("inflora: saving %s: %w", path, err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces the memory and the history with those SaveState
// wrote into dir, checking every tensor against l's model. A saved threshold that differs from the
// configured one is an error.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("inflora: loading state: %w", err)
	}
	var st stateJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("inflora: loading state: %s: %w", path, err)
	}
	if st.Threshold != s.cfg.threshold() {
		return fmt.Errorf("inflora: loading state: %s was saved with ε=%g, this strategy has ε=%g", path, st.Threshold, s.cfg.threshold())
	}
	path = filepath.Join(dir, MemoryFile)
	f, err := safetensors.Read(path)
	if err != nil {
		return fmt.Errorf("inflora: loading state: %w", err)
	}
	mc := l.Model.Config
	known := map[string]lora.Module{}
	for layer := range mc.NumHiddenLayers {
		for _, name := range model.Modules {
			m := lora.Module{Layer: layer, Name: name}
			known[m.Path()+".input_basis"] = m
		}
	}
	mem := map[lora.Module]Memory{}
	for _, name := range f.Names() {
		m, ok := known[name]
		if !ok {
			return fmt.Errorf("inflora: loading state: %s: tensor %q is not the input basis of a module of this model", path, name)
		}
		d, shape, err := f.Float32(name)
		if err != nil {
			return fmt.Errorf("inflora: loading state: %w", err)
		}
		if _, in := mc.ModuleShape(m.Name); len(shape) != 2 || shape[1] != in || shape[0] > in {
			return fmt.Errorf("inflora: loading state: %s: tensor %q has shape %v, want [k ≤ %d, %d]", path, name, shape, in, in)
		}
		mem[m] = &model.Tensor{Shape: shape, Data: slices.Clone(d)}
	}
	s.memory, s.History = mem, st.Rounds
	return nil
}
