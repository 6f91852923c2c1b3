package accrete_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
)

// TestCollapseIsWarned: a round whose training loss ends far above where it started is reported in
// the learner's log and in the round's record.
func TestCollapseIsWarned(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2)}
	l := tinyLearner(t, 3)
	var log strings.Builder
	l.Progress = &log
	s := accrete.StrategyFunc(func(_ context.Context, l *accrete.Learner, r accrete.Round) error {
		if r.Index == 1 {
			l.CheckTraining("r02-mo", lora.Result{Steps: 12, FirstLoss: 1.2, Loss: 5.8})
		}
		l.CheckTraining("fine", lora.Result{Steps: 12, FirstLoss: 5.8, Loss: 0.3})
		return nil
	})
	_, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	require.Len(t, l.History, 2)
	require.Empty(t, l.History[0].Warning)
	require.Equal(t, "r02-mo: loss rose from 1.200 to 5.800 over 12 steps (collapse; is the learning rate too high?)", l.History[1].Warning)
	require.Contains(t, log.String(), "warning: "+l.History[1].Warning)
}

// TestHugeLearningRateIsWarned: a round at lr 1e3 on a task the model has learned sends the loss
// from near 0 to chance or beyond; Sequential's training reports it (it used to pass quietly).
func TestHugeLearningRateIsWarned(t *testing.T) {
	l := tinyLearner(t, 2)
	var log strings.Builder
	l.Progress = &log
	ka := tinyTask("ka", 8, 1)
	again := ka
	again.Name = "ka-again"
	s := accrete.StrategyFunc(func(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
		if r.Index == 0 {
			return accrete.Sequential{}.Learn(ctx, l, r)
		}
		return accrete.Sequential{Train: &lora.TrainConfig{LearningRate: 1e3, Epochs: 4, BatchSize: 8}}.Learn(ctx, l, r)
	})
	_, err := accrete.Run(context.Background(), l, s, []accrete.Task{ka, again}, accrete.RunOptions{})
	require.NoError(t, err, log.String())
	require.Empty(t, l.History[0].Warning, log.String())
	require.Contains(t, l.History[1].Warning, "r02-ka-again: loss ", log.String())
	require.Contains(t, l.History[1].Warning, "collapse", log.String())
	require.Contains(t, log.String(), "warning: r02-ka-again: loss ")
}
