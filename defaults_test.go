package accrete_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
)

func TestTrainDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   lora.TrainConfig
		mode accrete.Mode
		want lora.TrainConfig
	}{
		{"zero lora", lora.TrainConfig{}, "", lora.TrainConfig{LearningRate: 3e-3, Epochs: 12, MinSteps: 120}},
		{"zero fft", lora.TrainConfig{}, accrete.ModeFFT, lora.TrainConfig{LearningRate: 5e-4, Epochs: 12, MinSteps: 120}},
		{"epochs kept", lora.TrainConfig{Epochs: 2, Seed: 7}, accrete.ModeLoRA, lora.TrainConfig{LearningRate: 3e-3, Epochs: 2, Seed: 7}},
		{"max steps kept", lora.TrainConfig{MaxSteps: 9}, accrete.ModeLoRA, lora.TrainConfig{LearningRate: 3e-3, MaxSteps: 9}},
		{"own min steps", lora.TrainConfig{MinSteps: 5, BatchSize: 4}, accrete.ModeLoRA, lora.TrainConfig{LearningRate: 3e-3, Epochs: 12, MinSteps: 5, BatchSize: 4}},
		{"rate kept", lora.TrainConfig{LearningRate: 1e-2, Epochs: 1}, accrete.ModeFFT, lora.TrainConfig{LearningRate: 1e-2, Epochs: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, accrete.TrainDefaults(tc.in, tc.mode))
		})
	}
}

// TestZeroTrainConfigLearns: a learner whose Train is left zero trains with the rounds' defaults
// (DefaultMinSteps steps on a small task), not lora's one epoch, and the adapter learns the task.
func TestZeroTrainConfigLearns(t *testing.T) {
	l := tinyLearner(t, 1)
	l.Train = lora.TrainConfig{}
	task := tinyTask("ka", 8, 1)
	_, res, err := l.TrainAdapter(context.Background(), "ka", l.Encode(task.Train), nil, nil)
	require.NoError(t, err)
	require.Equal(t, accrete.DefaultMinSteps, res.Steps, "16 sequences at batch 8: two steps an epoch, raised to the minimum")
	// lora's own defaults (1e-3, one epoch) barely move the loss.
	_, bare, err := l.TrainAdapter(context.Background(), "ka", l.Encode(task.Train), nil, &lora.TrainConfig{LearningRate: 1e-3, Epochs: 1})
	require.NoError(t, err)
	t.Logf("loss: first epoch %.3f, defaults %.3f after %d steps, lora's bare defaults %.3f", res.EpochLoss[0], res.Loss, res.Steps, bare.Loss)
	require.Less(t, res.Loss, 0.8*bare.Loss)
}
