package orthlora

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/statefile"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
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

// pastLayout names a module's stacked A's "<module path>.lora_A.weight" [Σr, d_in].
var pastLayout = statefile.Layout{
	Name: func(m lora.Module) string { return m.Path() + ".lora_A.weight" },
	What: "the lora_A of a module",
	Want: func(mc model.Config, m lora.Module, shape []int) string {
		if _, in := mc.ModuleShape(m.Name); len(shape) != 2 || shape[1] != in {
			return fmt.Sprintf("[Σr, %d]", in)
		}
		return ""
	},
}

// SaveState implements accrete.Stateful: it writes PastFile and HistoryFile into dir, atomically.
func (s *Strategy) SaveState(dir string) error {
	if err := statefile.WriteTensors(filepath.Join(dir, PastFile), s.past, pastLayout, "accrete-olora", len(s.History)); err != nil {
		return fmt.Errorf("orthlora: %w", err)
	}
	st := stateJSON{Lambda: s.cfg.Lambda, Lambda2: s.cfg.Lambda2, Scale: s.cfg.Scale.String(), Rounds: s.History}
	if err := statefile.WriteJSON(filepath.Join(dir, HistoryFile), st); err != nil {
		return fmt.Errorf("orthlora: %w", err)
	}
	return nil
}

// LoadState implements accrete.Stateful: it replaces the past A's and the history with those SaveState
// wrote into dir, checking every tensor against l's model (known module, d_in). A saved λ that differs
// (or Scale) from the configured one is an error: resuming would mix two penalties.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	path := filepath.Join(dir, HistoryFile)
	var st stateJSON
	if err := statefile.ReadJSON(path, &st); err != nil {
		return fmt.Errorf("orthlora: %w", err)
	}
	if st.Scale == "" {
		st.Scale = Sum.String()
	}
	if st.Lambda != s.cfg.Lambda || st.Lambda2 != s.cfg.Lambda2 || st.Scale != s.cfg.Scale.String() {
		return fmt.Errorf("orthlora: loading state: %s was saved with λ=%g (%s) λ2=%g, this strategy has λ=%g (%s) λ2=%g",
			path, st.Lambda, st.Scale, st.Lambda2, s.cfg.Lambda, s.cfg.Scale, s.cfg.Lambda2)
	}
	path = filepath.Join(dir, PastFile)
	past, err := statefile.ReadTensors(path, l.Model.Config, pastLayout)
	if err != nil {
		return fmt.Errorf("orthlora: %w", err)
	}
	if len(st.Rounds) > 0 && len(past) == 0 {
		return errors.New("orthlora: loading state: " + path + " holds no past A's but the history has rounds")
	}
	s.past, s.History = past, st.Rounds
	return nil
}
