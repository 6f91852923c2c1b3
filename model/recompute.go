package model

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// RecomputedGradients builds a training graph's loss and its gradients with respect to wrt, with the
// decoder's activations recomputed layer by layer in the backward pass (activation checkpointing).
//
// A plain Forward followed by Gradient keeps every layer's intermediate values (the norms, the
// queries, keys and values, the attention probabilities [B, H, T, T], the MLP's gate and up
// projections) from the forward pass until the backward pass reads them: at long sequences that is
// most of a step's memory. Here the forward pass keeps only each layer's input [B, T, D]; the
// backward pass, from the last layer down, recomputes one layer's forward from its input and takes
// that layer's gradients at once, so only one layer's intermediates are alive at a time. The price is
// a second forward pass: about a third more compute per step.
//
// lossFn maps the final hidden states [B, T, D] (after the last norm) to the scalar loss; it may read
// any node of p (the LM head). wrt are nodes among p's values (a float32 weight's graph input, or a
// bfloat16 weight's float32 widening that BuildParams makes, so that its gradient is float32) and
// names their names, which place each in a layer
// ("model.layers.N." or, for an adapter's tensors, a name containing it) or outside the layers (the
// embedding, the final norm, the LM head). in must have no cache, and in.Hook must compute the same
// values when called again for a layer (no dropout drawn from a state it advances).
//
// The gradients equal those of Gradient(lossFn(Forward(...)), wrt...) up to the order of float
// additions.
func RecomputedGradients(cfg Config, p Params, in ForwardInput, lossFn func(hidden *Node) *Node,
	wrt []*Node, names []string) (loss *Node, grads []*Node) {
	if in.Cache != nil {
		panic("model.RecomputedGradients: a forward pass with a KV cache has no backward pass")
	}
	if len(wrt) != len(names) {
		panic(fmt.Sprintf("model.RecomputedGradients: %d nodes and %d names", len(wrt), len(names)))
	}
	x, d := newDecoder(cfg, p, in)
	L := d.cfg.NumHiddenLayers
	byLayer := make([][]int, L) // indices into wrt of each layer's tensors
	var outside []int
	for i, n := range names {
		l := layerOfName(n, L)
		if l < 0 {
			outside = append(outside, i)
		} else {
			byLayer[l] = append(byLayer[l], i)
		}
	}
	// Forward: keep each layer's input, and nothing of its insides for the backward pass.
	inputs := make([]*Node, L+1)
	inputs[0] = x
	for l := range L {
		inputs[l+1] = d.layer(p, l, StopGradient(inputs[l]))
	}
	top := cut(inputs[L])
	loss = lossFn(d.finalNorm(p, top))

	grads = make([]*Node, len(wrt))
	add := func(i int, g *Node) {
		if grads[i] == nil {
			grads[i] = g
		} else {
			grads[i] = Add(grads[i], g)
		}
	}
	// The head: the loss's gradient with respect to the last layer's output and the tensors outside
	// the layers that the head reads.
	gs := Gradient(loss, append([]*Node{top}, pick(wrt, outside)...)...)
	g := gs[0]
	for k, i := range outside {
		add(i, gs[1+k])
	}
	// Each layer from the last: recompute it from its input, then its gradients.
	for l := L - 1; l >= 0; l-- {
		xin := cut(inputs[l])
		y := d.layer(p, l, xin)
		s := ReduceAllSum(Mul(y, StopGradient(g)))
		gs := Gradient(s, append([]*Node{xin}, pick(wrt, byLayer[l])...)...)
		g = gs[0]
		for k, i := range byLayer[l] {
			add(i, gs[1+k])
		}
	}
	// The embedding: its gradient flows from the first layer's input.
	if len(outside) > 0 {
		s := ReduceAllSum(Mul(x, StopGradient(g)))
		gs := Gradient(s, pick(wrt, outside)...)
		for k, i := range outside {
			add(i, gs[k])
		}
	}
	for i, gi := range grads {
		if gi == nil {
			grads[i] = ZerosLike(wrt[i])
		}
	}
	return loss, grads
}

// cut returns x as a node that gradients can be taken with respect to but do not flow through: GoMLX
// gives a zero gradient with respect to a StopGradient node itself, so the Identity above it is the
// node to differentiate by.
func cut(x *Node) *Node { return Identity(StopGradient(x)) }

func pick(nodes []*Node, idx []int) []*Node {
	out := make([]*Node, len(idx))
	for k, i := range idx {
		out[k] = nodes[i]
	}
	return out
}

// layerOfName returns the decoder layer a tensor name belongs to (it contains "model.layers.N."),
// or -1.
func layerOfName(name string, layers int) int {
	const prefix = "model.layers."
	for i := 0; i+len(prefix) < len(name); i++ {
		if name[i:i+len(prefix)] != prefix {
			continue
		}
		n, j := 0, i+len(prefix)
		for j < len(name) && name[j] >= '0' && name[j] <= '9' {
			n = 10*n + int(name[j]-'0')
			j++
		}
		if j > i+len(prefix) && j < len(name) && name[j] == '.' && n < layers {
			return n
		}
	}
	return -1
}
