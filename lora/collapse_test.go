package lora

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
)

func TestResultCollapse(t *testing.T) {
	lnV := math.Log(1000)
	for _, c := range []struct {
		name string
		r    Result
		want string
	}{
		{"learned", Result{Steps: 10, FirstLoss: 5, Loss: 1}, ""},
		{"flat", Result{Steps: 10, FirstLoss: 5, Loss: 5.5}, ""},
		{"rose", Result{Steps: 10, FirstLoss: 2, Loss: 3.5}, "loss rose from 2.000 to 3.500 over 10 steps"},
		{"to chance", Result{Steps: 10, FirstLoss: lnV - 1.1, Loss: lnV - 0.2}, "near ln(1000) = 6.908"},
		{"random model stays near chance", Result{Steps: 10, FirstLoss: lnV + 0.2, Loss: lnV - 0.1}, ""},
		{"no steps", Result{}, ""},
		{"NaN", Result{Steps: 3, FirstLoss: math.NaN(), Loss: 9}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.r.Collapse(1000)
			if c.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, got, c.want)
		})
	}
}

// TestTrainRecordsTheFirstLoss: FirstLoss is the first step's loss, before any update.
func TestTrainRecordsTheFirstLoss(t *testing.T) {
	facts := tinyFacts(4, 7)
	m := testmodel.Tiny(t, tinyConfig, 4)
	_, names := attachNew(t, m, Config{Rank: 2, Seed: 2})
	// One step an epoch: the first epoch's mean is the first step's loss.
	res, err := Train(context.Background(), m, names, facts, TrainConfig{LearningRate: 1e-2, Epochs: 3, BatchSize: 4})
	require.NoError(t, err)
	require.Equal(t, 3, res.Steps)
	require.Equal(t, res.EpochLoss[0], res.FirstLoss)
	require.Less(t, res.Loss, res.FirstLoss)
	require.Empty(t, res.Collapse(tinyConfig.VocabSize))
}
