package ella

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

var smallConfig = model.Config{HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 2, NumAttentionHeads: 2, VocabSize: 32}

func penaltyAndGrads(t *testing.T, a *lora.Adapter, w Past, lambda float64) (float64, map[string][]float32) {
	t.Helper()
	return testkit.ValueAndGrads(t, a, func(p model.Params) *graph.Node { return Penalty(p, a, w, lambda) })
}

// TestPenaltyHandCase: A = 2 at column 1 and B = 0.5 at row 3 (rank 1, Scale 2) give ΔW = 2 at
// (3, 1); W_past = 3 there (and 1 elsewhere): λ·(2·3)² = 18 at λ = 0.5, with gradients
// λ·2·W_past²·ΔW·s·a = 72 on B[3] and λ·2·W_past²·ΔW·s·b = 18 on A[1], zero elsewhere. The second
// layer's module has no past and adds nothing.
func TestPenaltyHandCase(t *testing.T) {
	a, err := lora.NewAdapter("new", smallConfig, lora.Config{Rank: 1, TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	m0, m1 := lora.Module{Layer: 0, Name: "q_proj"}, lora.Module{Layer: 1, Name: "q_proj"}
	clear(a.A[m0].Data)
	a.A[m0].Data[1], a.B[m0].Data[3] = 2, 0.5
	for i := range a.B[m1].Data {
		a.B[m1].Data[i] = 0.7
	}
	wp := model.NewTensor(16, 16)
	for i := range wp.Data {
		wp.Data[i] = 1
	}
	wp.Data[3*16+1] = 3
	P := Past{m0: wp}
	w := P.Weights(false)
	assert.InDelta(t, 36.0, Overlap(a, w), 1e-9)
	v, g := penaltyAndGrads(t, a, w, 0.5)
	assert.InDelta(t, 18.0, v, 1e-4)
	for i, x := range g[a.TensorName(m0, "B")] {
		want := 0.0
		if i == 3 {
			want = 72
		}
		assert.InDelta(t, want, x, 1e-4, "dB[%d]", i)
	}
	for i, x := range g[a.TensorName(m0, "A")] {
		want := 0.0
		if i == 1 {
			want = 18
		}
		assert.InDelta(t, want, x, 1e-4, "dA[%d]", i)
	}

	// Normalised: the weights' mean is 1 (255 ones and one 9: mean 264/256).
	wn := P.Weights(true)
	assert.InDelta(t, 9/(264.0/256), wn[m0].Data[3*16+1], 1e-5)
	v, _ = penaltyAndGrads(t, a, Past{}, 0.5)
	assert.Zero(t, v)
}

func TestPastAdds(t *testing.T) {
	a := testkit.RandomAdapter(t, smallConfig, "a", 2, 1, 0.1)
	b := testkit.RandomAdapter(t, smallConfig, "b", 2, 2, 0.1)
	P := Past{}
	P.Add(a)
	P.Add(b)
	for _, m := range a.Modules() {
		da, db := a.DeltaW(m), b.DeltaW(m)
		for i := range da.Data {
			require.InDelta(t, da.Data[i]+db.Data[i], P[m].Data[i], 1e-6)
		}
	}
}

// TestTwoRounds: on the second round, a large λ keeps ΔW small where round 1's update was large.
func TestTwoRounds(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 15, BatchSize: 8, Seed: 4}
	overlap := map[float64]float64{}
	for _, lambda := range []float64{0, 1000} {
		l := testkit.ColourLearner(t)
		var logs bytes.Buffer
		l.Progress = &logs
		s := New(Config{Lambda: lambda, Train: &tc})
		_, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{})
		require.NoError(t, err)
		require.Len(t, s.History, 2)
		assert.Zero(t, s.History[0].Extra)
		assert.Len(t, s.Past(), 14)
		assert.Contains(t, logs.String(), "ella round 2 (mo)")
		if lambda > 0 {
			assert.Positive(t, s.History[1].Extra)
		}
		overlap[lambda] = s.History[1].Overlap
		t.Logf("λ=%g: losses %.4g %.4g, overlap %.4g, ‖ΔW‖ %.4g", lambda, s.History[0].Loss, s.History[1].Loss, overlap[lambda], s.History[1].Norm)
	}
	require.Positive(t, overlap[0])
	assert.Less(t, overlap[1000]*2, overlap[0])
}

func TestResumeThroughRun(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 8, Seed: 4}
	dir := t.TempDir()
	s := New(Config{Lambda: 10, Train: &tc})
	_, err := accrete.Run(context.Background(), testkit.ColourLearner(t), s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "round-02", "state", PastFile))
	r := New(Config{Lambda: 10, Train: &tc})
	_, err = accrete.Run(context.Background(), testkit.ColourLearner(t), r, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	assert.Equal(t, s.History, r.History)
	assert.Equal(t, s.Past(), r.Past())
	err = New(Config{Lambda: 10, Raw: true}).LoadState(filepath.Join(dir, "round-02", "state"), testkit.ColourLearner(t))
	assert.ErrorContains(t, err, "raw=false")
}

func TestConfigValidateAndName(t *testing.T) {
	assert.ErrorContains(t, Config{Lambda: -1}.Validate(), "Lambda must")
	assert.ErrorContains(t, Config{Lambda: math.Inf(1)}.Validate(), "Lambda must")
	assert.ErrorContains(t, Config{LoRA: &lora.Config{Rank: -1}}.Validate(), "Config.LoRA")
	assert.Equal(t, "ella λ=1", New(Config{Lambda: 1}).Name())
	assert.Equal(t, "ella λ=1 (raw)", New(Config{Lambda: 1, Raw: true}).Name())
	assert.Equal(t, Config{Lambda: 2}, New(Config{Lambda: 2}).Settings())
}
