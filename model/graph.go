package model

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Params holds the graph node of every tensor by name: the base weights under their Hugging Face
// names, and any adapter tensors under the adapter's own names.
type Params map[string]*Node

// Hook lets an adapter add its delta to the output of a linear layer. x is the layer's input
// [..., in]; the result must be [..., out] (the module's output shape), or nil for no change.
// module is one of Modules.
type Hook func(layer int, module string, x *Node) *Node

// KVCache is one layer's key/value cache inside a graph: K and V are [B, numKVHeads, L, headDim],
// head-major so that each head's cached keys and values are one contiguous block that a decode
// step's attention streams through.
type KVCache struct{ K, V *Node }

// ForwardInput describes one forward pass.
//
// Tokens are int32 [B, T]. Positions are int32 [B, T]: the absolute position of each token, or −1 for
// padding, which no query attends to. Without a cache, a token attends to the tokens of its own row
// whose positions are ≥ 0 and ≤ its own. With a cache, the new keys and values are written into slots
// [Start, Start+T) of each layer's cache and a token attends to the cache slots whose CachePositions
// (int32 [B, L], already including this step's tokens) are ≥ 0 and ≤ its own position.
//
// PadBatch and PadBatchTo lay out token sequences as Tokens and Positions want them.
type ForwardInput struct {
	Tokens, Positions *Node
	Hook              Hook

	Cache          []KVCache // nil: no cache
	CachePositions *Node     // int32 [B, L]
	Start          *Node     // int32 scalar: first cache slot written
}

// Forward builds the decoder and returns the final hidden states [B, T, hidden] after the last norm,
// and the updated caches when in.Cache is set. It panics with the shapes on a shape error.
func Forward(cfg Config, p Params, in ForwardInput) (hidden *Node, caches []KVCache) {
	x, d := newDecoder(cfg, p, in)
	for l := range d.cfg.NumHiddenLayers {
		x = d.layer(p, l, x)
	}
	return d.finalNorm(p, x), d.caches
}

// decoder holds what every layer of one forward pass shares: the RoPE tables, the attention bias,
// the cache bookkeeping, and the caches the layers write.
type decoder struct {
	cfg               Config
	in                ForwardInput
	B, T              int
	cos, sin, rot     *Node
	bias              *Node
	writeMask, onehot *Node
	updateAt          []*Node
	caches            []KVCache
}

// newDecoder checks in, embeds the tokens (x [B, T, D]) and builds the per-pass tensors.
func newDecoder(cfg Config, p Params, in ForwardInput) (x *Node, d *decoder) {
	cfg = cfg.WithDefaults()
	g := in.Tokens.Graph()
	tokShape := in.Tokens.Shape()
	if tokShape.Rank() != 2 || !in.Positions.Shape().Equal(tokShape) {
		panic(fmt.Sprintf("model.Forward: tokens %s and positions %s must both be [B, T]", tokShape, in.Positions.Shape()))
	}
	d = &decoder{cfg: cfg, in: in}
	B, T := tokShape.Dimensions[0], tokShape.Dimensions[1]
	d.B, d.T = B, T
	tok := in.Tokens
	if tok.DType() != dtypes.Int32 {
		tok = ConvertDType(tok, dtypes.Int32)
	}
	x = Gather(param(p, "model.embed_tokens.weight"), InsertAxes(tok, -1)) // [B, T, D]

	pos := in.Positions
	if pos.DType() != dtypes.Int32 {
		pos = ConvertDType(pos, dtypes.Int32)
	}
	d.cos, d.sin = ropeTables(cfg, pos) // [B, T, 1, hd]
	d.rot = rotateHalfMatrix(g, cfg.HeadDim)

	// Attention mask [B, 1, 1, T, S]: key allowed when keyPos ≥ 0 and keyPos ≤ queryPos.
	keyPos := pos
	if in.Cache != nil {
		keyPos = in.CachePositions
		if keyPos.DType() != dtypes.Int32 {
			keyPos = ConvertDType(keyPos, dtypes.Int32)
		}
	}
	S := keyPos.Shape().Dimensions[1]
	q4 := Reshape(pos, B, T, 1)
	k4 := Reshape(keyPos, B, 1, S)
	allowed := And(GreaterOrEqual(k4, ZerosLike(k4)), LessOrEqual(k4, q4)) // [B, T, S]
	bias := Where(allowed, Zeros(g, shapes.Make(dtypes.Float32, B, T, S)),
		BroadcastToDims(Const(g, float32(-1e9)), B, T, S))
	d.bias = Reshape(bias, B, 1, 1, T, S)

	if in.Cache != nil {
		if len(in.Cache) != cfg.NumHiddenLayers {
			panic(fmt.Sprintf("model.Forward: %d caches for %d layers", len(in.Cache), cfg.NumHiddenLayers))
		}
		start := ConvertDType(in.Start, dtypes.Int32)
		d.caches = make([]KVCache, cfg.NumHiddenLayers)
		if g.Backend().Capabilities().Operations[backends.OpTypeDynamicUpdateSlice] {
			zero := ScalarZero(g, dtypes.Int32)
			d.updateAt = []*Node{zero, zero, start, zero}
		} else { // onehot[t, s] = 1 where slot s = Start + t
			slot := Add(Iota(g, shapes.Make(dtypes.Int32, T, S), 0), BroadcastToDims(start, T, S))
			sIdx := Iota(g, shapes.Make(dtypes.Int32, T, S), 1)
			d.onehot = ConvertDType(Equal(slot, sIdx), dtypes.Float32) // [T, S]
			d.writeMask = Reshape(ReduceSum(d.onehot, 0), 1, 1, S, 1)  // [1, 1, S, 1]
		}
	}
	return x, d
}

// layer applies decoder layer l to x [B, T, D] (writing its cache when the pass has one).
func (d *decoder) layer(p Params, l int, x *Node) *Node {
	cfg, in, B, T := d.cfg, d.in, d.B, d.T
	H, KV, hd := cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim
	G := H / KV
	scale := float32(1 / math.Sqrt(float64(hd)))
	pre := fmt.Sprintf("model.layers.%d.", l)
	h := rmsNorm(x, param(p, pre+"input_layernorm.weight"), cfg.RMSNormEps)
	q := Reshape(linear(p, l, "q_proj", h, in.Hook), B, T, H, hd)
	k := Reshape(linear(p, l, "k_proj", h, in.Hook), B, T, KV, hd)
	v := Reshape(linear(p, l, "v_proj", h, in.Hook), B, T, KV, hd)
	q = applyRope(q, d.cos, d.sin, d.rot)
	k = applyRope(k, d.cos, d.sin, d.rot)
	// keys and values [B, T, KV, hd] without a cache, the updated cache [B, KV, L, hd] with one.
	kvAxes := "bskd"
	if in.Cache != nil {
		c := in.Cache[l]
		kh, vh := TransposeAllAxes(k, 0, 2, 1, 3), TransposeAllAxes(v, 0, 2, 1, 3) // [B, KV, T, hd]
		if d.updateAt != nil {                                                     // write slots [Start, Start+T) in place of the one-hot rewrite below
			k = DynamicUpdateSlice(c.K, kh, d.updateAt)
			v = DynamicUpdateSlice(c.V, vh, d.updateAt)
		} else {
			keep := OneMinus(d.writeMask)
			// new[b, k, s, d] = Σ_t onehot[t, s] · kh[b, k, t, d]
			k = Add(Mul(c.K, keep), Einsum("ts,bktd->bksd", d.onehot, kh))
			v = Add(Mul(c.V, keep), Einsum("ts,bktd->bksd", d.onehot, vh))
		}
		d.caches[l] = KVCache{K: k, V: v}
		kvAxes = "bksd"
	}
	qg := Reshape(q, B, T, KV, G, hd)
	scores := Einsum("btkgd,"+kvAxes+"->bkgts", qg, k) // [B, KV, G, T, S]
	scores = Add(MulScalar(scores, scale), d.bias)
	probs := Softmax(scores, -1)
	att := Einsum("bkgts,"+kvAxes+"->btkgd", probs, v) // [B, T, KV, G, hd]
	att = Reshape(att, B, T, H*hd)
	x = Add(x, linear(p, l, "o_proj", att, in.Hook))

	h = rmsNorm(x, param(p, pre+"post_attention_layernorm.weight"), cfg.RMSNormEps)
	gate := linear(p, l, "gate_proj", h, in.Hook)
	up := linear(p, l, "up_proj", h, in.Hook)
	act := Mul(Mul(gate, Logistic(gate)), up) // SiLU(gate)·up
	return Add(x, linear(p, l, "down_proj", act, in.Hook))
}

// finalNorm applies the last RMSNorm.
func (d *decoder) finalNorm(p Params, x *Node) *Node {
	return rmsNorm(x, param(p, "model.norm.weight"), d.cfg.RMSNormEps)
}

// Logits applies the LM head (lm_head.weight, or the embedding when tied) to hidden states [..., D].
func Logits(cfg Config, p Params, hidden *Node) *Node {
	name := "lm_head.weight"
	if cfg.TieWordEmbeddings {
		name = "model.embed_tokens.weight"
	}
	return matmulT(hidden, param(p, name))
}

// TokenLogProbs returns log p(targets) [B, T] from logits [B, T, V] and int targets [B, T].
// Targets outside [0, V) give 0 (use them for padding).
//
// It is logits[target] − logsumexp(logits), with the target's logit picked by a Gather rather than
// a [B, T, V] one-hot product and no [B, T, V] log-softmax kept: at a 32000-token vocabulary the
// V-wide passes dominate a training step's memory traffic, and this form needs four of them
// forward and three backward, against about twice as many for LogSoftmax·OneHot.
func TokenLogProbs(logits, targets *Node) *Node {
	dims := logits.Shape().Dimensions
	V := dims[len(dims)-1]
	N := logits.Shape().Size() / V
	g := logits.Graph()
	t := Reshape(ConvertDType(targets, dtypes.Int32), N)
	valid := And(GreaterOrEqual(t, ScalarZero(g, dtypes.Int32)), LessThan(t, Scalar(g, dtypes.Int32, V)))
	t = Where(valid, t, ZerosLike(t))
	rows := Reshape(logits, N, V)
	// (row, target) pairs: a flat row·V+target index would overflow int32 past 2³¹ logits.
	at := Concatenate([]*Node{Iota(g, shapes.Make(dtypes.Int32, N, 1), 0), Reshape(t, N, 1)}, 1)
	picked := Gather(rows, at)                             // [N]
	mx := StopGradient(ReduceAndKeep(rows, ReduceMax, -1)) // [N, 1]
	lse := Add(Log(ReduceSum(Exp(Sub(rows, mx)), -1)), Reshape(mx, N))
	lp := Where(valid, Sub(picked, lse), ZerosLike(lse))
	return Reshape(lp, dims[:len(dims)-1]...)
}

// MaskedCrossEntropy returns the mean of −log p(target) over the positions where mask (float [B, T])
// is non-zero, weighted by mask.
func MaskedCrossEntropy(logits, targets, mask *Node) *Node {
	lp := TokenLogProbs(logits, targets)
	m := ConvertDType(mask, lp.DType())
	total := ReduceAllSum(Mul(lp, m))
	count := Max(ReduceAllSum(m), OnesLike(total))
	return Neg(Div(total, count))
}

func param(p Params, name string) *Node {
	n, ok := p[name]
	if !ok {
		panic(fmt.Sprintf("model: graph parameter %q missing", name))
	}
	return n
}

// matmulT computes x·Wᵀ for x [..., in] and W [out, in] (Hugging Face layout).
func matmulT(x, w *Node) *Node {
	in := x.Shape().Dimensions[x.Rank()-1]
	if w.Rank() != 2 || w.Shape().Dimensions[1] != in {
		panic(fmt.Sprintf("model: linear input %s does not match weight %s ([out, in])", x.Shape(), w.Shape()))
	}
	return DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
}

func linear(p Params, layer int, module string, x *Node, hook Hook) *Node {
	y := matmulT(x, param(p, ModuleWeightName(layer, module)))
	if hook != nil {
		if d := hook(layer, module, x); d != nil {
			if !d.Shape().Equal(y.Shape()) {
				panic(fmt.Sprintf("model: hook for layer %d %s returned %s, want %s", layer, module, d.Shape(), y.Shape()))
			}
			y = Add(y, d)
		}
	}
	return y
}

// rmsNorm is x / sqrt(mean(x²) + eps) · w over the last axis (the division keeps it differentiable on
// GoMLX v0.26.0, whose Rsqrt has no gradient rule).
func rmsNorm(x, w *Node, eps float64) *Node {
	ms := ReduceAndKeep(Square(x), ReduceMean, -1)
	return Mul(Div(x, Sqrt(AddScalar(ms, eps))), expandLeft(w, x.Rank()))
}

// expandLeft reshapes x to rank r by adding leading axes of size 1 (GoMLX broadcasts only equal ranks).
func expandLeft(x *Node, r int) *Node {
	dims := make([]int, r-x.Rank(), r)
	for i := range dims {
		dims[i] = 1
	}
	return Reshape(x, append(dims, x.Shape().Dimensions...)...)
}

// ropeTables returns cos and sin [B, T, 1, hd] in Hugging Face's rotate-half layout
// (the hd/2 frequencies repeated twice), computed in float32 as transformers does.
func ropeTables(cfg Config, pos *Node) (cos, sin *Node) {
	g := pos.Graph()
	inv := invFreq(cfg)
	half := make([]float32, 2*len(inv))
	for i, f := range inv {
		half[i], half[i+len(inv)] = float32(f), float32(f)
	}
	dims := pos.Shape().Dimensions
	B, T := dims[0], dims[1]
	hd := len(half)
	freqs := Mul(Reshape(ConvertDType(pos, dtypes.Float32), B, T, 1, 1), Reshape(Const(g, half), 1, 1, 1, hd))
	return Cos(freqs), Sin(freqs)
}

// rotateHalfMatrix returns R [hd, hd] with x·R = rotate_half(x) = concat(−x[h:], x[:h]); a matmul by
// a signed permutation is exact and needs no Slice (whose gradient v0.26.0's pure-Go backend lacks).
func rotateHalfMatrix(g *Graph, hd int) *Node {
	h := hd / 2
	r := make([]float32, hd*hd)
	for j := range h {
		r[(j+h)*hd+j] = -1
		r[(j)*hd+j+h] = 1
	}
	return Reshape(Const(g, r), hd, hd)
}

func applyRope(x, cos, sin, rot *Node) *Node {
	rh := DotGeneral(x, []int{x.Rank() - 1}, nil, rot, []int{0}, nil)
	return Add(Mul(x, cos), Mul(rh, sin))
}

// invFreq returns RoPE's inverse frequencies θ^(−2i/hd), i < hd/2, with Llama 3 or linear scaling
// applied when cfg.RopeScaling asks for it (as transformers' _compute_llama3_parameters does).
func invFreq(cfg Config) []float64 {
	cfg = cfg.WithDefaults()
	hd := cfg.HeadDim
	inv := make([]float64, hd/2)
	for i := range inv {
		inv[i] = 1 / math.Pow(cfg.RopeTheta, float64(2*i)/float64(hd))
	}
	switch cfg.RopeScaling.Kind() {
	case "linear":
		for i := range inv {
			inv[i] /= cfg.RopeScaling.Factor
		}
	case "llama3":
		r := cfg.RopeScaling
		old := float64(r.OriginalMaxPositionEmbeddings)
		lowWave, highWave := old/r.LowFreqFactor, old/r.HighFreqFactor
		for i, f := range inv {
			wave := 2 * math.Pi / f
			switch {
			case wave < highWave:
			case wave > lowWave:
				inv[i] = f / r.Factor
			default:
				smooth := (old/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				inv[i] = (1-smooth)*f/r.Factor + smooth*f
			}
		}
	}
	return inv
}
