package orthlora

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
)

// runRounds trains s on tasks, one round each, and returns the adapters it trained.
func runRounds(t *testing.T, l *accrete.Learner, cfg Config, tasks []accrete.Task) (*Strategy, []*lora.Adapter) {
	t.Helper()
	var adapters []*lora.Adapter
	cfg.OnAdapter = func(round int, a *lora.Adapter, _ lora.Result) error {
		require.Len(t, adapters, round)
		adapters = append(adapters, a.Clone())
		return nil
	}
	s := New(cfg)
	for i, task := range tasks {
		require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: i, Task: task}))
	}
	return s, adapters
}

// TestLargeLambdaKeepsSubspacesApart is the "must hold" property: on a second round, a large λ leaves
// the new adapter's A at least 10× less overlapping the first round's than λ = 0 does.
func TestLargeLambdaKeepsSubspacesApart(t *testing.T) {
	tasks, tok := tinyTasks(t, 2, 16)
	overlap := map[float64]float64{}
	for _, lambda := range []float64{0, 5} {
		l := tinyLearner(t, tok)
		var logs bytes.Buffer
		l.Progress = &logs
		s, ads := runRounds(t, l, Config{Lambda: lambda}, tasks)
		require.Len(t, ads, 2)
		require.Len(t, s.History, 2)
		overlap[lambda] = Overlap(ads[1], ads[:1])
		t.Logf("λ=%g: losses %.4g %.4g, extra %.4g", lambda, s.History[0].Loss, s.History[1].Loss, s.History[1].Extra)
		assert.InDelta(t, overlap[lambda], s.History[1].Overlap, 1e-9)
		assert.Zero(t, s.History[0].Overlap, "round 1 has no past")
		assert.Zero(t, s.History[0].Extra)
		if lambda > 0 {
			assert.Positive(t, s.History[1].Extra, "the penalty is reported")
			assert.Contains(t, logs.String(), "o-lora round 2 (t1): task loss")
			assert.Contains(t, logs.String(), "penalty/task")
		}
		assert.Less(t, s.History[1].Loss, 3.0, "λ=%g: the second task is still learned (loss %g)", lambda, s.History[1].Loss)
		assert.Equal(t, 8, s.Past().Rank(), "two rounds of rank 4 stacked")
	}
	t.Logf("round-2 overlap: λ=0 %.4g, λ=5 %.4g", overlap[0], overlap[5])
	require.Positive(t, overlap[0])
	assert.Less(t, overlap[5]*10, overlap[0])
}

// TestSemiCooperative: O-LoRA reads only Round.Task; giving it a history changes nothing.
func TestSemiCooperative(t *testing.T) {
	_, isFC := any(New(Config{})).(accrete.FullyCooperative)
	assert.False(t, isFC)
	tasks, tok := tinyTasks(t, 3, 8)
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 8, Seed: 1}
	cfg := Config{Lambda: 0.5, Train: &tc}
	weights := make([][]float32, 2)
	for i, hist := range [][]accrete.Task{nil, tasks[:1]} {
		l := tinyLearner(t, tok)
		s := New(cfg)
		require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: 0, Task: tasks[2]}))
		require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: 1, Task: tasks[1], History: hist}))
		for _, n := range []string{"model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"} {
			weights[i] = append(weights[i], l.Model.Weights[n].Data...)
		}
	}
	assert.Equal(t, weights[0], weights[1])
}

func TestStateRoundTrip(t *testing.T) {
	tasks, tok := tinyTasks(t, 2, 8)
	l := tinyLearner(t, tok)
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 1, BatchSize: 8}
	s, _ := runRounds(t, l, Config{Lambda: 0.5, Lambda2: 0.01, Train: &tc}, tasks)
	dir := t.TempDir()
	require.NoError(t, s.SaveState(dir))

	r := New(Config{Lambda: 0.5, Lambda2: 0.01, Train: &tc})
	require.NoError(t, r.LoadState(dir, l))
	assert.Equal(t, s.History, r.History)
	assert.Equal(t, s.Past(), r.Past())

	// A third round after the resume matches a third round without it.
	third := accrete.Task{Name: "t2", Train: tasks[0].Train[:4]}
	want := l.Model.Weights.Clone()
	lr := tinyLearner(t, tok)
	require.NoError(t, lr.SetWeights(want))
	require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: 2, Task: third}))
	require.NoError(t, r.Learn(context.Background(), lr, accrete.Round{Index: 2, Task: third}))
	assert.Equal(t, s.History, r.History)
	name := "model.layers.1.self_attn.v_proj.weight"
	assert.Equal(t, l.Model.Weights[name].Data, lr.Model.Weights[name].Data)

	t.Run("lambda mismatch", func(t *testing.T) {
		err := New(Config{Lambda: 5, Lambda2: 0.01}).LoadState(dir, l)
		require.ErrorContains(t, err, "λ=0.5")
	})
	t.Run("scale mismatch", func(t *testing.T) {
		err := New(Config{Lambda: 0.5, Lambda2: 0.01, Scale: Sum}).LoadState(dir, l)
		require.ErrorContains(t, err, "λ=0.5 (initial)")
	})
	t.Run("foreign tensor", func(t *testing.T) {
		bad := t.TempDir()
		s2 := New(Config{Lambda: 0.5, Lambda2: 0.01})
		s2.past = s.Past()
		s2.History = s.History
		for m, p := range s2.past {
			m.Layer = 7
			s2.past[m] = p
			break
		}
		require.NoError(t, s2.SaveState(bad))
		err := New(Config{Lambda: 0.5, Lambda2: 0.01}).LoadState(bad, l)
		require.ErrorContains(t, err, "model.layers.7.")
	})
	t.Run("missing", func(t *testing.T) {
		err := New(Config{}).LoadState(filepath.Join(dir, "nope"), l)
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestConfigValidateAndName(t *testing.T) {
	assert.ErrorContains(t, Config{Lambda: -1}.Validate(), "Lambda must")
	assert.ErrorContains(t, Config{Lambda2: -0.1}.Validate(), "Lambda2 must")
	assert.ErrorContains(t, Config{LoRA: &lora.Config{Rank: -1}}.Validate(), "Config.LoRA")
	assert.NoError(t, Config{Lambda: 5, Lambda2: 0.5}.Validate())
	assert.Equal(t, "o-lora λ=0.5", New(Config{Lambda: 0.5}).Name())
	assert.Equal(t, "o-lora λ=5 λ2=0.1", New(Config{Lambda: 5, Lambda2: 0.1}).Name())
	assert.Equal(t, "o-lora λ=0.5 (sum)", New(Config{Lambda: 0.5, Scale: Sum}).Name())
	assert.Equal(t, "o-lora λ=0.5 (mean)", New(Config{Lambda: 0.5, Scale: Mean}).Name())
	assert.ErrorContains(t, Config{Scale: 3}.Validate(), "Scale 3 unknown")
	var n accrete.Namer = New(Config{})
	assert.True(t, strings.HasPrefix(n.Name(), "o-lora"))
	tasks, tok := tinyTasks(t, 1, 2)
	err := New(Config{Lambda: math.NaN()}).Learn(context.Background(), tinyLearner(t, tok), accrete.Round{Task: tasks[0]})
	assert.ErrorContains(t, err, "Lambda")
}

// TestResumeThroughRun: Run's checkpoints carry the strategy's state.
func TestResumeThroughRun(t *testing.T) {
	tasks, tok := tinyTasks(t, 2, 8)
	for i := range tasks {
		tasks[i].Metric = "exact_match"
		tasks[i].Test = tasks[i].Train[:2]
	}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 8}
	dir := t.TempDir()
	s := New(Config{Lambda: 0.5, Train: &tc})
	_, err := accrete.Run(context.Background(), tinyLearner(t, tok), s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "round-02", "state", PastFile))

	r := New(Config{Lambda: 0.5, Train: &tc})
	_, err = accrete.Run(context.Background(), tinyLearner(t, tok), r, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	assert.Equal(t, s.History, r.History, "nothing retrained, the history restored")
	assert.Equal(t, s.Past(), r.Past())

	// Another strategy, or O-LoRA with other settings, does not resume from it.
	_, err = accrete.Run(context.Background(), tinyLearner(t, tok), accrete.Sequential{}, tasks, accrete.RunOptions{CheckpointDir: dir})
	assert.ErrorContains(t, err, `strategy differs: checkpoint has "o-lora λ=0.5", this run "sequential-lora"`)
	tc2 := tc
	tc2.LearningRate = 2e-2
	_, err = accrete.Run(context.Background(), tinyLearner(t, tok), New(Config{Lambda: 0.5, Train: &tc2}), tasks, accrete.RunOptions{CheckpointDir: dir})
	assert.ErrorContains(t, err, "strategy settings differs")
	assert.ErrorContains(t, err, "LearningRate:0.02")
}
