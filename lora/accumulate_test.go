package lora

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
)

// raggedData returns n examples of lengths 3 to 17 with prompts of 1 to 5 tokens, so that the
// micro-batches of a step hold different numbers of answer tokens and different padding.
func raggedData(n int, seed uint64) []Sequence {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([]Sequence, n)
	for i := range out {
		toks := make([]int, 3+rng.IntN(15))
		for j := range toks {
			toks[j] = 1 + rng.IntN(tinyConfig.VocabSize-1)
		}
		out[i] = Sequence{Tokens: toks, PromptLen: 1 + rng.IntN(min(5, len(toks)-1))}
	}
	return out
}

// TestTrainMicroBatchesEqualFullBatch checks that gradient accumulation reproduces the full batch's
// update: the loss is a mean over the step's answer tokens, so each micro-batch's gradient must be
// weighted by its share of them. Epsilon = 1 makes Adam's first steps proportional to the gradient
// (with the default 1e-8 they are lr·sign(g), blind to a wrong weighting).
func TestTrainMicroBatchesEqualFullBatch(t *testing.T) {
	data := raggedData(16, 1)
	for _, mode := range []string{"lora", "fft"} {
		for _, tc := range []struct {
			name string
			cfg  TrainConfig
		}{
			{"proportional", TrainConfig{LearningRate: 1e-2, Epsilon: 1, ClipNorm: -1}},
			{"clipped with decay", TrainConfig{LearningRate: 1e-2, Epsilon: 1, ClipNorm: 0.05, WeightDecay: 0.1}},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				run := func(micro int) (map[string][]float32, Result) {
					m := testmodel.Tiny(t, tinyConfig, 11)
					a, names := attachNew(t, m, Config{Rank: 4, Seed: 2})
					for _, b := range a.B {
						for i := range b.Data {
							b.Data[i] = 0.01 * float32(i%7-3)
						}
					}
					if mode == "fft" {
						m.SetAdapter(nil)
						names = slices.Sorted(maps.Keys(m.Weights))
					}
					cfg := tc.cfg
					cfg.BatchSize, cfg.MicroBatchSize, cfg.MaxSteps, cfg.Seed = 8, micro, 2, 4
					res, err := Train(context.Background(), m, names, data, cfg)
					require.NoError(t, err)
					require.Equal(t, 2, res.Steps)
					return snapshot(m, a), res
				}
				before := testmodel.Tiny(t, tinyConfig, 11).Weights
				full, fullRes := run(0)
				for _, micro := range []int{4, 3, 1} {
					got, res := run(micro)
					require.InDelta(t, fullRes.Loss, res.Loss, 1e-5, "micro %d: loss", micro)
					require.Equal(t, fullRes.Tokens, res.Tokens)
					var moved float64
					for n, w := range full {
						for i := range w {
							d := math.Abs(float64(w[i] - got[n][i]))
							require.LessOrEqual(t, d, 2e-6, "micro %d: %s[%d]: full %g, accumulated %g", micro, n, i, w[i], got[n][i])
						}
						if b, ok := before[n]; ok {
							for i := range w {
								moved = max(moved, math.Abs(float64(w[i]-b.Data[i])))
							}
						}
					}
					if mode == "fft" {
						require.Greater(t, moved, 1e-4, "the step changed the weights")
					}
				}
			})
		}
	}
}

func TestMicroBatchSizeDefaults(t *testing.T) {
	require.Equal(t, 8, TrainConfig{}.withDefaults().MicroBatchSize)
	require.Equal(t, 4, TrainConfig{BatchSize: 16, MicroBatchSize: 4}.withDefaults().MicroBatchSize)
	require.Equal(t, 2, TrainConfig{BatchSize: 2, MicroBatchSize: 4}.withDefaults().MicroBatchSize)
	require.ErrorContains(t, TrainConfig{MicroBatchSize: -1}.Validate(), "MicroBatchSize")
}
