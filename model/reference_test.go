package model

import (
	"fmt"
	"math"
)

// refForward is an independent, plain-Go float64 Llama forward pass (Hugging Face semantics:
// rotate-half RoPE, GQA by repeating KV heads, RMSNorm, SwiGLU) used only to check the GoMLX graph.
// It returns logits [T][V] for one sequence.
func refForward(cfg Config, w Weights, tokens []int) [][]float64 {
	cfg = cfg.WithDefaults()
	D, H, KV, hd, I, V := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim, cfg.IntermediateSize, cfg.VocabSize
	T := len(tokens)
	get := func(name string) []float64 {
		t := w[name]
		out := make([]float64, len(t.Data))
		for i, v := range t.Data {
			out[i] = float64(v)
		}
		return out
	}
	lin := func(x []float64, wt []float64, out, in int) []float64 {
		y := make([]float64, out)
		for o := range out {
			s := 0.0
			for i := range in {
				s += wt[o*in+i] * x[i]
			}
			y[o] = s
		}
		return y
	}
	norm := func(x, g []float64) []float64 {
		ss := 0.0
		for _, v := range x {
			ss += v * v
		}
		r := 1 / math.Sqrt(ss/float64(len(x))+cfg.RMSNormEps)
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] * r * g[i]
		}
		return y
	}
	inv := invFreq(cfg)
	rope := func(v []float64, pos int) {
		h := hd / 2
		for i := range h {
			// transformers computes the angle in float32
			ang := float64(float32(pos) * float32(inv[i]))
			c, s := math.Cos(ang), math.Sin(ang)
			a, b := v[i], v[i+h]
			v[i], v[i+h] = a*c-b*s, b*c+a*s
		}
	}
	emb := get("model.embed_tokens.weight")
	x := make([][]float64, T)
	for t, id := range tokens {
		x[t] = append([]float64(nil), emb[id*D:(id+1)*D]...)
	}
	for l := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("model.layers.%d.", l)
		wq, wk, wv, wo := get(p+"self_attn.q_proj.weight"), get(p+"self_attn.k_proj.weight"), get(p+"self_attn.v_proj.weight"), get(p+"self_attn.o_proj.weight")
		ks := make([][]float64, T)
		vs := make([][]float64, T)
		qs := make([][]float64, T)
		for t := range T {
			h := norm(x[t], get(p+"input_layernorm.weight"))
			qs[t], ks[t], vs[t] = lin(h, wq, H*hd, D), lin(h, wk, KV*hd, D), lin(h, wv, KV*hd, D)
			for hh := range H {
				rope(qs[t][hh*hd:(hh+1)*hd], t)
			}
			for hh := range KV {
				rope(ks[t][hh*hd:(hh+1)*hd], t)
			}
		}
		for t := range T {
			att := make([]float64, H*hd)
			for hh := range H {
				kh := hh / (H / KV)
				sc := make([]float64, t+1)
				mx := math.Inf(-1)
				for s := 0; s <= t; s++ {
					d := 0.0
					for i := range hd {
						d += qs[t][hh*hd+i] * ks[s][kh*hd+i]
					}
					sc[s] = d / math.Sqrt(float64(hd))
					mx = max(mx, sc[s])
				}
				z := 0.0
				for s := range sc {
					sc[s] = math.Exp(sc[s] - mx)
					z += sc[s]
				}
				for s := range sc {
					for i := range hd {
						att[hh*hd+i] += sc[s] / z * vs[s][kh*hd+i]
					}
				}
			}
			o := lin(att, wo, D, H*hd)
			for i := range D {
				x[t][i] += o[i]
			}
		}
		wg, wu, wd := get(p+"mlp.gate_proj.weight"), get(p+"mlp.up_proj.weight"), get(p+"mlp.down_proj.weight")
		for t := range T {
			h := norm(x[t], get(p+"post_attention_layernorm.weight"))
			g, u := lin(h, wg, I, D), lin(h, wu, I, D)
			for i := range g {
				g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
			}
			d := lin(g, wd, D, I)
			for i := range D {
				x[t][i] += d[i]
			}
		}
	}
	head := "lm_head.weight"
	if cfg.TieWordEmbeddings {
		head = "model.embed_tokens.weight"
	}
	wh := get(head)
	out := make([][]float64, T)
	for t := range T {
		out[t] = lin(norm(x[t], get("model.norm.weight")), wh, V, D)
	}
	return out
}
