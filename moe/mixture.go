package moe

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Gate names how router logits become expert weights.
type Gate string

// Gates, as moetify's router_norm applies them to the top-k logits.
const (
	// Softmax weights the top-k experts by the softmax of their logits (the softmax of all logits
	// restricted to the top k and renormalised to sum to 1); the others get 0.
	Softmax Gate = "softmax"
	// Sigmoid weights each top-k expert by the sigmoid of its logit, independently (not normalised);
	// the others get 0.
	Sigmoid Gate = "sigmoid"
)

// Mixture is a mixture of frozen LoRA experts (moetify, arXiv 2408.17280): for every adapted module
// a router Linear(in → n) without bias scores the experts for each token, and the module's output is
// W·x + Σ_e g_e(x)·scale_e·B_e·A_e·x, the base output always on. It implements model.Adapter; attach
// it with Model.SetAdapter and it runs in every graph of the model (Logits, TokenLogProbs, Generate
// with its KV cache, training). Build one with NewMixture.
type Mixture struct {
	// Name prefixes the graph tensor names.
	Name string
	// Experts are the frozen adapters; all target the same modules of the same model.
	Experts []*lora.Adapter
	// Router holds each module's router weight [len(Experts), in]; nil when Uniform.
	Router map[lora.Module]*model.Tensor
	// TopK experts get a non-zero weight per token (all when TopK ≥ len(Experts)).
	TopK int
	// Gate turns the top-k logits into weights.
	Gate Gate
	// Uniform drops the router: every expert has weight 1/n, so the mixture is the average of the
	// experts' deltas.
	Uniform bool

	tensors map[string]*model.Tensor
	// record, when set, receives every module's routing as the graph is built (router training,
	// Gates).
	record func(routing)
}

// routing is one module's router output inside a graph being built.
type routing struct {
	module lora.Module
	logits *graph.Node // [..., n]
	gates  *graph.Node // [..., n], what multiplies the experts
	mask   *graph.Node // [..., n] float, 1 on the top-k
}

// MixtureConfig configures NewMixture. Zero values mean the documented defaults.
type MixtureConfig struct {
	// TopK experts per token. Default (0): 2.
	TopK int
	// Gate. Default (""): Softmax.
	Gate Gate
	// Uniform drops the router (every expert weight 1/n). Default false.
	Uniform bool
	// Seed draws the router's initial weights, uniform in ±1/√in as PyTorch's nn.Linear (moetify's
	// router) initialises them. Default 0.
	Seed uint64
	// Init, when set, provides initial router rows: module → [m, in] with m ≤ n, copied into the first
	// m rows (to keep what a router learned when an expert is added).
	Init map[lora.Module]*model.Tensor
}

// ErrNoRouter is returned by operations that need a router on a Uniform mixture.
var ErrNoRouter = errors.New("moe: the mixture is uniform and has no router")

// NewMixture returns a mixture of experts (which it uses, not copies).
func NewMixture(name string, experts []*lora.Adapter, cfg MixtureConfig) (*Mixture, error) {
	if len(experts) == 0 {
		return nil, errors.New("moe: NewMixture: no experts")
	}
	if cfg.TopK < 0 {
		return nil, fmt.Errorf("moe: NewMixture: TopK must be ≥ 0, got %d", cfg.TopK)
	}
	if cfg.TopK == 0 {
		cfg.TopK = 2
	}
	if cfg.Gate == "" {
		cfg.Gate = Softmax
	}
	if cfg.Gate != Softmax && cfg.Gate != Sigmoid {
		return nil, fmt.Errorf("moe: NewMixture: Gate %q unknown (softmax or sigmoid)", cfg.Gate)
	}
	mods := experts[0].Modules()
	for i, a := range experts {
		if a == nil {
			return nil, fmt.Errorf("moe: NewMixture: expert %d is nil", i)
		}
		if len(a.A) != len(mods) {
			return nil, fmt.Errorf("moe: NewMixture: expert %d (%q) adapts %d modules, expert 0 (%q) %d", i, a.Name, len(a.A), experts[0].Name, len(mods))
		}
		for _, m := range mods {
			if _, ok := a.A[m]; !ok {
				return nil, fmt.Errorf("moe: NewMixture: expert %d (%q) does not adapt %s", i, a.Name, m.Path())
			}
		}
	}
	mix := &Mixture{Name: name, Experts: experts, TopK: cfg.TopK, Gate: cfg.Gate, Uniform: cfg.Uniform}
	if !cfg.Uniform {
		n := len(experts)
		mix.Router = map[lora.Module]*model.Tensor{}
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x60e))
		for _, m := range mods {
			_, in := experts[0].Model.ModuleShape(m.Name)
			R := model.NewTensor(n, in)
			bound := 1 / math.Sqrt(float64(in))
			for i := range R.Data {
				R.Data[i] = float32((2*rng.Float64() - 1) * bound)
			}
			if init, ok := cfg.Init[m]; ok {
				if len(init.Shape) != 2 || init.Shape[1] != in || init.Shape[0] > n {
					return nil, fmt.Errorf("moe: NewMixture: Init for %s has shape %v, want [≤%d, %d]", m.Path(), init.Shape, n, in)
				}
				copy(R.Data, init.Data)
			}
			mix.Router[m] = R
		}
	}
	return mix, nil
}

// Modules lists the adapted modules, in the experts' order.
func (mix *Mixture) Modules() []lora.Module { return mix.Experts[0].Modules() }

// ExpertTensorName is the graph name of expert e's A or B ("A" or "B") for module m.
func (mix *Mixture) ExpertTensorName(e int, m lora.Module, which string) string {
	return fmt.Sprintf("%s/experts.%d/%s.lora_%s", mix.Name, e, m.Path(), which)
}

// RouterTensorName is the graph name of module m's router weight.
func (mix *Mixture) RouterTensorName(m lora.Module) string {
	return fmt.Sprintf("%s/%s.router.weight", mix.Name, m.Path())
}

// RouterNames returns the router tensors' names, sorted: the tensors router training updates.
func (mix *Mixture) RouterNames() []string {
	var out []string
	for m := range mix.Router {
		out = append(out, mix.RouterTensorName(m))
	}
	slices.Sort(out)
	return out
}

// Tensors implements model.Adapter: every expert's A and B and every router weight.
func (mix *Mixture) Tensors() map[string]*model.Tensor {
	if mix.tensors == nil {
		t := map[string]*model.Tensor{}
		for e, a := range mix.Experts {
			for m, A := range a.A {
				t[mix.ExpertTensorName(e, m, "A")] = A
				t[mix.ExpertTensorName(e, m, "B")] = a.B[m]
			}
		}
		for m, R := range mix.Router {
			t[mix.RouterTensorName(m)] = R
		}
		mix.tensors = t
	}
	return mix.tensors
}

// Delta implements model.Adapter: Σ_e g_e(x)·scale_e·(x·A_eᵀ)·B_eᵀ, computed for all experts at once
// as ((x·Aᵀ)⊙w)·Bᵀ with A the experts' A stacked [Σr, in], B their B side by side [out, Σr] and w each
// column's gate times its expert's scale: two matrix products a module whatever the number of
// experts, rather than two and a gating per expert (a step of a small model is mostly per-op cost).
func (mix *Mixture) Delta(p model.Params, layer int, module string, x *graph.Node) *graph.Node {
	m := lora.Module{Layer: layer, Name: module}
	if _, ok := mix.Experts[0].A[m]; !ok {
		return nil
	}
	n := len(mix.Experts)
	g := x.Graph()
	var gates *graph.Node
	if !mix.Uniform {
		R := p[mix.RouterTensorName(m)]
		logits := graph.DotGeneral(x, []int{x.Rank() - 1}, nil, R, []int{1}, nil) // [..., n]
		var mask *graph.Node
		gates, mask = gate(logits, mix.TopK, mix.Gate)
		if mix.record != nil {
			mix.record(routing{module: m, logits: logits, gates: gates, mask: mask})
		}
	}
	As, Bs := make([]*graph.Node, n), make([]*graph.Node, n)
	var col []int       // the expert of each column of the stacked ranks
	var scale []float32 // and its scale (÷n for a uniform mixture)
	for e, a := range mix.Experts {
		As[e], Bs[e] = p[mix.ExpertTensorName(e, m, "A")], p[mix.ExpertTensorName(e, m, "B")]
		s := a.Config.Scale()
		if gates == nil {
			s /= float64(n)
		}
		for range As[e].Shape().Dimensions[0] {
			col, scale = append(col, e), append(scale, float32(s))
		}
	}
	A, B := graph.Concatenate(As, 0), graph.Concatenate(Bs, 1) // [Σr, in], [out, Σr]
	h := graph.DotGeneral(x, []int{x.Rank() - 1}, nil, A, []int{1}, nil)
	var w *graph.Node
	if gates == nil {
		w = graph.Const(g, tensors.FromFlatDataAndDimensions(scale, append(ones(h.Rank()-1), len(scale))...))
	} else {
		spread := make([]float32, n*len(scale)) // [n, Σr]: each expert's scale on its own columns
		for c, e := range col {
			spread[e*len(scale)+c] = scale[c]
		}
		w = graph.DotGeneral(gates, []int{gates.Rank() - 1}, nil,
			graph.Const(g, tensors.FromFlatDataAndDimensions(spread, n, len(scale))), []int{0}, nil) // [..., Σr]
	}
	h = graph.Mul(h, w)
	return graph.DotGeneral(h, []int{h.Rank() - 1}, nil, B, []int{1}, nil)
}

// gate turns router logits [..., n] into expert weights and the top-k mask (float, 1 on the k largest
// logits, the lower index first among equals). The mask carries no gradient; the weights carry it to
// the logits of the selected experts.
func gate(logits *graph.Node, k int, kind Gate) (gates, mask *graph.Node) {
	n := logits.Shape().Dimensions[logits.Rank()-1]
	g := logits.Graph()
	var keep *graph.Node // bool
	if k < n {
		l := graph.StopGradient(logits)
		li := graph.ExpandAxes(l, -1) // [..., n, 1]: expert i
		lj := graph.ExpandAxes(l, -2) // [..., 1, n]: expert j
		dims := append(slices.Clone(logits.Shape().Dimensions), n)
		beats := graph.GreaterThan(graph.BroadcastToDims(lj, dims...), graph.BroadcastToDims(li, dims...))
		before := make([]bool, n*n) // j < i
		for i := range n {
			for j := range i {
				before[i*n+j] = true
			}
		}
		tieRule := graph.Const(g, tensors.FromFlatDataAndDimensions(before, n, n))
		tieRule = graph.BroadcastToDims(graph.Reshape(tieRule, append(ones(logits.Rank()-1), n, n)...), dims...)
		ties := graph.LogicalAnd(graph.Equal(graph.BroadcastToDims(lj, dims...), graph.BroadcastToDims(li, dims...)), tieRule)
		ahead := graph.ConvertDType(graph.LogicalOr(beats, ties), dtypes.Float32)
		rank := graph.ReduceSum(ahead, -1) // [..., n]: experts ranked above i
		keep = graph.LessThan(rank, graph.FillScalar(g, rank.Shape(), float64(k)))
	}
	if keep == nil {
		mask = graph.OnesLike(logits)
	} else {
		mask = graph.ConvertDType(keep, logits.DType())
	}
	switch kind {
	case Sigmoid:
		gates = graph.Mul(graph.Sigmoid(logits), mask)
	default:
		if keep == nil {
			gates = graph.Softmax(logits, -1)
		} else {
			masked := graph.Where(keep, logits, graph.FillScalar(g, logits.Shape(), -1e30))
			gates = graph.Softmax(masked, -1)
		}
	}
	return gates, mask
}

func ones(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

// balanceLoss is the Mixtral/Switch load-balancing loss averaged over the recorded modules:
// n·Σ_e f_e·P_e, with f_e the fraction of tokens whose top-k holds e (divided by k, so Σ f = 1) and
// P_e the mean softmax probability of e over all n logits. f carries no gradient (top-k is not
// differentiable); P does. Balanced routing gives 1.
func balanceLoss(recs []routing, k int) *graph.Node {
	var total *graph.Node
	for _, r := range recs {
		n := r.logits.Shape().Dimensions[r.logits.Rank()-1]
		kk := float64(min(k, n))
		axes := make([]int, r.logits.Rank()-1)
		for i := range axes {
			axes[i] = i
		}
		f := graph.DivScalar(graph.ReduceMean(graph.StopGradient(r.mask), axes...), kk) // [n]
		P := graph.ReduceMean(graph.Softmax(r.logits, -1), axes...)                     // [n]
		l := graph.MulScalar(graph.ReduceAllSum(graph.Mul(f, P)), float64(n))
		if total == nil {
			total = l
		} else {
			total = graph.Add(total, l)
		}
	}
	return graph.DivScalar(total, float64(len(recs)))
}

// Gates runs m (to which mix must be attached) on seqs and returns, for every module, the gate
// values of every token: [len(seqs)][len(seq)][n] — what multiplies each expert's delta.
func (mix *Mixture) Gates(m *model.Model, seqs [][]int) (map[lora.Module][][][]float32, error) {
	if mix.Uniform {
		return nil, ErrNoRouter
	}
	if m.Adapter() != model.Adapter(mix) {
		return nil, errors.New("moe: Gates: the mixture is not attached to the model")
	}
	for i, s := range seqs {
		for j, id := range s {
			if id < 0 || id >= m.Config.VocabSize {
				return nil, fmt.Errorf("moe: Gates: sequence %d position %d: token %d outside the vocabulary [0, %d)", i, j, id, m.Config.VocabSize)
			}
		}
	}
	tok, pos, B, T := model.PadBatch(seqs)
	names := m.ParamNames()
	var mods []lora.Module
	exec := graph.MustNewExec(m.Backend(), func(in []*graph.Node) []*graph.Node {
		p := model.BuildParams(names, in)
		var outs []*graph.Node
		mix.record = func(r routing) {
			mods = append(mods, r.module)
			outs = append(outs, r.gates)
		}
		defer func() { mix.record = nil }()
		model.Forward(m.Config, p, model.ForwardInput{Tokens: in[len(names)], Positions: in[len(names)+1], Hook: m.Hook(p)})
		return outs
	})
	defer exec.Finalize()
	args := make([]any, 0, len(names)+2)
	for _, t := range m.ParamTensors(names) {
		args = append(args, t)
	}
	args = append(args, tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T))
	out, err := exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("moe: Gates: %w", err)
	}
	n := len(mix.Experts)
	res := map[lora.Module][][][]float32{}
	for i, t := range out {
		flat, err := tensors.CopyFlatData[float32](t)
		t.FinalizeAll()
		if err != nil {
			return nil, err
		}
		g := make([][][]float32, len(seqs))
		for b, s := range seqs {
			g[b] = make([][]float32, len(s))
			for j := range s {
				off := (b*T + j) * n
				g[b][j] = flat[off : off+n : off+n]
			}
		}
		res[mods[i]] = g
	}
	return res, nil
}

var _ model.Adapter = (*Mixture)(nil)
