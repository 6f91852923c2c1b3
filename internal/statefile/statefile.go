package statefile

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/accrete/accrete/internal/atomicfile"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/safetensors"
)

// WriteJSON writes v as JSON indented by two spaces to path, atomically. Its errors read
// "encoding the history: …" or "saving <path>: …".
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the history: %w", err)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}

// ReadJSON decodes the JSON file at path into v. Its errors read "loading state: …".
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("loading state: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("loading state: %s: %w", path, err)
	}
	return nil
}

// Layout says how a strategy's tensors of modules are named and checked in its file.
type Layout struct {
	// Name is the tensor name of module m's tensor, e.g. model.ModuleWeightName.
	Name func(m lora.Module) string
	// What says what a tensor is, for the error on an unknown name: "a module weight" gives
	// "tensor "x" is not a module weight of this model".
	What string
	// Want returns "" when shape fits module m of a model of configuration mc, else the shape wanted,
	// for the error ("[Σr, 64]").
	Want func(mc model.Config, m lora.Module, shape []int) string
}

// WriteTensors writes ts, one F32 tensor per module named by lay.Name, to path atomically, with the
// metadata format and rounds. Its errors read "saving <path>: …".
func WriteTensors[M ~map[lora.Module]*model.Tensor](path string, ts M, lay Layout, format string, rounds int) error {
	st := make(map[string]safetensors.Tensor, len(ts))
	for m, t := range ts {
		st[lay.Name(m)] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
	}
	meta := map[string]string{"format": format, "rounds": strconv.Itoa(rounds)}
	if err := safetensors.Write(path, st, safetensors.F32, meta); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}

// ReadTensors reads the tensors WriteTensors wrote to path, checking each against a model of
// configuration mc: its name must be lay.Name of one of the model's modules, its shape fit lay.Want.
// Its errors read "loading state: …".
func ReadTensors(path string, mc model.Config, lay Layout) (map[lora.Module]*model.Tensor, error) {
	f, err := safetensors.Read(path)
	if err != nil {
		return nil, fmt.Errorf("loading state: %w", err)
	}
	known := map[string]lora.Module{}
	for layer := range mc.NumHiddenLayers {
		for _, name := range model.Modules {
			m := lora.Module{Layer: layer, Name: name}
			known[lay.Name(m)] = m
		}
	}
	out := map[lora.Module]*model.Tensor{}
	for _, name := range f.Names() {
		m, ok := known[name]
		if !ok {
			return nil, fmt.Errorf("loading state: %s: tensor %q is not %s of this model", path, name, lay.What)
		}
		d, shape, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("loading state: %w", err)
		}
		if want := lay.Want(mc, m, shape); want != "" {
			return nil, fmt.Errorf("loading state: %s: tensor %q has shape %v, want %s", path, name, shape, want)
		}
		out[m] = &model.Tensor{Shape: shape, Data: slices.Clone(d)}
	}
	return out, nil
}

// Weights is the Layout of a tensor shaped like the module's weight [out, in], under the weight's
// name (model.ModuleWeightName).
var Weights = Layout{
	Name: func(m lora.Module) string { return model.ModuleWeightName(m.Layer, m.Name) },
	What: "a module weight",
	Want: func(mc model.Config, m lora.Module, shape []int) string {
		if out, in := mc.ModuleShape(m.Name); !slices.Equal(shape, []int{out, in}) {
			return fmt.Sprintf("[%d, %d]", out, in)
		}
		return ""
	},
}
