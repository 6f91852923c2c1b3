package cpubackend_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/stretchr/testify/require"

	_ "github.com/accrete/accrete/internal/cpubackend"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

var tinyConfig = model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
	NumKeyValueHeads: 2, VocabSize: 48}

func newBackend(t testing.TB, config string) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig(config)
	require.NoError(t, err)
	return b
}

// twin returns the same random tiny model on the stock backend and on ours.
func twin(t testing.TB, cfg model.Config, seed uint64) (stock, ours *model.Model) {
	t.Helper()
	w := model.RandomWeights(cfg, rand.New(rand.NewPCG(seed, 2)), 0.1, 0.1)
	stock, err := model.New(newBackend(t, "go:ops_sequential"), cfg, w.Clone())
	require.NoError(t, err)
	ours, err = model.New(newBackend(t, "accrete"), cfg, w.Clone())
	require.NoError(t, err)
	return stock, ours
}

// requireClose compares with a tolerance relative to the larger magnitude (absolute near zero).
func requireClose(t testing.TB, want, got []float32, tol float64, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got), what)
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if math.IsNaN(w) && math.IsNaN(g) || w == g {
			continue
		}
		d := math.Abs(w - g)
		require.LessOrEqualf(t, d, tol*math.Max(1, math.Max(math.Abs(w), math.Abs(g))),
			"%s[%d]: stock %g, accrete %g", what, i, w, g)
	}
}

func TestLogitsMatchStock(t *testing.T) {
	stock, ours := twin(t, tinyConfig, 1)
	seqs := [][]int{{1, 5, 6, 7, 8, 9}, {1, 9, 3}, {2}}
	want, err := stock.Logits(seqs)
	require.NoError(t, err)
	got, err := ours.Logits(seqs)
	require.NoError(t, err)
	for i := range want {
		for j := range want[i] {
			requireClose(t, want[i][j], got[i][j], 1e-4, "logits")
		}
	}
}

func TestGenerateMatchesStock(t *testing.T) {
	stock, ours := twin(t, tinyConfig, 3)
	prompts := [][]int{{1, 5, 6}, {1, 9}, {1, 7, 7, 7, 2, 11}}
	opt := model.GenerateOptions{MaxNewTokens: 12, StopTokens: []int{}}
	want, err := stock.Generate(context.Background(), prompts, opt)
	require.NoError(t, err)
	got, err := ours.Generate(context.Background(), prompts, opt)
	require.NoError(t, err)
	require.Equal(t, want, got)
	// Sampling with a seed draws from the logits: the same tokens only if the logits agree closely.
	opt.Temperature, opt.Seed = 1, 7
	want, err = stock.Generate(context.Background(), prompts, opt)
	require.NoError(t, err)
	got, err = ours.Generate(context.Background(), prompts, opt)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func trainData(n int, seed uint64) []lora.Sequence {
	rng := rand.New(rand.NewPCG(seed, 3))
	var out []lora.Sequence
	for range n {
		toks := []int{1}
		for range 3 + rng.IntN(6) {
			toks = append(toks, 3+rng.IntN(tinyConfig.VocabSize-3))
		}
		out = append(out, lora.Sequence{Tokens: toks, PromptLen: 2})
	}
	return out
}

func TestTrainStepMatchesStock(t *testing.T) {
	for _, mode := range []string{"fft", "lora"} {
		t.Run(mode, func(t *testing.T) {
			stock, ours := twin(t, tinyConfig, 5)
			data := trainData(8, 4)
			cfg := lora.TrainConfig{LearningRate: 1e-2, MaxSteps: 2, BatchSize: 4, Seed: 9}
			var results []lora.Result
			var weights []map[string][]float32
			for _, m := range []*model.Model{stock, ours} {
				var trainable []string
				host := m.Weights
				if mode == "lora" {
					a, err := lora.NewAdapter("t", m.Config, lora.Config{Rank: 4, Seed: 1, Dropout: 0.1})
					require.NoError(t, err)
					m.SetAdapter(a)
					host = model.Weights(a.Tensors())
					for n := range a.Tensors() {
						trainable = append(trainable, n)
					}
				} else {
					for n := range m.Weights {
						trainable = append(trainable, n)
					}
				}
				slices.Sort(trainable)
				res, err := lora.Train(context.Background(), m, trainable, data, cfg)
				require.NoError(t, err)
				results = append(results, res)
				w := map[string][]float32{}
				for _, n := range trainable {
					w[n] = slices.Clone(host[n].Data)
				}
				weights = append(weights, w)
			}
			require.Equal(t, results[0].Steps, results[1].Steps)
			require.InDelta(t, results[0].Loss, results[1].Loss, 1e-4*math.Max(1, results[0].Loss))
			// AdamW divides each gradient by its running RMS, so an element whose gradient is near
			// zero moves by up to the learning rate whatever its size: summation-order differences
			// in such gradients (the backends' reductions associate differently) show up amplified.
			// 1e-3 is 5% of the most two steps at lr 1e-2 can move a weight.
			for n, w := range weights[0] {
				requireClose(t, w, weights[1][n], 1e-3, n)
			}
		})
	}
}
