package lora

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/peakmem"
	"github.com/accrete/accrete/model"
)

// benchShape is a training-step benchmark case, as in the PyTorch reference's bench
// (scripts/torchref/llama_ref.py): d128 and the stories15M shape.
type benchShape struct {
	name string
	cfg  model.Config
	B, T int
	slow bool // skipped under -short
}

var benchShapes = []benchShape{
	{name: "d128", B: 8, T: 64, cfg: model.Config{HiddenSize: 128, IntermediateSize: 344, NumHiddenLayers: 4,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 512}},
	{name: "s15m", B: 8, T: 256, slow: true, cfg: model.Config{HiddenSize: 288, IntermediateSize: 768, NumHiddenLayers: 6,
		NumAttentionHeads: 6, NumKeyValueHeads: 6, VocabSize: 32000, TieWordEmbeddings: true}},
}

// BenchmarkTrainStep times one optimizer step of full fine-tuning (fft) and of a rank-8 LoRA on all
// seven modules (lora) through Train. Each Train call builds its graph, so the step time is measured
// as (time of Train with N+1 steps − time with 1 step)/N, which leaves the graph building and the
// weight snapshot out; ns/op, which the testing package computes from the whole timed call, includes
// them. Metrics: ms/step, tokens/s (B·T per step), FFT-equivalent GFLOP/s (6·N·B·T per step,
// N = MatmulParams, for LoRA too), the peak Go heap and peak RSS (MB) of the timed Train call and, on
// the lora case, the LoRA/FFT step-time ratio.
func BenchmarkTrainStep(b *testing.B) {
	for _, sh := range benchShapes {
		var fftStep time.Duration
		for _, mode := range []string{"fft", "lora"} {
			b.Run(sh.name+"/"+mode, func(b *testing.B) {
				if sh.slow && testing.Short() {
					b.Skip("slow shape; run without -short")
				}
				step := benchTrainStep(b, sh, mode, LayoutAuto)
				tokens := float64(sh.B * sh.T)
				b.ReportMetric(float64(step.Microseconds())/1e3, "ms/step")
				b.ReportMetric(tokens/step.Seconds(), "tok/s")
				b.ReportMetric(6*float64(sh.cfg.MatmulParams())*tokens/step.Seconds()/1e9, "GFLOP/s")
				if mode == "fft" {
					fftStep = step
				} else if fftStep > 0 {
					b.ReportMetric(step.Seconds()/fftStep.Seconds(), "lora/fft")
				}
			})
		}
	}
}

// BenchmarkTrainLayout times the same steps as BenchmarkTrainStep with the trained tensors and AdamW
// on the host (LayoutHost, the CPU backends' default) and on the backend, updated in the graph
// (LayoutDevice, the default on XLA), on the backend GOMLX_BACKEND names: which is faster where.
func BenchmarkTrainLayout(b *testing.B) {
	for _, sh := range benchShapes {
		for _, mode := range []string{"fft", "lora"} {
			for _, layout := range []Layout{LayoutHost, LayoutDevice} {
				b.Run(sh.name+"/"+mode+"/"+string(layout), func(b *testing.B) {
					if sh.slow && testing.Short() {
						b.Skip("slow shape; run without -short")
					}
					step := benchTrainStep(b, sh, mode, layout)
					b.ReportMetric(float64(step.Microseconds())/1e3, "ms/step")
					b.ReportMetric(float64(sh.B*sh.T)/step.Seconds(), "tok/s")
				})
			}
		}
	}
}

func benchTrainStep(b *testing.B, sh benchShape, mode string, layout Layout) time.Duration {
	be, err := model.Backend()
	require.NoError(b, err)
	rng := rand.New(rand.NewPCG(1, 1))
	m, err := model.New(be, sh.cfg, model.RandomWeights(sh.cfg, rng, 0.02, 0))
	require.NoError(b, err)
	trainable, data := benchRun(b, m, mode, (b.N+1)*sh.B, sh.T, rng)
	cfg := TrainConfig{LearningRate: 1e-4, WeightDecay: 0.01, BatchSize: sh.B, Seed: 1, Layout: layout}
	run := func(steps int) time.Duration {
		cfg.MaxSteps = steps
		start := time.Now()
		res, err := Train(context.Background(), m, trainable, data[:steps*sh.B], cfg)
		d := time.Since(start)
		require.NoError(b, err)
		require.Equal(b, steps, res.Steps)
		return d
	}
	b.StopTimer()
	one := run(1)
	b.ReportAllocs()
	mem := peakmem.Start()
	b.StartTimer()
	all := run(b.N + 1)
	b.StopTimer()
	heapMB, rssMB := mem.Done()
	b.ReportMetric(heapMB, "peak-heap-MB")
	if rssMB > 0 {
		b.ReportMetric(rssMB, "peak-RSS-MB")
	}
	return max(all-one, time.Nanosecond) / time.Duration(b.N)
}

// benchRun attaches a rank-8 LoRA (mode "lora") or takes every weight (full fine-tuning) as the
// trained tensors, sorted, and draws n random sequences of T tokens (the first token the prompt).
func benchRun(b *testing.B, m *model.Model, mode string, n, T int, rng *rand.Rand) ([]string, []Sequence) {
	var trainable []string
	if mode == "lora" {
		a, err := NewAdapter("bench", m.Config, Config{Rank: 8, Alpha: 16, Seed: 1})
		require.NoError(b, err)
		m.SetAdapter(a)
		for n := range a.Tensors() {
			trainable = append(trainable, n)
		}
	} else {
		for n := range m.Weights {
			trainable = append(trainable, n)
		}
	}
	slices.Sort(trainable)
	data := make([]Sequence, n)
	for i := range data {
		toks := make([]int, T)
		for j := range toks {
			toks[j] = rng.IntN(m.Config.VocabSize)
		}
		data[i] = Sequence{Tokens: toks, PromptLen: 1}
	}
	return trainable, data
}
