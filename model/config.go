package model

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
)

// RopeScaling is Hugging Face's rope_scaling block. Only RopeType "llama3" (and "default" or empty,
// meaning none) change the frequencies.
type RopeScaling struct {
	RopeType                      string  `json:"rope_type,omitempty"`
	Type                          string  `json:"type,omitempty"` // older spelling of rope_type
	Factor                        float64 `json:"factor,omitempty"`
	LowFreqFactor                 float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings,omitempty"`
}

// Kind returns the scaling type, "" when none applies.
func (r *RopeScaling) Kind() string {
	if r == nil {
		return ""
	}
	k := cmp.Or(r.RopeType, r.Type)
	if k == "default" {
		return ""
	}
	return k
}

// Config is a Llama architecture as Hugging Face's config.json describes it. Zero values mean
// "derive it": HeadDim = HiddenSize/NumAttentionHeads, NumKeyValueHeads = NumAttentionHeads,
// RMSNormEps = 1e-5, RopeTheta = 10000, MaxPositionEmbeddings = 2048.
type Config struct {
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads,omitempty"`
	HeadDim               int          `json:"head_dim,omitempty"`
	VocabSize             int          `json:"vocab_size"`
	RMSNormEps            float64      `json:"rms_norm_eps,omitempty"`
	RopeTheta             float64      `json:"rope_theta,omitempty"`
	RopeScaling           *RopeScaling `json:"rope_scaling,omitempty"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings,omitempty"`
	TieWordEmbeddings     bool         `json:"tie_word_embeddings"`
	BOSTokenID            *int         `json:"bos_token_id,omitempty"`
	EOSTokenID            any          `json:"eos_token_id,omitempty"` // int or []int in HF files
	TorchDType            string       `json:"torch_dtype,omitempty"`
	ModelType             string       `json:"model_type,omitempty"`
	Architectures         []string     `json:"architectures,omitempty"`
}

// WithDefaults returns c with every zero field that has a derived value filled in.
func (c Config) WithDefaults() Config {
	c.NumKeyValueHeads = cmp.Or(c.NumKeyValueHeads, c.NumAttentionHeads)
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 {
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	c.RMSNormEps = cmp.Or(c.RMSNormEps, 1e-5)
	c.RopeTheta = cmp.Or(c.RopeTheta, 10000)
	c.MaxPositionEmbeddings = cmp.Or(c.MaxPositionEmbeddings, 2048)
	c.ModelType = cmp.Or(c.ModelType, "llama")
	return c
}

// Validate reports the first field that makes c unusable, naming it and its value.
func (c Config) Validate() error {
	c = c.WithDefaults()
	positive := []struct {
		name string
		v    int
	}{
		{"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads}, {"head_dim", c.HeadDim}, {"vocab_size", c.VocabSize},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("model config: %s must be > 0, got %d", p.name, p.v)
		}
	}
	// Upper bounds far above any Llama (405B: hidden 16384, 126 layers, MLP 53248, vocabulary 128256),
	// checked before anything is sized from them.
	bounded := []struct {
		name   string
		v, max int
	}{
		{"hidden_size", c.HiddenSize, 1 << 16}, {"intermediate_size", c.IntermediateSize, 1 << 18},
		{"num_hidden_layers", c.NumHiddenLayers, 1024}, {"num_attention_heads", c.NumAttentionHeads, 1024},
		{"num_key_value_heads", c.NumKeyValueHeads, 1024}, {"head_dim", c.HeadDim, 4096},
		{"vocab_size", c.VocabSize, 1 << 22}, {"max_position_embeddings", c.MaxPositionEmbeddings, 1 << 22},
	}
	for _, p := range bounded {
		if p.v > p.max {
			return fmt.Errorf("model config: %s %d is above the supported %d", p.name, p.v, p.max)
		}
	}
	if c.MaxPositionEmbeddings < 0 {
		return fmt.Errorf("model config: max_position_embeddings must be >= 0, got %d", c.MaxPositionEmbeddings)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("model config: num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)",
			c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("model config: head_dim must be even for RoPE, got %d", c.HeadDim)
	}
	switch k := c.RopeScaling.Kind(); k {
	case "":
	case "llama3":
		r := c.RopeScaling
		if r.Factor <= 0 || r.LowFreqFactor <= 0 || r.HighFreqFactor <= r.LowFreqFactor || r.OriginalMaxPositionEmbeddings <= 0 {
			return fmt.Errorf("model config: rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0, got %+v", *r)
		}
	case "linear":
		if c.RopeScaling.Factor <= 0 {
			return fmt.Errorf("model config: rope_scaling linear needs factor > 0, got %g", c.RopeScaling.Factor)
		}
	default:
		return fmt.Errorf("model config: rope_scaling type %q is not supported (llama3, linear or default)", k)
	}
	if c.RMSNormEps <= 0 {
		return fmt.Errorf("model config: rms_norm_eps must be > 0, got %g", c.RMSNormEps)
	}
	return nil
}

// ReadConfig reads and validates a Hugging Face config.json.
func ReadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("model: reading config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("model: parsing %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c.WithDefaults(), nil
}

// EOSTokenIDs returns eos_token_id as a list (HF writes an int or a list of ints).
func (c Config) EOSTokenIDs() []int {
	switch v := c.EOSTokenID.(type) {
	case float64:
		return []int{int(v)}
	case int:
		return []int{v}
	case []any:
		var out []int
		for _, x := range v {
			if f, ok := x.(float64); ok {
				out = append(out, int(f))
			}
		}
		return out
	case []int:
		return v
	}
	return nil
}

// Modules lists the linear layers of a decoder layer that adapters may target, in HF's names.
var Modules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// ModulePrefix returns "self_attn" or "mlp" for a module name of Modules.
func ModulePrefix(module string) string {
	switch module {
	case "q_proj", "k_proj", "v_proj", "o_proj":
		return "self_attn"
	case "gate_proj", "up_proj", "down_proj":
		return "mlp"
	}
	panic(fmt.Sprintf("model: unknown module %q (want one of %v)", module, Modules))
}

// ModuleShape returns [out, in] of a module's weight (HF layout).
func (c Config) ModuleShape(module string) (out, in int) {
	c = c.WithDefaults()
	d, q, kv := c.HiddenSize, c.NumAttentionHeads*c.HeadDim, c.NumKeyValueHeads*c.HeadDim
	switch module {
	case "q_proj":
		return q, d
	case "k_proj", "v_proj":
		return kv, d
	case "o_proj":
		return d, q
	case "gate_proj", "up_proj":
		return c.IntermediateSize, d
	case "down_proj":
		return d, c.IntermediateSize
	}
	panic(fmt.Sprintf("model: unknown module %q (want one of %v)", module, Modules))
}

// ModuleWeightName returns the HF tensor name of a module's weight in a layer,
// e.g. "model.layers.3.self_attn.q_proj.weight".
func ModuleWeightName(layer int, module string) string {
	return fmt.Sprintf("model.layers.%d.%s.%s.weight", layer, ModulePrefix(module), module)
}

// TensorShapes returns every tensor a checkpoint of this config holds, HF name → shape ([out,in] for
// linear layers), and the names in a stable order.
func (c Config) TensorShapes() (names []string, shapes map[string][]int) {
	c = c.WithDefaults()
	shapes = map[string][]int{}
	add := func(name string, shape ...int) {
		names = append(names, name)
		shapes[name] = shape
	}
	add("model.embed_tokens.weight", c.VocabSize, c.HiddenSize)
	for l := range c.NumHiddenLayers {
		add(fmt.Sprintf("model.layers.%d.input_layernorm.weight", l), c.HiddenSize)
		for _, m := range Modules {
			o, i := c.ModuleShape(m)
			add(ModuleWeightName(l, m), o, i)
		}
		add(fmt.Sprintf("model.layers.%d.post_attention_layernorm.weight", l), c.HiddenSize)
	}
	add("model.norm.weight", c.HiddenSize)
	if !c.TieWordEmbeddings {
		add("lm_head.weight", c.VocabSize, c.HiddenSize)
	}
	return names, shapes
}

// NumParams counts the parameters of the model (the tied head counted once).
func (c Config) NumParams() int {
	names, shapes := c.TensorShapes()
	n := 0
	for _, name := range names {
		n += numElements(shapes[name])
	}
	return n
}

// MatmulParams counts the parameters that go through matmuls: every decoder linear plus the LM head,
// not the embedding lookup (the N of the 6·N·tokens FLOP estimate).
func (c Config) MatmulParams() int {
	c = c.WithDefaults()
	n := 0
	for _, m := range Modules {
		o, i := c.ModuleShape(m)
		n += o * i
	}
	return n*c.NumHiddenLayers + c.VocabSize*c.HiddenSize
}

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
