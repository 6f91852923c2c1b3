package ewc

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
	ts := make(map[string]safetensors.Tensor, len(s.fisher))
	for m, t := range s.fisher {
		ts[model.ModuleWeightName(m.Layer, m.Name)] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
	}
	path := filepath.Join(dir, FisherFile)
	meta := map[string]string{"format": "accrete-ewc", "rounds": strconv.Itoa(len(s.History))}
	if err := safetensors.Write(path, ts, safetensors.F32, meta); err != nil {
		return fmt.Errorf("ewc: saving %s: %w", path, err)
	}
	data, err := json.MarshalIndent(stateJSON{Lambda: s.cfg.Lambda, Gamma: s.cfg.gamma(), Raw: s.cfg.Raw, Rounds: s.History}, "", "  ")
	if err != nil {
		return fmt.Errorf("ewc: encoding the history: %w", err)
	}
	path = filepath.Join(dir, HistoryFile)
	if err := safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("ewc: saving %s: %w", path, err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces the Fisher and the history with those SaveState
// wrote into dir, checking every tensor against l's model. A saved λ, γ or Raw that differs from the
// configured one is an error: resuming would mix two penalties.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("ewc: loading state: %w", err)
	}
	var st stateJSON
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("ewc: loading state: %s: %w", path, err)
	}
	if st.Lambda != s.cfg.Lambda || st.Gamma != s.cfg.gamma() || st.Raw != s.cfg.Raw {
		return fmt.Errorf("ewc: loading state: %s was saved with λ=%g γ=%g raw=%v, this strategy has λ=%g γ=%g raw=%v",
			path, st.Lambda, st.Gamma, st.Raw, s.cfg.Lambda, s.cfg.gamma(), s.cfg.Raw)
	}
	path = filepath.Join(dir, FisherFile)
	f, err := safetensors.Read(path)
	if err != nil {
		return fmt.Errorf("ewc: loading state: %w", err)
	}
	mc := l.Model.Config
	known := map[string]lora.Module{}
	for layer := range mc.NumHiddenLayers {
		for _, name := range model.Modules {
			known[model.ModuleWeightName(layer, name)] = lora.Module{Layer: layer, Name: name}
		}
	}
	F := Fisher{}
	for _, name := range f.Names() {
		m, ok := known[name]
		if !ok {
			return fmt.Errorf("ewc: loading state: %s: tensor %q is not a module weight of this model", path, name)
		}
		d, shape, err := f.Float32(name)
		if err != nil {
			return fmt.Errorf("ewc: loading state: %w", err)
		}
		if out, in := mc.ModuleShape(m.Name); !slices.Equal(shape, []int{out, in}) {
			return fmt.Errorf("ewc: loading state: %s: tensor %q has shape %v, want [%d, %d]", path, name, shape, out, in)
		}
		F[m] = &model.Tensor{Shape: shape, Data: slices.Clone(d)}
	}
	if len(st.Rounds) > 0 && len(F) == 0 {
		return errors.New("ewc: loading state: " + path + " holds no Fisher but the history has rounds")
	}
	s.fisher, s.History = F, st.Rounds
	return nil
}
