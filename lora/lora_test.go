package lora

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

var tinyConfig = testmodel.Config(48)

// tinyFacts: prompt [1, x, y] → answer [a, b, 2]; every fact is distinct.
func tinyFacts(n int, seed uint64) []Sequence {
	rng := rand.New(rand.NewPCG(seed, 3))
	seen := map[[2]int]bool{}
	var out []Sequence
	for len(out) < n {
		k := [2]int{3 + rng.IntN(20), 3 + rng.IntN(20)}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, Sequence{Tokens: []int{1, k[0], k[1], 23 + rng.IntN(24), 23 + rng.IntN(24), 2}, PromptLen: 3})
	}
	return out
}

func exactMatch(t testing.TB, m *model.Model, facts []Sequence) float64 {
	t.Helper()
	var prompts [][]int
	for _, f := range facts {
		prompts = append(prompts, f.Tokens[:f.PromptLen])
	}
	gen, err := m.Generate(context.Background(), prompts, model.GenerateOptions{MaxNewTokens: 4, StopTokens: []int{2}})
	require.NoError(t, err)
	ok := 0
	for i, f := range facts {
		if slices.Equal(gen[i], f.Tokens[f.PromptLen:len(f.Tokens)-1]) {
			ok++
		}
	}
	return float64(ok) / float64(len(facts))
}

func TestZeroBLeavesLogitsUnchanged(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	seqs := [][]int{{1, 5, 6, 7}, {1, 9}}
	base, err := m.Logits(seqs)
	require.NoError(t, err)
	a, err := NewAdapter("t", m.Config, Config{Rank: 4, Seed: 3})
	require.NoError(t, err)
	m.SetAdapter(a)
	with, err := m.Logits(seqs)
	require.NoError(t, err)
	require.Equal(t, base, with)
}

func TestLoRAAndFFTLearnTinyFacts(t *testing.T) {
	facts := tinyFacts(24, 5)
	for _, mode := range []string{"lora", "fft"} {
		t.Run(mode, func(t *testing.T) {
			m := testmodel.Tiny(t, tinyConfig, 2)
			before := m.Weights.Clone()
			var trainable []string
			cfg := TrainConfig{LearningRate: 1e-2, Epochs: 60, BatchSize: 8, Seed: 1, TargetLoss: 0.01}
			if mode == "lora" {
				a, err := NewAdapter("t", m.Config, Config{Rank: 8, Seed: 1})
				require.NoError(t, err)
				m.SetAdapter(a)
				for n := range a.Tensors() {
					trainable = append(trainable, n)
				}
				slices.Sort(trainable)
			} else {
				cfg.LearningRate = 3e-3
				for n := range m.Weights {
					trainable = append(trainable, n)
				}
				slices.Sort(trainable)
			}
			res, err := Train(context.Background(), m, trainable, facts, cfg)
			require.NoError(t, err)
			t.Logf("%s: %d steps, loss %.4f, epochs %v", mode, res.Steps, res.Loss, res.EpochLoss)
			em := exactMatch(t, m, facts)
			require.Greater(t, em, 0.95)
			changed := 0
			for n, w := range m.Weights {
				if !slices.Equal(w.Data, before[n].Data) {
					changed++
				}
			}
			if mode == "lora" {
				require.Zero(t, changed, "LoRA must leave every base tensor bit-identical")
			} else {
				require.Equal(t, len(m.Weights), changed, "FFT trains every weight")
			}
		})
	}
}

func TestFoldMatchesUnfolded(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 3)
	a, err := NewAdapter("t", m.Config, Config{Rank: 4, Seed: 9})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, b := range a.B {
		for i := range b.Data {
			b.Data[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	m.SetAdapter(a)
	seqs := [][]int{{1, 5, 6, 7, 8, 9}}
	want, err := m.Logits(seqs)
	require.NoError(t, err)
	m.SetAdapter(nil)
	require.NoError(t, a.Fold(m.Weights))
	m.UpdateWeights()
	got, err := m.Logits(seqs)
	require.NoError(t, err)
	maxDiff := 0.0
	for i := range got[0] {
		for j := range got[0][i] {
			maxDiff = max(maxDiff, math.Abs(float64(got[0][i][j]-want[0][i][j])))
		}
	}
	require.Less(t, maxDiff, 1e-4)
}

func TestRankBoundedByModule(t *testing.T) {
	cfg := testmodel.Config(64) // hidden 32, MLP 64
	_, err := NewAdapter("big", cfg, Config{Rank: 33})
	require.ErrorContains(t, err, `lora: adapter "big": Rank 33 is above min(in, out) = min(32, 32) of module q_proj`)
	_, err = NewAdapter("ok", cfg, Config{Rank: 16})
	require.NoError(t, err)
	_, err = NewAdapter("huge", model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 1_000_000_000,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 64}, Config{Rank: 8})
	require.ErrorContains(t, err, "num_hidden_layers 1000000000 is above")
}

// TestTrainRefusesOverlongExamples: an example longer than the model's context is refused with its
// index and length before anything is allocated for it (a 1 MB prompt once ran a study out of memory).
func TestTrainRefusesOverlongExamples(t *testing.T) {
	cfg := testmodel.Config(48)
	cfg.MaxPositionEmbeddings = 16
	m := testmodel.Tiny(t, cfg, 1)
	long := make([]int, 17)
	_, err := Train(context.Background(), m, []string{"model.norm.weight"},
		[]Sequence{{Tokens: []int{1, 2, 3}, PromptLen: 1}, {Tokens: long, PromptLen: 1}}, TrainConfig{MaxSteps: 1})
	require.ErrorContains(t, err, "example 1 has 17 tokens, more than the model's max_position_embeddings 16")
	_, err = Train(context.Background(), m, []string{"model.norm.weight"},
		[]Sequence{{Tokens: []int{1, 2, 3}, PromptLen: 1}, {Tokens: []int{4, 5, 6}, PromptLen: 1}}, TrainConfig{MaxSteps: 1})
	require.NoError(t, err)
}
