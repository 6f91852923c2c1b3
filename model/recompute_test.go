package model

import (
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecomputedGradientsMatchPlain checks activation recomputation against the plain backward pass:
// the same loss and, for every weight of tied and untied models with grouped-query attention (the
// embedding, norms, every layer's linear weights, the LM head), the same gradient to float rounding.
func TestRecomputedGradientsMatchPlain(t *testing.T) {
	b, err := Backend()
	require.NoError(t, err)
	for name, cfg := range testConfigs {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, cfg, 11)
			names := m.ParamNames()
			seqs := [][]int{{1, 2, 3, 4, 5, 6}, {7, 3, 1}}
			tokFlat, posFlat, T := PadBatchTo(seqs, len(seqs))
			toks := tensors.FromFlatDataAndDimensions(tokFlat, len(seqs), T)
			pos := tensors.FromFlatDataAndDimensions(posFlat, len(seqs), T)
			targets := make([][]int32, len(seqs))
			for i := range targets {
				targets[i] = make([]int32, T)
				for j := range targets[i] {
					targets[i][j] = int32((i + 3*j) % cfg.VocabSize)
				}
			}
			build := func(recompute bool) func(in []*Node) []*Node {
				return func(in []*Node) []*Node {
					k := len(names)
					p := BuildParams(names, in)
					fin := ForwardInput{Tokens: in[k], Positions: in[k+1]}
					lossFn := func(h *Node) *Node {
						return MaskedCrossEntropy(Logits(m.Config, p, h), in[k+2], OnesLike(ConvertDType(in[k+2], h.DType())))
					}
					wrt := in[:k]
					if recompute {
						loss, grads := RecomputedGradients(m.Config, p, fin, lossFn, wrt, names)
						return append([]*Node{loss}, grads...)
					}
					h, _ := Forward(m.Config, p, fin)
					loss := lossFn(h)
					return append([]*Node{loss}, Gradient(loss, wrt...)...)
				}
			}
			run := func(recompute bool) [][]float32 {
				e := MustNewExec(b, build(recompute))
				defer e.Finalize()
				args := []any{}
				for _, t := range m.ParamTensors(names) {
					args = append(args, t)
				}
				args = append(args, toks, pos, tensors.FromValue(targets))
				out, err := e.Exec(args...)
				require.NoError(t, err)
				vals := make([][]float32, len(out))
				for i, o := range out {
					vals[i], err = tensors.CopyFlatData[float32](o)
					require.NoError(t, err)
				}
				return vals
			}
			plain, recomputed := run(false), run(true)
			require.Len(t, recomputed, len(plain))
			require.InDelta(t, plain[0][0], recomputed[0][0], 1e-6, "loss")
			for i := 1; i < len(plain); i++ {
				scale := 0.0
				for _, v := range plain[i] {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				require.Greater(t, scale, 0.0, "%s: zero gradient proves nothing", names[i-1])
				bad := 0
				for j := range plain[i] {
					if math.Abs(float64(plain[i][j]-recomputed[i][j])) > 1e-5*(1+scale) {
						bad++
					}
				}
				assert.Zero(t, bad, "%s: %d of %d values differ", names[i-1], bad, len(plain[i]))
			}
			require.True(t, slices.IsSorted(names))
		})
	}
}

func TestLayerOfName(t *testing.T) {
	for name, want := range map[string]int{
		"model.layers.0.self_attn.q_proj.weight":      0,
		"model.layers.11.mlp.down_proj.weight":        11,
		"task/model.layers.3.self_attn.v_proj.lora_A": 3,
		"model.embed_tokens.weight":                   -1,
		"model.norm.weight":                           -1,
		"lm_head.weight":                              -1,
		"model.layers.40.mlp.up_proj.weight":          -1, // beyond the model's 12 layers
		"model.layers.x.mlp.up_proj.weight":           -1,
	} {
		require.Equal(t, want, layerOfName(name, 12), name)
	}
}
