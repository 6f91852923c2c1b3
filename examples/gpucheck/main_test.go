package main

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model"
)

// TestGpucheckOnTheCPU runs the program's checks on the default CPU backend with a small checkpoint:
// the logits comparison is then exact, and training and decoding go through the same code as on a GPU.
func TestGpucheckOnTheCPU(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, model.SaveHF(dir, small, model.RandomWeights(small, rand.New(rand.NewPCG(1, 1)), 0.02, 0),
		model.SaveOptions{DType: "BF16", MaxShardBytes: 1 << 20}))
	var out, errb bytes.Buffer
	code := run([]string{"-compare", "-tol", "0", "-model", dir, "-batch", "2", "-seq", "16", "-steps", "1", "-new", "4"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	for _, want := range []string{"max |Δ| 0 ", "lora B2 T16:", "fft B2 T16:", "memory plan: fft, f32, device layout", "greedy decoding B16: 64 tokens"} {
		require.Contains(t, out.String(), want)
	}
	t.Log(out.String())
}

func TestLlama1BShape(t *testing.T) {
	require.NoError(t, llama1B.Validate())
	require.InDelta(t, 1.236e9, float64(llama1B.NumParams()), 1e6)
}
