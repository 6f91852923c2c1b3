package lora

import (
	"context"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// TestTrainDeviceLayoutMatchesHost trains the same runs with AdamW on the host and in the graph on
// device buffers: the weights agree to float32 rounding (the in-graph norm is summed in float32).
func TestTrainDeviceLayoutMatchesHost(t *testing.T) {
	data := raggedData(24, 2)
	for _, mode := range []string{"lora", "fft"} {
		for _, tc := range []struct {
			name string
			cfg  TrainConfig
		}{
			{"clipped", TrainConfig{LearningRate: 1e-2, MaxSteps: 4, WeightDecay: 0.1, ClipNorm: 0.5}},
			{"accumulated cosine", TrainConfig{LearningRate: 1e-2, MaxSteps: 3, MicroBatchSize: 3, Schedule: Cosine, WarmupSteps: 1, ClipNorm: -1}},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				run := func(layout Layout) (map[string][]float32, Result) {
					cfg := tc.cfg
					cfg.BatchSize, cfg.Seed, cfg.Layout = 6, 5, layout
					return trainTinyMode(t, mode, data, cfg, true)
				}
				host, hres := run(LayoutHost)
				dev, dres := run(LayoutDevice)
				require.Equal(t, hres.Steps, dres.Steps)
				var maxd float64
				for n, w := range host {
					for i := range w {
						maxd = max(maxd, math.Abs(float64(w[i]-dev[n][i])))
					}
				}
				t.Logf("max |host − device| %.3g, loss %.6f vs %.6f", maxd, hres.Loss, dres.Loss)
				require.InDelta(t, hres.Loss, dres.Loss, 1e-5)
				for n, w := range host {
					for i := range w {
						require.InDelta(t, w[i], dev[n][i], 1e-5*max(1, math.Abs(float64(w[i]))), "%s[%d]", n, i)
					}
				}
			})
		}
	}
}

func TestTrainDeviceLayoutRestores(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 6)
	a, names := attachNew(t, m, Config{Rank: 4, Seed: 1})
	before := snapshot(m, a)
	beforeLogits, err := m.Logits(storeSeqs)
	require.NoError(t, err)
	_, err = Train(context.Background(), m, names, tinyFacts(16, 8), TrainConfig{BatchSize: 4, LearningRate: 1e30, Epochs: 5,
		ClipNorm: -1, Layout: LayoutDevice})
	require.ErrorIs(t, err, ErrNonFinite)
	require.Equal(t, before, snapshot(m, a))
	after, err := m.Logits(storeSeqs)
	require.NoError(t, err)
	require.Equal(t, beforeLogits, after)
	require.ErrorContains(t, TrainConfig{Layout: "gpu"}.Validate(), "Layout")
}

// trainTinyMode trains a fresh tiny model on data with cfg: an adapter (rank 4, dropout 0.1) when mode
// is "lora", every weight when it is "fft"; when check is set it also asserts that the model computes
// with what its host tensors hold. It returns the trained values (snapshot) and Train's result.
func trainTinyMode(t *testing.T, mode string, data []Sequence, cfg TrainConfig, check bool) (map[string][]float32, Result) {
	t.Helper()
	m := testmodel.Tiny(t, tinyConfig, 12)
	a, names := attachNew(t, m, Config{Rank: 4, Seed: 2, Dropout: 0.1})
	if mode == "fft" {
		m.SetAdapter(nil)
		names = slices.Sorted(maps.Keys(m.Weights))
	}
	res, err := Train(context.Background(), m, names, data, cfg)
	require.NoError(t, err)
	if check {
		requireComputesWithHost(t, m)
	}
	return snapshot(m, a), res
}

// requireComputesWithHost asserts that m computes with what its host tensors hold: its logits do
// not change when the backend's copies are refreshed from them (UpdateWeights).
func requireComputesWithHost(t *testing.T, m *model.Model) {
	t.Helper()
	lg, err := m.Logits(storeSeqs)
	require.NoError(t, err)
	m.UpdateWeights()
	lg2, err := m.Logits(storeSeqs)
	require.NoError(t, err)
	require.Equal(t, lg2, lg, "device values and host tensors agree")
}
