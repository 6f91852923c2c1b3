package lora

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// TestTrainRecomputeMatches checks that training with activation recomputation gives the same losses
// and trained tensors as without it (to float rounding): LoRA with an extra loss and gradient
// accumulation, and full fine-tuning; and that it refuses adapter dropout.
func TestTrainRecomputeMatches(t *testing.T) {
	facts := tinyFacts(12, 5)
	extra := func(p model.Params) *graph.Node {
		var sum *graph.Node
		for n, x := range p {
			if len(n) > 6 && n[len(n)-6:] == "lora_A" {
				s := graph.ReduceAllSum(graph.Square(x))
				if sum == nil {
					sum = s
				} else {
					sum = graph.Add(sum, s)
				}
			}
		}
		return graph.MulScalar(sum, 1e-3)
	}
	for _, tc := range []struct {
		name string
		fft  bool
		cfg  TrainConfig
	}{
		{"lora, extra loss, micro-batches", false, TrainConfig{LearningRate: 1e-2, BatchSize: 4, MicroBatchSize: 2, Epochs: 2, Seed: 3, ExtraLoss: extra}},
		{"fft", true, TrainConfig{LearningRate: 1e-3, BatchSize: 4, Epochs: 2, Seed: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(recompute bool) (Result, map[string][]float32) {
				m := testmodel.Tiny(t, tinyConfig, 1)
				var names []string
				var a *Adapter
				if tc.fft {
					names = slices.Sorted(maps.Keys(m.Weights))
				} else {
					a, names = attachNew(t, m, Config{Rank: 4, Seed: 3})
				}
				cfg := tc.cfg
				cfg.Recompute = recompute
				res, err := Train(context.Background(), m, names, facts, cfg)
				require.NoError(t, err)
				out := map[string][]float32{}
				for _, n := range names {
					if w, ok := m.Weights[n]; ok {
						out[n] = w.Data
					} else {
						out[n] = a.Tensors()[n].Data
					}
				}
				return res, out
			}
			r0, w0 := run(false)
			r1, w1 := run(true)
			require.Equal(t, r0.Steps, r1.Steps)
			require.InDeltaSlice(t, r0.EpochLoss, r1.EpochLoss, 1e-5)
			require.InDeltaSlice(t, r0.EpochExtra, r1.EpochExtra, 1e-7)
			for n := range w0 {
				require.InDeltaSlice(t, w0[n], w1[n], 1e-5, n)
			}
		})
	}
	m := testmodel.Tiny(t, tinyConfig, 1)
	_, names := attachNew(t, m, Config{Rank: 4, Seed: 3, Dropout: 0.1})
	_, err := Train(context.Background(), m, names, facts, TrainConfig{BatchSize: 4, Recompute: true})
	require.ErrorContains(t, err, "Recompute")
	require.ErrorContains(t, err, "dropout")
}
