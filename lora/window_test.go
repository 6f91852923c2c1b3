package lora

import (
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// TestAnswerWindowMatchesEveryPosition: the step graph, which runs the output head on each
// sequence's answer window only, gives the loss and the gradients of every weight that the head on
// every position gives under the same mask (the graph before the window), on ragged prompts and
// answers with padding rows.
func TestAnswerWindowMatchesEveryPosition(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 12)
	names := slices.Sorted(maps.Keys(m.Weights))
	data := raggedData(6, 4)
	for i := range data { // answers of 1 to 3 tokens after prompts of up to 16, or the whole sequence
		if i > 0 {
			data[i].PromptLen = max(1, len(data[i].Tokens)-1-i%3)
		}
	}
	data = append(data, Sequence{Tokens: data[0].Tokens, PromptLen: len(data[0].Tokens)}) // no answer token
	args, shape, ntok := batchArgs(data, 8)
	B, T, A := shape[0], shape[1], shape[2]
	require.Less(t, A, T, "the window is narrower than the sequence here")

	// The mask and targets over every position, as the graph before the window had them.
	tgt, mask := make([]int32, B*T), make([]float32, B*T)
	want := 0
	for b, ex := range data {
		for p := range len(ex.Tokens) - 1 {
			tgt[b*T+p] = int32(ex.Tokens[p+1])
			if p+1 >= ex.PromptLen {
				mask[b*T+p] = 1
				want++
			}
		}
	}
	require.Equal(t, want, ntok)

	sg := newStepGraph(m, names, nil)
	defer sg.close()
	loss, _, grads, err := sg.run(args, shape, 1, nil)
	require.NoError(t, err)
	defer finalize(grads)

	k := len(sg.names)
	ref := graph.MustNewExec(m.Backend(), func(in []*graph.Node) []*graph.Node {
		p := model.BuildParams(sg.names, in)
		h, _ := model.Forward(m.Config, p, model.ForwardInput{Tokens: in[k], Positions: in[k+1], Hook: m.Hook(p)})
		l := model.MaskedCrossEntropy(model.Logits(m.Config, p, h), in[k+2], in[k+3])
		wrt := make([]*graph.Node, len(sg.wrt))
		for i, j := range sg.wrt {
			wrt[i] = p[sg.names[j]]
		}
		return append([]*graph.Node{l}, graph.Gradient(l, wrt...)...)
	})
	defer ref.Finalize()
	var all []any
	for _, t := range m.ParamTensors(sg.names) {
		all = append(all, t)
	}
	all = append(all, args[0], args[1], tensors.FromFlatDataAndDimensions(tgt, B, T), tensors.FromFlatDataAndDimensions(mask, B, T))
	out, err := ref.Exec(all...)
	require.NoError(t, err)
	defer finalize(out)

	require.InDelta(t, scalar(out[0]), loss, 1e-6*math.Abs(loss))
	require.Len(t, grads, len(names))
	for i, g := range grads {
		r := out[1+i]
		tensors.ConstFlatData(r, func(rf []float32) {
			tensors.ConstFlatData(g, func(gf []float32) {
				big := float32(0)
				for _, v := range rf {
					big = max(big, float32(math.Abs(float64(v))))
				}
				require.Positive(t, big, "%s has a gradient", names[i])
				for j := range rf {
					require.InDelta(t, rf[j], gf[j], 1e-5*float64(big), "%s[%d]", names[i], j)
				}
			})
		})
	}
}
