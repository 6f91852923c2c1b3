package orthlora

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
	// PastFile holds the stacked past A's, one F32 tensor "<module path>.lora_A.weight" [Σr, d_in]
	// per module, e.g. "model.layers.0.self_attn.q_proj.lora_A.weight".
	PastFile = "olora_past_a.safetensors"
	// HistoryFile holds the configuration's λ's and the RoundLog of every finished round as JSON.
	HistoryFile = "olora_history.json"
)

type stateJSON struct {
	Lambda  float64 `json:"lambda"`
	Lambda2 float64 `json:"lambda2"`
	// Scale is Config.Scale's String; absent in files written before Scale existed, which used Sum.
	Scale  string     `json:"scale,omitempty"`
	Rounds []RoundLog `json:"rounds"`
}

var _ accrete.Stateful = (*Strategy)(nil)

// SaveState implements accrete.Stateful: it writes PastFile and HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	ts := make(map[string]safetensors.Tensor, len(s.past))
	for m, t := range s.past {
		ts[m.Path()+".lora_A.weight"] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
	}
	meta := map[string]string{"format": "accrete-olora", "rounds": strconv.Itoa(len(s.History))}
	path := filepath.Join(dir, PastFile)
	if err := safetensors.Write(path, ts, safetensors.F32, meta); err != nil {
		return fmt.Errorf("orthlora: saving %s: %w", path, err)
	}
	data, err := json.MarshalIndent(stateJSON{Lambda: s.cfg.Lambda, Lambda2: s.cfg.Lambda2, Scale: s.cfg.Scale.String(), Rounds: s.History}, "", "  ")
	if err != nil {
		return fmt.Errorf("orthlora: encoding the history: %w", err)
	}
	path = filepath.Join(dir, HistoryFile)
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("orthlora: saving %s: %w", path, err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces the past A's and the history with those SaveState
// wrote into dir, checking every tensor against l's model (known module, d_in). A saved λ that differs
// (or Scale) from the configured one is an error: resuming would mix two penalties.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("orthlora: loading state: %w", err)
	}
	var st stateJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("orthlora: loading state: %s: %w", path, err)
	}
	if st.Scale == "" {
		st.Scale = Sum.String()
	}
	if st.Lambda != s.cfg.Lambda || st.Lambda2 != s.cfg.Lambda2 || st.Scale != s.cfg.Scale.String() {
		return fmt.Errorf("orthlora: loading state: %s was saved with λ=%g (%s) λ2=%g, this strategy has λ=%g (%s) λ2=%g",
			path, st.Lambda, st.Scale, st.Lambda2, s.cfg.Lambda, s.cfg.Scale, s.cfg.Lambda2)
	}
	path = filepath.Join(dir, PastFile)
	f, err := safetensors.Read(path)
	if err != nil {
		return fmt.Errorf("orthlora: loading state: %w", err)
	}
	mc := l.Model.Config
	known := map[string]lora.Module{}
	for layer := range mc.NumHiddenLayers {
		for _, name := range model.Modules {
			m := lora.Module{Layer: layer, Name: name}
			known[m.Path()+".lora_A.weight"] = m
		}
	}
	past := Past{}
	for _, name := range f.Names() {
		m, ok := known[name]
		if !ok {
			return fmt.Errorf("orthlora: loading state: %s: tensor %q is not the lora_A of a module of this model", path, name)
		}
		d, shape, err := f.Float32(name)
		if err != nil {
			return fmt.Errorf("orthlora: loading state: %w", err)
		}
		if _, in := mc.ModuleShape(m.Name); len(shape) != 2 || shape[1] != in {
			return fmt.Errorf("orthlora: loading state: %s: tensor %q has shape %v, want [Σr, %d]", path, name, shape, in)
		}
		past[m] = &model.Tensor{Shape: shape, Data: slices.Clone(d)}
	}
	if len(st.Rounds) > 0 && len(past) == 0 {
		return errors.New("orthlora: loading state: " + path + " holds no past A's but the history has rounds")
	}
	s.past, s.History = past, st.Rounds
	return nil
}
