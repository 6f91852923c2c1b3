package lora

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/accrete/accrete/internal/atomicfile"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/safetensors"
)

// PEFT's file names inside an adapter directory.
const (
	PEFTConfigFile  = "adapter_config.json"
	PEFTWeightsFile = "adapter_model.safetensors"
)

// peftPrefix starts every tensor key PEFT writes for a causal LM: PeftModel.base_model (the LoraModel)
// .model (the LlamaForCausalLM), then the transformers path "model.layers.{i}...".
const peftPrefix = "base_model.model."

// peftConfig is adapter_config.json as PEFT's LoraConfig writes it. Pointer and raw fields are the
// ones PEFT writes as null or in more than one type; unknown fields are ignored on load.
type peftConfig struct {
	PEFTType            string             `json:"peft_type"`
	TaskType            string             `json:"task_type"`
	BaseModelNameOrPath string             `json:"base_model_name_or_path"`
	Revision            *string            `json:"revision"`
	R                   int                `json:"r"`
	LoRAAlpha           float64            `json:"lora_alpha"`
	LoRADropout         float64            `json:"lora_dropout"`
	TargetModules       json.RawMessage    `json:"target_modules"` // a list, or a regex string
	Bias                string             `json:"bias"`
	FanInFanOut         bool               `json:"fan_in_fan_out"`
	InferenceMode       bool               `json:"inference_mode"`
	InitLoRAWeights     json.RawMessage    `json:"init_lora_weights"` // bool or a method name
	UseRSLoRA           bool               `json:"use_rslora"`
	UseDoRA             bool               `json:"use_dora"`
	ModulesToSave       []string           `json:"modules_to_save"`
	LayersToTransform   json.RawMessage    `json:"layers_to_transform"` // null, an int or a list
	LayersPattern       json.RawMessage    `json:"layers_pattern"`
	RankPattern         map[string]int     `json:"rank_pattern"`
	AlphaPattern        map[string]float64 `json:"alpha_pattern"`
}

// SavePEFT writes a as a PEFT adapter directory (created if needed): adapter_config.json and
// adapter_model.safetensors (float32) with PEFT's keys, e.g.
// "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" [r, in] and "...lora_B.weight"
// [out, r]. baseModel goes into base_model_name_or_path (PEFT's from_pretrained loads the base from
// it; "" is allowed). Each file is written atomically, the tensors first.
func SavePEFT(dir string, a *Adapter, baseModel string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lora: save PEFT adapter: %w", err)
	}
	return writePEFT(dir, a, baseModel)
}

func writePEFT(dir string, a *Adapter, baseModel string) error {
	if err := checkAdapter(a); err != nil {
		return fmt.Errorf("lora: save PEFT adapter to %s: %w", dir, err)
	}
	ts := make(map[string]safetensors.Tensor, 2*len(a.A))
	for _, m := range a.Modules() {
		ts[peftKey(m, "A")] = safetensors.Tensor{Shape: a.A[m].Shape, Data: a.A[m].Data}
		ts[peftKey(m, "B")] = safetensors.Tensor{Shape: a.B[m].Shape, Data: a.B[m].Data}
	}
	path := filepath.Join(dir, PEFTWeightsFile)
	if err := safetensors.Write(path, ts, safetensors.F32, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("lora: save PEFT adapter: %w", err)
	}
	targets := slices.Clone(a.Config.TargetModules)
	slices.Sort(targets) // PEFT saves a set; sorted keeps the file stable
	tm, _ := json.Marshal(targets)
	cfg := peftConfig{
		PEFTType: "LORA", TaskType: "CAUSAL_LM", BaseModelNameOrPath: baseModel,
		R: a.Config.Rank, LoRAAlpha: a.Config.Alpha, LoRADropout: a.Config.Dropout, TargetModules: tm,
		Bias: "none", InferenceMode: true, InitLoRAWeights: json.RawMessage("true"), UseRSLoRA: a.Config.RSLoRA,
		LayersToTransform: json.RawMessage("null"), LayersPattern: json.RawMessage("null"),
		RankPattern: map[string]int{}, AlphaPattern: map[string]float64{},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("lora: save PEFT adapter: %s: %w", filepath.Join(dir, PEFTConfigFile), err)
	}
	b = append(b, '\n')
	err = atomicfile.WriteFile(filepath.Join(dir, PEFTConfigFile), b)
	if err != nil {
		return fmt.Errorf("lora: save PEFT adapter: %w", err)
	}
	return nil
}

// peftKey is PEFT's tensor key of a module's A or B.
func peftKey(m Module, which string) string {
	return peftPrefix + m.Path() + ".lora_" + which + ".weight"
}

// checkAdapter verifies that a holds A [r, in] and B [out, r] for exactly its modules.
func checkAdapter(a *Adapter) error {
	if a == nil {
		return errors.New("nil adapter")
	}
	if err := a.Config.Validate(); err != nil {
		return err
	}
	mods := a.Modules()
	if len(a.A) != len(mods) || len(a.B) != len(mods) {
		return fmt.Errorf("adapter has %d A and %d B tensors for %d target modules", len(a.A), len(a.B), len(mods))
	}
	r := a.Config.WithDefaults().Rank
	for _, m := range mods {
		out, in := a.Model.ModuleShape(m.Name)
		A, B := a.A[m], a.B[m]
		if A == nil || B == nil {
			return fmt.Errorf("adapter has no A or B for %s", m.Path())
		}
		if !slices.Equal(A.Shape, []int{r, in}) || len(A.Data) != r*in {
			return fmt.Errorf("%s.lora_A has shape %v (%d values), want [%d %d]", m.Path(), A.Shape, len(A.Data), r, in)
		}
		if !slices.Equal(B.Shape, []int{out, r}) || len(B.Data) != out*r {
			return fmt.Errorf("%s.lora_B has shape %v (%d values), want [%d %d]", m.Path(), B.Shape, len(B.Data), out, r)
		}
	}
	return nil
}

// LoadPEFT reads a LoRA adapter directory as Python PEFT writes it (adapter_config.json and
// adapter_model.safetensors in F32, BF16 or F16) for a model of config mc. The rank comes from the
// tensors' shapes and must equal the config's r; the target modules come from the keys, which may
// carry PEFT's adapter name ("...lora_A.default.weight") or not. Every layer must hold every target
// module, and every shape must match mc: errors name the file, the key and both shapes. Bias
// tensors, DoRA, fan_in_fan_out and per-module rank or alpha patterns that differ from r and
// lora_alpha are refused. The adapter's Name is the directory's base name.
func LoadPEFT(dir string, mc model.Config) (*Adapter, error) {
	a, err := loadPEFT(dir, mc)
	if err != nil {
		return nil, fmt.Errorf("lora: load PEFT adapter: %w", err)
	}
	return a, nil
}

func loadPEFT(dir string, mc model.Config) (*Adapter, error) {
	if err := mc.Validate(); err != nil {
		return nil, err
	}
	mc = mc.WithDefaults()
	cfgPath := filepath.Join(dir, PEFTConfigFile)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	var pc peftConfig
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&pc); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	switch {
	case pc.PEFTType != "" && pc.PEFTType != "LORA":
		return nil, fmt.Errorf("%s: peft_type %q is not LORA", cfgPath, pc.PEFTType)
	case pc.Bias != "" && pc.Bias != "none":
		return nil, fmt.Errorf("%s: bias %q: only \"none\" is supported", cfgPath, pc.Bias)
	case pc.FanInFanOut:
		return nil, fmt.Errorf("%s: fan_in_fan_out true is not supported (Llama's linears are [out, in])", cfgPath)
	case pc.UseDoRA:
		return nil, fmt.Errorf("%s: use_dora true is not supported", cfgPath)
	case len(pc.ModulesToSave) > 0:
		return nil, fmt.Errorf("%s: modules_to_save %v is not supported", cfgPath, pc.ModulesToSave)
	case pc.R <= 0:
		return nil, fmt.Errorf("%s: r must be > 0, got %d", cfgPath, pc.R)
	case !(pc.LoRAAlpha > 0):
		return nil, fmt.Errorf("%s: lora_alpha must be > 0, got %g", cfgPath, pc.LoRAAlpha)
	}
	for mod, r := range pc.RankPattern {
		if r != pc.R {
			return nil, fmt.Errorf("%s: rank_pattern %q: %d differs from r %d (per-module ranks are not supported)", cfgPath, mod, r, pc.R)
		}
	}
	for mod, al := range pc.AlphaPattern {
		if al != pc.LoRAAlpha {
			return nil, fmt.Errorf("%s: alpha_pattern %q: %g differs from lora_alpha %g (per-module alphas are not supported)", cfgPath, mod, al, pc.LoRAAlpha)
		}
	}
	var listed []string
	if len(pc.TargetModules) > 0 && string(pc.TargetModules) != "null" {
		if err := json.Unmarshal(pc.TargetModules, &listed); err != nil {
			// A regex string: the keys decide.
			listed = nil
		}
	}

	wPath := filepath.Join(dir, PEFTWeightsFile)
	f, err := safetensors.Read(wPath)
	if err != nil {
		return nil, err
	}
	A, B := map[Module]*model.Tensor{}, map[Module]*model.Tensor{}
	keyOf := map[Module][2]string{}
	for _, key := range f.Names() {
		m, which, err := parsePEFTKey(key, mc.NumHiddenLayers)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", wPath, err)
		}
		data, shape, err := f.Float32(key)
		if err != nil {
			return nil, err
		}
		dst, i := A, 0
		if which == "B" {
			dst, i = B, 1
		}
		if _, dup := dst[m]; dup {
			return nil, fmt.Errorf("%s: %s: a second lora_%s for %s (%s)", wPath, key, which, m.Path(), keyOf[m][i])
		}
		if len(shape) != 2 {
			return nil, fmt.Errorf("%s: %s has shape %v, want a matrix", wPath, key, shape)
		}
		r := shape[0]
		if which == "B" {
			r = shape[1]
		}
		if r != pc.R {
			return nil, fmt.Errorf("%s: %s has shape %v, so rank %d, but %s says r %d", wPath, key, shape, r, cfgPath, pc.R)
		}
		out, in := mc.ModuleShape(m.Name)
		want := []int{pc.R, in}
		if which == "B" {
			want = []int{out, pc.R}
		}
		if !slices.Equal(shape, want) {
			return nil, fmt.Errorf("%s: %s has shape %v, the model (hidden %d, layers %d) needs %v",
				wPath, key, shape, mc.HiddenSize, mc.NumHiddenLayers, want)
		}
		dst[m] = &model.Tensor{Shape: shape, Data: data}
		k := keyOf[m]
		k[i] = key
		keyOf[m] = k
	}
	if len(A) == 0 {
		return nil, fmt.Errorf("%s: no LoRA tensors", wPath)
	}
	var targets []string
	for m := range A {
		if !slices.Contains(targets, m.Name) {
			targets = append(targets, m.Name)
		}
	}
	for m := range B {
		if !slices.Contains(targets, m.Name) {
			targets = append(targets, m.Name)
		}
	}
	slices.SortFunc(targets, func(x, y string) int {
		return slices.Index(model.Modules, x) - slices.Index(model.Modules, y)
	})
	for _, t := range targets {
		if listed != nil && !slices.Contains(listed, t) {
			return nil, fmt.Errorf("%s holds %s tensors but %s's target_modules %v lacks it", wPath, t, cfgPath, listed)
		}
	}
	a := &Adapter{
		Name: filepath.Base(filepath.Clean(dir)),
		Config: Config{Rank: pc.R, Alpha: pc.LoRAAlpha, Dropout: pc.LoRADropout, TargetModules: targets,
			RSLoRA: pc.UseRSLoRA}.WithDefaults(),
		Model: mc, A: A, B: B,
	}
	if err := a.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	for _, m := range a.Modules() {
		missing := ""
		if _, ok := A[m]; !ok {
			missing = peftKey(m, "A")
		} else if _, ok := B[m]; !ok {
			missing = peftKey(m, "B")
		}
		if missing != "" {
			return nil, fmt.Errorf("%s: no tensor %s (every layer must adapt every target module)", wPath, missing)
		}
	}
	return a, nil
}

// parsePEFTKey parses "base_model.model.model.layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}[.{adapter}].weight".
func parsePEFTKey(key string, layers int) (Module, string, error) {
	bad := func(why string) (Module, string, error) {
		return Module{}, "", fmt.Errorf("unexpected tensor %q: %s", key, why)
	}
	rest, ok := strings.CutPrefix(key, peftPrefix+"model.layers.")
	if !ok {
		return bad("want base_model.model.model.layers.{i}.<self_attn|mlp>.<module>.lora_<A|B>.weight")
	}
	parts := strings.Split(rest, ".")
	// {i} {prefix} {module} lora_X [adapter] weight
	if len(parts) != 5 && len(parts) != 6 {
		return bad("want base_model.model.model.layers.{i}.<self_attn|mlp>.<module>.lora_<A|B>.weight")
	}
	layer, err := strconv.Atoi(parts[0])
	if err != nil || layer < 0 || layer >= layers || strconv.Itoa(layer) != parts[0] {
		return bad(fmt.Sprintf("layer %q outside [0, %d)", parts[0], layers))
	}
	mod := parts[2]
	if !slices.Contains(model.Modules, mod) {
		return bad(fmt.Sprintf("module %q is not one of %v", mod, model.Modules))
	}
	if parts[1] != model.ModulePrefix(mod) {
		return bad(fmt.Sprintf("%s belongs under %s, not %s", mod, model.ModulePrefix(mod), parts[1]))
	}
	which := strings.TrimPrefix(parts[3], "lora_")
	if which != "A" && which != "B" || !strings.HasPrefix(parts[3], "lora_") {
		return bad("not a lora_A or lora_B tensor")
	}
	if parts[len(parts)-1] != "weight" {
		return bad("want a .weight tensor")
	}
	return Module{layer, mod}, which, nil
}
