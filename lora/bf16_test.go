package lora

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// TestTrainOnBF16Base checks that LoRA on a base whose matrices are stored as bfloat16 trains as on
// the float32 base of the same values (same losses and adapter to float32 rounding), that folding
// the adapter into the bfloat16 base rounds W + ΔW once, and that a bfloat16 tensor itself trains
// and stays bfloat16 (through a float32 master: TestTrainBF16MasterMatchesFloat32).
func TestTrainOnBF16Base(t *testing.T) {
	facts := tinyFacts(12, 4)
	cfg := TrainConfig{LearningRate: 1e-2, BatchSize: 4, Epochs: 2, Seed: 5}
	run := func(bf16 bool) (*model.Model, *Adapter, Result) {
		m := testmodel.Tiny(t, tinyConfig, 1)
		require.NoError(t, m.Weights.ToBF16())
		if !bf16 {
			for _, w := range m.Weights {
				w.Data, w.BF16 = w.Float32(), nil
			}
			m.UpdateWeights()
		}
		a, err := NewAdapter("t", m.Config, Config{Rank: 4, Seed: 3})
		require.NoError(t, err)
		m.SetAdapter(a)
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range a.Tensors() {
				if !yield(n) {
					return
				}
			}
		})
		res, err := Train(context.Background(), m, names, facts, cfg)
		require.NoError(t, err)
		return m, a, res
	}
	m16, a16, r16 := run(true)
	_, a32, r32 := run(false)
	require.Equal(t, r32.Steps, r16.Steps)
	require.InDeltaSlice(t, r32.EpochLoss, r16.EpochLoss, 1e-5)
	for n, t32 := range a32.Tensors() {
		require.InDeltaSlice(t, t32.Data, a16.Tensors()[n].Data, 1e-5, n)
	}

	// Fold: W + ΔW in float32, rounded to bfloat16 once.
	mod := a16.Modules()[0]
	name := model.ModuleWeightName(mod.Layer, mod.Name)
	W := m16.Weights[name]
	want := W.Float32()
	for i, d := range a16.DeltaW(mod).Data {
		want[i] += d
	}
	require.NoError(t, a16.Fold(m16.Weights))
	require.True(t, W.IsBF16())
	rounded := model.Weights{name: &model.Tensor{Shape: W.Shape, Data: want}}
	require.NoError(t, rounded.ToBF16(name))
	require.Equal(t, rounded[name].BF16, W.BF16)

	before := slices.Clone(W.BF16)
	_, err := Train(context.Background(), m16, []string{name}, facts, cfg)
	require.NoError(t, err)
	require.True(t, W.IsBF16())
	require.NotEqual(t, before, W.BF16)
}
