package lora

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model"
)

// countingBackend wraps a backend as a device: it counts the bytes copied between host and backend,
// and has no shared buffers, so that every transfer goes through BufferFromFlatData or
// BufferToFlatData. Its name is not a CPU backend's, so Train picks LayoutDevice on it.
type countingBackend struct {
	backends.Backend
	up, down atomic.Int64
}

func (c *countingBackend) Name() string           { return "counting" }
func (c *countingBackend) String() string         { return "counting" }
func (c *countingBackend) HasSharedBuffers() bool { return false }

func (c *countingBackend) BufferFromFlatData(dev backends.DeviceNum, flat any, shape shapes.Shape) (backends.Buffer, error) {
	c.up.Add(int64(shape.Memory()))
	return c.Backend.BufferFromFlatData(dev, flat, shape)
}

func (c *countingBackend) BufferToFlatData(buf backends.Buffer, flat any) error {
	if s, err := c.Backend.BufferShape(buf); err == nil {
		c.down.Add(int64(s.Memory()))
	}
	return c.Backend.BufferToFlatData(buf, flat)
}

func (c *countingBackend) moved() int64 { return c.up.Load() + c.down.Load() }

// TestTrainStepTransfersOnDevice checks that on a device backend (GoMLX's stock pure-Go backend,
// wrapped to count its transfers) a training step moves the batch and the loss, O(batch tokens)
// bytes, not the trained tensors or their gradients: O(parameters) bytes move only once per Train
// call (the first upload of the weights, the trained tensors back to the host at the end). The host
// layout on the same backend moves the gradients and the trained tensors every step.
func TestTrainStepTransfersOnDevice(t *testing.T) {
	inner, err := backends.NewWithConfig("go:ops_sequential")
	require.NoError(t, err)
	defer inner.Finalize()
	const B, T = 4, 8                  // tinyFacts have 6 tokens: one length bucket of 8
	batchBytes := int64(B * T * 4 * 4) // tokens, positions, targets and mask, 4 bytes each
	for _, mode := range []string{"lora", "fft"} {
		t.Run(mode, func(t *testing.T) {
			cb := &countingBackend{Backend: inner}
			m, err := model.New(cb, tinyConfig, model.RandomWeights(tinyConfig, rand.New(rand.NewPCG(1, 2)), 0.05, 0))
			require.NoError(t, err)
			names := slices.Sorted(maps.Keys(m.Weights))
			if mode == "lora" {
				_, names = attachNew(t, m, Config{Rank: 4, Seed: 1})
			}
			var trainedBytes int64
			for _, n := range names {
				if w, ok := m.Weights[n]; ok {
					trainedBytes += int64(4 * w.Size())
				} else {
					trainedBytes += int64(4 * m.Adapter().Tensors()[n].Size())
				}
			}
			data := tinyFacts(5*B, 3)
			moved := func(steps int, layout Layout) int64 {
				before := cb.moved()
				_, err := Train(context.Background(), m, names, data, TrainConfig{BatchSize: B, MaxSteps: steps, LearningRate: 1e-3, Layout: layout})
				require.NoError(t, err)
				return cb.moved() - before
			}
			moved(1, LayoutAuto) // uploads the frozen weights once
			one, four := moved(1, LayoutAuto), moved(4, LayoutAuto)
			perStep := (four - one) / 3
			t.Logf("device layout: %d bytes per step (batch %d bytes, trained tensors %d bytes); %d bytes for a 1-step Train call",
				perStep, batchBytes, trainedBytes, one)
			require.LessOrEqual(t, perStep, 2*batchBytes+256, "a step moves O(batch tokens) bytes")
			require.Greater(t, trainedBytes, 4*perStep, "the trained tensors are larger than a step's traffic")
			require.LessOrEqual(t, one, trainedBytes+2*batchBytes+256, "a call moves the trained tensors back once")

			hostOne, hostFour := moved(1, LayoutHost), moved(4, LayoutHost)
			hostPerStep := (hostFour - hostOne) / 3
			t.Logf("host layout: %d bytes per step", hostPerStep)
			require.GreaterOrEqual(t, hostPerStep, 2*trainedBytes, "the host layout moves gradients down and weights up")
		})
	}
}
