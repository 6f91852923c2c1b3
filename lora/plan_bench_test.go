package lora

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/peakmem"
	"github.com/accrete/accrete/model"
)

// planShapes are the cases on which the memory plan is checked against the measured peak RSS: the
// stories15M, SmolLM2-135M and TinyLlama-1.1B shapes of the PyTorch reference's bench.
var planShapes = []struct {
	name   string
	cfg    model.Config
	method Method
	B, T   int
}{
	{"s15m-lora-b8", benchShapes[1].cfg, MethodLoRA, 8, 256},
	{"s15m-fft-b8", benchShapes[1].cfg, MethodFFT, 8, 256},
	{"smol-lora-b4", smolConfig, MethodLoRA, 4, 128},
	{"smol-fft-b4", smolConfig, MethodFFT, 4, 128},
	{"smol-lora-b16-micro4", smolConfig, MethodLoRA, 16, 128}, // MicroBatchSize 4
	{"tl1b-lora-b1", tinyLlamaConfig, MethodLoRA, 1, 128},
}

var (
	smolConfig = model.Config{HiddenSize: 576, IntermediateSize: 1536, NumHiddenLayers: 30, NumAttentionHeads: 9,
		NumKeyValueHeads: 3, VocabSize: 49152, TieWordEmbeddings: true}
	tinyLlamaConfig = model.Config{HiddenSize: 2048, IntermediateSize: 5632, NumHiddenLayers: 22, NumAttentionHeads: 32,
		NumKeyValueHeads: 4, VocabSize: 32000}
)

// BenchmarkPlanVsPeakRSS trains 3 steps of each planShapes case (rank-8 LoRA on all seven modules, or
// FFT) and reports the memory plan's total, the measured peak RSS of the process (MB) and their
// ratio; it fails when the plan is off by more than 25%. Run every case in its own process, with
// nothing else resident (scripts/plan-rss.sh does). The peak includes the model's weights, created
// before the measurement starts, as the plan does.
func BenchmarkPlanVsPeakRSS(b *testing.B) {
	for _, sh := range planShapes {
		b.Run(sh.name, func(b *testing.B) {
			be, err := model.Backend()
			require.NoError(b, err)
			rng := rand.New(rand.NewPCG(1, 1))
			m, err := model.New(be, sh.cfg, model.RandomWeights(sh.cfg, rng, 0.02, 0))
			require.NoError(b, err)
			const steps = 3
			trainable, data := benchRun(b, m, string(sh.method), steps*sh.B, sh.T, rng)
			cfg := TrainConfig{LearningRate: 1e-4, BatchSize: sh.B, MaxSteps: steps, MemoryBudget: -1}
			if sh.name == "smol-lora-b16-micro4" {
				cfg.MicroBatchSize = 4
			}
			host := map[string]*model.Tensor{}
			for _, n := range trainable {
				if t, ok := m.Weights[n]; ok {
					host[n] = t
				} else {
					host[n] = m.Adapter().Tensors()[n]
				}
			}
			plan := trainPlan(m, host, data, cfg.withDefaults())
			b.ResetTimer()
			for range b.N {
				mem := peakmem.Start()
				_, err := Train(context.Background(), m, trainable, data, cfg)
				require.NoError(b, err)
				_, rssMB := mem.Done()
				planMB := float64(plan.Total()) / 1e6
				b.ReportMetric(planMB, "plan-MB")
				if rssMB == 0 {
					b.Skip("peak RSS cannot be reset here (/proc/self/clear_refs)")
				}
				b.ReportMetric(rssMB, "peak-RSS-MB")
				b.ReportMetric(planMB/rssMB, "plan/RSS")
				b.Logf("%s\nmeasured peak RSS %.0f MB", plan, rssMB)
				if math.Abs(planMB/rssMB-1) > 0.25 {
					b.Errorf("plan %.0f MB is off the measured peak RSS %.0f MB by more than 25%%", planMB, rssMB)
				}
			}
		})
	}
}
