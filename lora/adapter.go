package lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/accrete/accrete/model"
)

// Module identifies one adapted linear layer.
type Module struct {
	Layer int
	Name  string // one of model.Modules
}

// Path is the module's Hugging Face path, e.g. "model.layers.3.self_attn.q_proj".
func (m Module) Path() string {
	return fmt.Sprintf("model.layers.%d.%s.%s", m.Layer, model.ModulePrefix(m.Name), m.Name)
}

// Adapter is one LoRA adapter: for every target module, A [r, in] and B [out, r] (PEFT's shapes), and
// the update ΔW = Scale·B·A added to the module's weight W [out, in]. It implements model.Adapter.
type Adapter struct {
	Name   string // graph tensor-name prefix; distinct adapters on one model need distinct names
	Config Config // with defaults applied
	Model  model.Config
	A, B   map[Module]*model.Tensor
}

// NewAdapter returns a fresh adapter for mc: A drawn Kaiming-uniform (bound 1/√in, PEFT's default for
// lora_A) from cfg.Seed, B = 0, so the model's outputs are unchanged until it is trained.
func NewAdapter(name string, mc model.Config, cfg Config) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	mc = mc.WithDefaults()
	if err := mc.Validate(); err != nil {
		return nil, fmt.Errorf("lora: adapter %q: %w", name, err)
	}
	for _, m := range cfg.TargetModules {
		// A rank above min(in, out) adds parameters but no expressiveness, and is how a mistyped
		// -rank asks for gigabytes: refused before anything is allocated.
		if out, in := mc.ModuleShape(m); cfg.Rank > min(out, in) {
			return nil, fmt.Errorf("lora: adapter %q: Rank %d is above min(in, out) = min(%d, %d) of module %s", name, cfg.Rank, in, out, m)
		}
	}
	a := &Adapter{Name: name, Config: cfg, Model: mc, A: map[Module]*model.Tensor{}, B: map[Module]*model.Tensor{}}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10a))
	for _, mod := range a.Modules() {
		out, in := mc.ModuleShape(mod.Name)
		A := model.NewTensor(cfg.Rank, in)
		bound := 1 / math.Sqrt(float64(in))
		for i := range A.Data {
			A.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
		a.A[mod] = A
		a.B[mod] = model.NewTensor(out, cfg.Rank)
	}
	return a, nil
}

// Modules lists the adapted modules in layer order, then in model.Modules order.
func (a *Adapter) Modules() []Module {
	var mods []Module
	for l := range a.Model.NumHiddenLayers {
		for _, m := range model.Modules {
			if slices.Contains(a.Config.TargetModules, m) {
				mods = append(mods, Module{l, m})
			}
		}
	}
	return mods
}

// TensorName is the name of an adapter tensor inside a graph ("A" or "B").
func (a *Adapter) TensorName(m Module, which string) string {
	return fmt.Sprintf("%s/%s.lora_%s", a.Name, m.Path(), which)
}

// Tensors implements model.Adapter.
func (a *Adapter) Tensors() map[string]*model.Tensor {
	out := make(map[string]*model.Tensor, 2*len(a.A))
	for m, t := range a.A {
		out[a.TensorName(m, "A")] = t
		out[a.TensorName(m, "B")] = a.B[m]
	}
	return out
}

// Delta implements model.Adapter: Scale·(x·Aᵀ)·Bᵀ. It applies no dropout: Train puts Config.Dropout
// on x before Delta (dropoutHook).
func (a *Adapter) Delta(p model.Params, layer int, module string, x *graph.Node) *graph.Node {
	m := Module{layer, module}
	if _, ok := a.A[m]; !ok {
		return nil
	}
	A, B := p[a.TensorName(m, "A")], p[a.TensorName(m, "B")]
	h := graph.DotGeneral(x, []int{x.Rank() - 1}, nil, A, []int{1}, nil) // [..., r]
	d := graph.DotGeneral(h, []int{h.Rank() - 1}, nil, B, []int{1}, nil) // [..., out]
	return graph.MulScalar(d, a.Config.Scale())
}

// DeltaW returns the module's dense update ΔW = Scale·B·A [out, in], accumulated in float64.
func (a *Adapter) DeltaW(m Module) *model.Tensor {
	A, B := a.A[m], a.B[m]
	r, in := A.Shape[0], A.Shape[1]
	out := B.Shape[0]
	d := model.NewTensor(out, in)
	s := a.Config.Scale()
	row := make([]float64, in)
	for o := range out {
		clear(row)
		for k := range r {
			b := float64(B.Data[o*r+k])
			if b == 0 {
				continue
			}
			ak := A.Data[k*in : (k+1)*in]
			for i, v := range ak {
				row[i] += b * float64(v)
			}
		}
		for i := range in {
			d.Data[o*in+i] = float32(s * row[i])
		}
	}
	return d
}

// Fold adds the adapter's ΔW to the weights w in place (PEFT's merge_and_unload). A weight stored as
// bfloat16 gets W + ΔW computed in float32 and rounded to bfloat16, as merging into a bfloat16 model does.
func (a *Adapter) Fold(w model.Weights) error {
	for _, m := range a.Modules() {
		name := model.ModuleWeightName(m.Layer, m.Name)
		W, ok := w[name]
		if !ok {
			return fmt.Errorf("lora: fold: the weights have no tensor %q", name)
		}
		d := a.DeltaW(m)
		if !slices.Equal(W.Shape, d.Shape) {
			return fmt.Errorf("lora: fold: %s has shape %v, the adapter's ΔW %v", name, W.Shape, d.Shape)
		}
		if W.IsBF16() { // PEFT's merge into a bfloat16 model: add in float32, round once
			sum := W.Float32()
			for i, v := range d.Data {
				sum[i] += v
			}
			W.SetFloat32(sum)
			continue
		}
		for i, v := range d.Data {
			W.Data[i] += v
		}
	}
	return nil
}

// Clone returns a deep copy.
func (a *Adapter) Clone() *Adapter {
	c := *a
	c.Config.TargetModules = slices.Clone(a.Config.TargetModules)
	c.A, c.B = map[Module]*model.Tensor{}, map[Module]*model.Tensor{}
	for m, t := range a.A {
		c.A[m] = t.Clone()
		c.B[m] = a.B[m].Clone()
	}
	return &c
}
