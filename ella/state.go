package ella

import (
	"encoding/json"
	"errors"
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
	ts := make(map[string]safetensors.Tensor, len(s.past))
	for m, t := range s.past {
		ts[model.ModuleWeightName(m.Layer, m.Name)] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
	}
	path := filepath.Join(dir, PastFile)
	meta := map[string]string{"format": "accrete-ella", "rounds": strconv.Itoa(len(s.History))}
	if err := safetensors.Write(path, ts, safetensors.F32, meta); err != nil {
		return fmt.Errorf("ella: saving %s: %w", path, err)
	}
	data, err := json.MarshalIndent(stateJSON{Lambda: s.cfg.Lambda, Raw: s.cfg.Raw, Rounds: s.History}, "", "  ")
	if err != nil {
		return fmt.Errorf("ella: encoding the history: %w", err)
	}
	path = filepath.Join(dir, HistoryFile)
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("ella: saving %s: %w", path, err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces W_past and the history with those SaveState
// wrote into dir, checking every tensor against l's model. A saved λ or Raw that differs from the
// configured one is an error: resuming would mix two penalties.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("ella: loading state: %w", err)
	}
	var st stateJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("ella: loading state: %s: %w", path, err)
	}
	if st.Lambda != s.cfg.Lambda || st.Raw != s.cfg.Raw {
		return fmt.Errorf("ella: loading state: %s was saved with λ=%g raw=%v, this strategy has λ=%g raw=%v",
			path, st.Lambda, st.Raw, s.cfg.Lambda, s.cfg.Raw)
	}
	path = filepath.Join(dir, PastFile)
	f, err := safetensors.Read(path)
	if err != nil {
		return fmt.Errorf("ella: loading state: %w", err)
	}
	mc := l.Model.Config
	known := map[string]lora.Module{}
	for layer := range mc.NumHiddenLayers {
		for _, name := range model.Modules {
			known[model.ModuleWeightName(layer, name)] = lora.Module{Layer: layer, Name: name}
		}
	}
	P := Past{}
	for _, name := range f.Names() {
		m, ok := known[name]
		if !ok {
			return fmt.Errorf("ella: loading state: %s: tensor %q is not a module weight of this model", path, name)
		}
		d, shape, err := f.Float32(name)
		if err != nil {
			return fmt.Errorf("ella: loading state: %w", err)
		}
		if out, in := mc.ModuleShape(m.Name); !slices.Equal(shape, []int{out, in}) {
			return fmt.Errorf("ella: loading state: %s: tensor %q has shape %v, want [%d, %d]", path, name, shape, out, in)
		}
		P[m] = &model.Tensor{Shape: shape, Data: slices.Clone(d)}
	}
	if len(st.Rounds) > 0 && len(P) == 0 {
		return errors.New("ella: loading state: " + path + " holds no W_past but the history has rounds")
	}
	s.past, s.History = P, st.Rounds
	return nil
}
