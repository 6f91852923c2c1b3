package moe_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/moe"
)

func TestStrategyRoundsAndStateRoundTrip(t *testing.T) {
	l := testkit.ColourLearner(t)
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	cfg := moe.Config{CalibrationPerTask: 5, RouterTrain: &lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 4}}
	s := moe.New(cfg)
	require.Equal(t, "moe-top2", s.Name())
	require.Equal(t, "moe-top1-sigmoid", moe.New(moe.Config{TopK: 1, Gate: moe.Sigmoid}).Name())
	require.Equal(t, "moe-uniform", moe.New(moe.Config{Uniform: true}).Name())
	dir := t.TempDir()
	_, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	mix := s.Mixture()
	require.NotNil(t, mix)
	require.Len(t, mix.Experts, 2)
	require.Same(t, model.Adapter(mix), l.Model.Adapter(), "the mixture is attached, so Run scores it")
	for name, w := range l.Base() {
		require.Equal(t, w.Data, l.Model.Weights[name].Data, "the base weights stay untouched: %s", name)
	}
	calib := s.Calibration()
	require.Len(t, calib, 2)
	for i, c := range calib {
		require.Len(t, c, 5)
		for _, it := range c {
			require.Contains(t, tasks[i].Train, it, "calibration items come from their own task")
		}
	}
	seqs := [][]int{l.Encode(tasks[0].Test[:1])[0].Tokens, l.Encode(tasks[1].Test[:1])[0].Tokens}
	want, err := l.Model.Logits(seqs)
	require.NoError(t, err)

	sd := t.TempDir()
	require.NoError(t, s.SaveState(sd))
	l2 := testkit.ColourLearner(t)
	s2 := moe.New(cfg)
	require.NoError(t, s2.LoadState(sd, l2))
	got, err := l2.Model.Logits(seqs)
	require.NoError(t, err)
	require.Equal(t, want, got, "a saved and loaded mixture gives identical logits")
	require.Equal(t, calib, s2.Calibration())
	require.ErrorContains(t, moe.New(moe.Config{TopK: 1}).LoadState(sd, l2), "top_k 2")

	// A finished run resumes from its checkpoint with the mixture attached.
	l3 := testkit.ColourLearner(t)
	s3 := moe.New(cfg)
	_, err = accrete.Run(context.Background(), l3, s3, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	got, err = l3.Model.Logits(seqs)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestUniformStrategyKeepsNoData(t *testing.T) {
	l := testkit.ColourLearner(t)
	s := moe.New(moe.Config{Uniform: true})
	require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Task: testkit.ColourTask("ka", 4, 1)}))
	require.Empty(t, s.Calibration()[0])
	require.True(t, s.Mixture().Uniform)
}

func TestConfigValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg   moe.Config
		field string
	}{
		{moe.Config{TopK: -1}, "TopK"},
		{moe.Config{Gate: "relu"}, "Gate"},
		{moe.Config{CalibrationPerTask: -2}, "CalibrationPerTask"},
		{moe.Config{LoRA: &lora.Config{Rank: -1}}, "LoRA"},
		{moe.Config{RouterTrain: &lora.TrainConfig{LearningRate: -1}}, "RouterTrain"},
		{moe.Config{Train: &lora.TrainConfig{Schedule: "zigzag"}}, "Train"},
	} {
		err := tc.cfg.Validate()
		require.Error(t, err, "%+v", tc.cfg)
		require.Contains(t, err.Error(), tc.field)
	}
	require.NoError(t, moe.Config{}.Validate())
}

// TestRoutersAreKeptInTheStore runs the strategy on a learner with a lora.Store: every round's expert
// is stored, with the routers beside the newest, and LoadMixture rebuilds the same mixture.
func TestRoutersAreKeptInTheStore(t *testing.T) {
	l := testkit.ColourLearner(t)
	st, err := lora.OpenStore(t.TempDir(), lora.Fingerprint(l.Model.Config, l.Base()))
	require.NoError(t, err)
	l.Store = st
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	s := moe.New(moe.Config{CalibrationPerTask: 5, RouterTrain: &lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 4}})
	_, err = accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	require.Len(t, st.List(), 2)
	seqs := [][]int{l.Encode(tasks[0].Test[:1])[0].Tokens, l.Encode(tasks[1].Test[:1])[0].Tokens}
	want, err := l.Model.Logits(seqs)
	require.NoError(t, err)

	mix, err := moe.LoadMixture(st, l.Model.Config, moe.MixtureConfig{TopK: 2})
	require.NoError(t, err)
	l2 := testkit.ColourLearner(t)
	l2.Model.SetAdapter(mix)
	got, err := l2.Model.Logits(seqs)
	require.NoError(t, err)
	require.Equal(t, want, got, "the stored experts and routers give the same logits")
}
