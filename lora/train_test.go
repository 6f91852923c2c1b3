package lora

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// attachNew attaches a fresh adapter to m and returns it with its tensor names, sorted.
func attachNew(t testing.TB, m *model.Model, cfg Config) (*Adapter, []string) {
	t.Helper()
	a, err := NewAdapter("t", m.Config, cfg)
	require.NoError(t, err)
	m.SetAdapter(a)
	var names []string
	for n := range a.Tensors() {
		names = append(names, n)
	}
	slices.Sort(names)
	return a, names
}

func TestTrainIsDeterministic(t *testing.T) {
	facts := tinyFacts(12, 7)
	cfg := TrainConfig{LearningRate: 1e-2, MaxSteps: 4, BatchSize: 4, Seed: 3, Epochs: 2}
	run := func() *Adapter {
		m := testmodel.Tiny(t, tinyConfig, 4)
		// Dropout makes the run depend on the seeded dropout masks too.
		a, names := attachNew(t, m, Config{Rank: 4, Seed: 2, Dropout: 0.1})
		res, err := Train(context.Background(), m, names, facts, cfg)
		require.NoError(t, err)
		require.Equal(t, 4, res.Steps)
		return a
	}
	a1, a2 := run(), run()
	for _, mod := range a1.Modules() {
		require.True(t, slices.Equal(a1.A[mod].Data, a2.A[mod].Data), "%s A", mod.Path())
		require.True(t, slices.Equal(a1.B[mod].Data, a2.B[mod].Data), "%s B", mod.Path())
		require.True(t, slices.ContainsFunc(a1.B[mod].Data, func(v float32) bool { return v != 0 }), "%s B trained", mod.Path())
	}
}

// snapshot copies the base weights and the adapter's tensors.
func snapshot(m *model.Model, a *Adapter) map[string][]float32 {
	s := map[string][]float32{}
	for n, w := range m.Weights {
		s[n] = slices.Clone(w.Data)
	}
	for n, w := range a.Tensors() {
		s[n] = slices.Clone(w.Data)
	}
	return s
}

func TestTrainNonFiniteRestoresWeights(t *testing.T) {
	facts := tinyFacts(16, 8)
	tests := []struct {
		name string
		cfg  TrainConfig
	}{
		{"NaN extra loss", TrainConfig{BatchSize: 4, ExtraLoss: func(p model.Params) *graph.Node {
			var any *graph.Node
			for _, n := range p {
				any = n
				break
			}
			return graph.Scalar(any.Graph(), any.DType(), math.NaN())
		}}},
		// A huge step blows the logits up after a few steps: the error comes mid-run, after the
		// adapter has already changed.
		{"huge learning rate", TrainConfig{BatchSize: 4, LearningRate: 1e30, Epochs: 5, ClipNorm: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testmodel.Tiny(t, tinyConfig, 5)
			a, names := attachNew(t, m, Config{Rank: 4, Seed: 1})
			before := snapshot(m, a)
			res, err := Train(context.Background(), m, names, facts, tc.cfg)
			require.ErrorIs(t, err, ErrNonFinite)
			t.Logf("stopped after %d steps: %v", res.Steps, err)
			if tc.cfg.ExtraLoss == nil {
				require.Positive(t, res.Steps, "the failure must come after the adapter changed")
			}
			require.Equal(t, before, snapshot(m, a))
			// The device copies were restored too: the model computes what it did before.
			lg, err := m.Logits([][]int{facts[0].Tokens})
			require.NoError(t, err)
			for _, row := range lg[0] {
				for _, v := range row {
					require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0))
				}
			}
		})
	}
}

// cancelOnWrite cancels a context when the progress bar first writes, which Train does after its
// first step.
type cancelOnWrite struct{ cancel context.CancelFunc }

func (c cancelOnWrite) Write(p []byte) (int, error) {
	c.cancel()
	return len(p), nil
}

func TestTrainCancelRestoresWeights(t *testing.T) {
	for _, mode := range []string{"lora", "fft"} {
		t.Run(mode, func(t *testing.T) {
			m := testmodel.Tiny(t, tinyConfig, 6)
			a, names := attachNew(t, m, Config{Rank: 4, Seed: 1})
			if mode == "fft" {
				m.SetAdapter(nil)
				names = nil
				for n := range m.Weights {
					names = append(names, n)
				}
				slices.Sort(names)
			}
			before := snapshot(m, a)
			beforeLogits, err := m.Logits(storeSeqs)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res, err := Train(ctx, m, names, tinyFacts(16, 9), TrainConfig{BatchSize: 4, LearningRate: 1e-2, Progress: cancelOnWrite{cancel}})
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, 1, res.Steps, "one step ran before the cancellation was seen")
			require.Equal(t, before, snapshot(m, a))
			after, err := m.Logits(storeSeqs)
			require.NoError(t, err)
			require.Equal(t, beforeLogits, after)
		})
	}
}

func TestTrainOnlyChangesTrainable(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 7)
	a, names := attachNew(t, m, Config{Rank: 2, Seed: 1})
	before := snapshot(m, a)
	// Train only the B matrices of layer 1.
	var some []string
	for _, n := range names {
		if strings.HasSuffix(n, ".lora_B") && strings.Contains(n, ".layers.1.") {
			some = append(some, n)
		}
	}
	require.NotEmpty(t, some)
	_, err := Train(context.Background(), m, some, tinyFacts(8, 1), TrainConfig{BatchSize: 4, MaxSteps: 2, LearningRate: 1e-2})
	require.NoError(t, err)
	after := snapshot(m, a)
	for n, v := range before {
		if slices.Contains(some, n) {
			require.NotEqual(t, v, after[n], n)
		} else {
			require.Equal(t, v, after[n], n)
		}
	}
}

func TestTrainConfigValidateNamesField(t *testing.T) {
	tests := []struct {
		cfg   TrainConfig
		field string
	}{
		{TrainConfig{LearningRate: -1}, "LearningRate"},
		{TrainConfig{LearningRate: math.NaN()}, "LearningRate"},
		{TrainConfig{LearningRate: math.Inf(1)}, "LearningRate"},
		{TrainConfig{Schedule: "step"}, "Schedule"},
		{TrainConfig{WarmupSteps: -1}, "WarmupSteps"},
		{TrainConfig{WeightDecay: -0.1}, "WeightDecay"},
		{TrainConfig{Beta1: 1}, "Beta1"},
		{TrainConfig{Beta2: -0.5}, "Beta2"},
		{TrainConfig{MaxSteps: -3}, "MaxSteps"},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.Error(t, err)
			require.ErrorContains(t, err, tc.field)
		})
	}
	require.NoError(t, TrainConfig{}.Validate())
	require.NoError(t, TrainConfig{Schedule: Cosine, WarmupSteps: 3, MaxSteps: 10}.Validate())

	m := testmodel.Tiny(t, tinyConfig, 1)
	_, err := Train(context.Background(), m, []string{"model.norm.weight"}, nil, TrainConfig{})
	require.ErrorContains(t, err, "no examples")
	_, err = Train(context.Background(), m, []string{"nope"}, tinyFacts(2, 1), TrainConfig{})
	require.ErrorContains(t, err, `"nope"`)
	_, err = Train(context.Background(), m, []string{"model.norm.weight"}, []Sequence{{Tokens: []int{1, 2}, PromptLen: 2}}, TrainConfig{})
	require.ErrorContains(t, err, "PromptLen 2")
	_, err = Train(context.Background(), m, []string{"model.norm.weight"}, []Sequence{{Tokens: []int{1, 99}, PromptLen: 1}}, TrainConfig{})
	require.ErrorContains(t, err, "token 99")
}

// TestTrainMinSteps: MinSteps raises the epochs of a small task to reach it; MaxSteps still caps it.
func TestTrainMinSteps(t *testing.T) {
	facts := tinyFacts(6, 7) // 2 steps an epoch at batch 4
	for _, tc := range []struct {
		cfg          TrainConfig
		steps, epoch int
	}{
		{TrainConfig{Epochs: 1, MinSteps: 5, BatchSize: 4}, 6, 3},
		{TrainConfig{Epochs: 4, MinSteps: 5, BatchSize: 4}, 8, 4},
		{TrainConfig{Epochs: 1, MinSteps: 5, MaxSteps: 3, BatchSize: 4}, 3, 2},
	} {
		m := testmodel.Tiny(t, tinyConfig, 4)
		_, names := attachNew(t, m, Config{Rank: 2, Seed: 2})
		res, err := Train(context.Background(), m, names, facts, tc.cfg)
		require.NoError(t, err)
		require.Equal(t, tc.steps, res.Steps, "%+v", tc.cfg)
		require.Equal(t, tc.epoch, res.Epochs, "%+v", tc.cfg)
	}
	require.ErrorContains(t, TrainConfig{MinSteps: -1}.Validate(), "MinSteps must be ≥ 0, got -1")
}
