package model

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

var testConfigs = map[string]Config{
	"gqa-untied": {HiddenSize: 32, IntermediateSize: 48, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 40},
	"mha-tied":   {HiddenSize: 24, IntermediateSize: 40, NumHiddenLayers: 2, NumAttentionHeads: 3, VocabSize: 30, TieWordEmbeddings: true},
	"llama3-rope": {HiddenSize: 32, IntermediateSize: 48, NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 1, HeadDim: 32, VocabSize: 20,
		RopeTheta: 500000, RopeScaling: &RopeScaling{RopeType: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8}},
}

func newTestModel(t testing.TB, cfg Config, seed uint64) *Model {
	t.Helper()
	b, err := Backend()
	require.NoError(t, err)
	w := RandomWeights(cfg, rand.New(rand.NewPCG(seed, 1)), 0.2, 0.1)
	m, err := New(b, cfg, w)
	require.NoError(t, err)
	return m
}

func TestForwardMatchesFloat64Reference(t *testing.T) {
	for name, cfg := range testConfigs {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, cfg, 7)
			rng := rand.New(rand.NewPCG(3, 4))
			seqs := [][]int{make([]int, 11), make([]int, 5)}
			for _, s := range seqs {
				for i := range s {
					s[i] = rng.IntN(cfg.VocabSize)
				}
			}
			got, err := m.Logits(seqs)
			require.NoError(t, err)
			for b, s := range seqs {
				want := refForward(m.Config, m.Weights, s)
				maxDiff := 0.0
				for tt := range s {
					for v := range want[tt] {
						maxDiff = max(maxDiff, math.Abs(float64(got[b][tt][v])-want[tt][v]))
					}
				}
				require.Less(t, maxDiff, 1e-4, "sequence %d", b)
				t.Logf("sequence %d: max |logit diff| = %.3g", b, maxDiff)
			}
		})
	}
}

func TestGenerateKVCacheMatchesFullForward(t *testing.T) {
	for name, cfg := range testConfigs {
		t.Run(name, func(t *testing.T) {
			m := newTestModel(t, cfg, 11)
			prompts := [][]int{{1, 2, 3, 4, 5, 6, 7, 8, 9}, {3}, {5, 4, 3, 2}}
			const n = 12
			got, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: n, StopTokens: []int{}})
			require.NoError(t, err)
			for b, p := range prompts {
				seq := append([]int(nil), p...)
				for range n {
					lg := refForward(m.Config, m.Weights, seq)
					last := lg[len(lg)-1]
					best := 0
					for v := range last {
						if last[v] > last[best] {
							best = v
						}
					}
					seq = append(seq, best)
				}
				require.Equal(t, seq[len(p):], got[b], "prompt %d", b)
			}
		})
	}
}
