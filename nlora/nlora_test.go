package nlora

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

var smallConfig = model.Config{HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 32}

func penaltyAndGrads(t *testing.T, a *lora.Adapter, lambda float64, factors bool) (float64, map[string][]float32) {
	t.Helper()
	return testkit.ValueAndGrads(t, a, func(p model.Params) *graph.Node { return Penalty(p, a, lambda, factors) })
}

// handAdapter is rank 1 (Scale 2) on one q_proj with A = 2 at column 1, −1 at column 2, and B = 0.5
// at row 3, −1 at row 5: ΔW has entries 2, −1 (row 3) and −4, 2 (row 5), so ‖ΔW‖₁ = 9 and
// ‖A‖₁ + ‖B‖₁ = 4.5.
func handAdapter(t *testing.T) (*lora.Adapter, lora.Module) {
	a, err := lora.NewAdapter("new", smallConfig, lora.Config{Rank: 1, TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	m := lora.Module{Layer: 0, Name: "q_proj"}
	clear(a.A[m].Data)
	a.A[m].Data[1], a.A[m].Data[2] = 2, -1
	a.B[m].Data[3], a.B[m].Data[5] = 0.5, -1
	return a, m
}

// TestPenaltyHandCase checks the value and the subgradient λ·s·sign(ΔW)·Aᵀ on B and λ·s·Bᵀ·sign(ΔW)
// on A (row 3: 2·(2+1) = 6, row 5: −6; column 1: 2·(0.5+1) = 3, column 2: −3), zero where ΔW is 0.
func TestPenaltyHandCase(t *testing.T) {
	a, m := handAdapter(t)
	assert.InDelta(t, 9.0, L1(a), 1e-9)
	assert.InDelta(t, 4.5, L1Factors(a), 1e-9)
	const lambda = 0.1
	v, g := penaltyAndGrads(t, a, lambda, false)
	assert.InDelta(t, 0.9, v, 1e-6)
	wantB := make([]float64, 16)
	wantB[3], wantB[5] = 6*lambda, -6*lambda
	wantA := make([]float64, 16)
	wantA[1], wantA[2] = 3*lambda, -3*lambda
	for i := range wantB {
		assert.InDelta(t, wantB[i], g[a.TensorName(m, "B")][i], 1e-6, "dB[%d]", i)
		assert.InDelta(t, wantA[i], g[a.TensorName(m, "A")][i], 1e-6, "dA[%d]", i)
	}

	v, g = penaltyAndGrads(t, a, lambda, true)
	assert.InDelta(t, 0.45, v, 1e-6)
	assert.InDelta(t, lambda, g[a.TensorName(m, "A")][1], 1e-7)
	assert.InDelta(t, -lambda, g[a.TensorName(m, "B")][5], 1e-7)
	assert.Zero(t, g[a.TensorName(m, "B")][0], "the subgradient of |x| at 0 is 0")

	assert.InDelta(t, 1-4.0/256, Sparsity(a, 1e-3), 1e-9)
}

// TestTwoRounds: a large λ leaves the rounds' updates with a smaller L1 norm than λ = 0.
func TestTwoRounds(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 15, BatchSize: 8, Seed: 4}
	l1 := map[float64][]float64{}
	for _, lambda := range []float64{0, 0.005} {
		l := testkit.ColourLearner(t)
		var logs bytes.Buffer
		l.Progress = &logs
		s := New(Config{Lambda: lambda, Train: &tc})
		_, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{})
		require.NoError(t, err)
		require.Len(t, s.History, 2)
		for _, r := range s.History {
			l1[lambda] = append(l1[lambda], r.L1)
		}
		assert.Contains(t, logs.String(), "n-lora round 2 (mo)")
		if lambda > 0 {
			assert.Positive(t, s.History[1].Extra)
		}
		t.Logf("λ=%g: losses %.4g %.4g, L1 %v, sparsity %.3f, penalty/task %.3g", lambda, s.History[0].Loss, s.History[1].Loss, l1[lambda], s.History[1].Sparsity, s.History[1].Ratio())
	}
	for i := range 2 {
		assert.Less(t, l1[0.005][i]*2, l1[0][i], "round %d", i+1)
	}
}

func TestResumeThroughRun(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 8, Seed: 4}
	dir := t.TempDir()
	s := New(Config{Lambda: 0.01, Train: &tc})
	_, err := accrete.Run(context.Background(), testkit.ColourLearner(t), s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "round-02", "state", HistoryFile))
	r := New(Config{Lambda: 0.01, Train: &tc})
	_, err = accrete.Run(context.Background(), testkit.ColourLearner(t), r, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	assert.Equal(t, s.History, r.History)
	err = New(Config{Lambda: 0.01, Factors: true}).LoadState(filepath.Join(dir, "round-02", "state"), nil)
	assert.ErrorContains(t, err, "factors=false")
}

func TestConfigValidateAndName(t *testing.T) {
	assert.ErrorContains(t, Config{Lambda: -1}.Validate(), "Lambda must")
	assert.ErrorContains(t, Config{Lambda: math.NaN()}.Validate(), "Lambda must")
	assert.ErrorContains(t, Config{Train: &lora.TrainConfig{LearningRate: -1}}.Validate(), "Config.Train")
	assert.Equal(t, "n-lora λ=0.01", New(Config{Lambda: 0.01}).Name())
	assert.Equal(t, "n-lora λ=0.01 (factors)", New(Config{Lambda: 0.01, Factors: true}).Name())
	assert.Equal(t, Config{Lambda: 2}, New(Config{Lambda: 2}).Settings())
}
