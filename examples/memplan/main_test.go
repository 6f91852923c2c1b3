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
	for _, want := range []string{"| Llama-3.2-1B | lora | CPU 24 GB f32 |", "| Llama-3.1-8B | fft | GPU 141 GB bf16 |", "sequences of 256 tokens"} {
		require.Contains(t, out.String(), want)
	}
	require.Equal(t, 3*2*3, strings.Count(out.String(), "| Llama-"))
}
