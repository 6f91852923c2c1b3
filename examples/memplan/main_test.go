package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemplanPrintsEveryRow(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run([]string{"-seq", "256"}, &out, &errb), errb.String())
	for _, want := range []string{"| Llama-3.2-1B | lora | CPU 24 GB f32 |", "| Llama-3.2-3B | lora | CPU 24 GB bf16 base |",
		"| Llama-3.1-8B | fft | GPU 141 GB bf16 |", "sequences of 256 tokens"} {
		require.Contains(t, out.String(), want)
	}
	require.NotContains(t, out.String(), "| fft | CPU 24 GB bf16 base |", "the CPU trains float32 weights only")
	// 3 models × (LoRA on 4 machines + FFT on 3).
	require.Equal(t, 3*(4+3), strings.Count(out.String(), "| Llama-"))
}
