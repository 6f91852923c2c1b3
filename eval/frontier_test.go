package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func frontierPoints() []FrontierPoint {
	nan := math.NaN()
	return []FrontierPoint{
		{Method: "LoRA", Training: "one round", LearningRate: 1e-3, Acquisition: 0.2, Retention: 0.9},
		{Method: "LoRA", Training: "one round", LearningRate: 3e-3, Acquisition: 0.6, Retention: 0.85, Chosen: true},
		{Method: "LoRA", Training: "one round", LearningRate: 1e-2, Acquisition: 0.8, Retention: 0.5},
		{Method: "FFT", Training: "one round", LearningRate: 1e-4, Acquisition: 0.3, Retention: 0.8, Chosen: true},
		{Method: "FFT", Training: "one round", LearningRate: 1e-3, Acquisition: nan, Retention: nan, Failed: "loss not finite"},
		{Method: "LoRA", Training: "sequential, 3 rounds", LearningRate: 3e-3, Acquisition: 0.5, Retention: 0.7},
	}
}

func TestFrontierInReport(t *testing.T) {
	r := Report{Title: "t", LearningRates: []LearningRate{
		{Family: "LoRA", Rate: 3e-3, Grid: []float64{1e-3, 3e-3, 1e-2}, How: "best mean of acquisition and retention on validation"},
		{Family: "FFT", Rate: 5e-4, How: "given (-lr-fft)"}}, Frontier: frontierPoints()}
	var md bytes.Buffer
	require.NoError(t, r.WriteMarkdown(&md))
	assert.Contains(t, md.String(), "| LoRA | 3e-03 | 1e-03, 3e-03, 1e-02 | best mean")
	assert.Contains(t, md.String(), "| FFT | 5e-04 | – | given (-lr-fft) |")
	assert.Contains(t, md.String(), "| one round | LoRA | 3e-03 | 0.6000 | 0.8500 | ✓ |")
	assert.Contains(t, md.String(), "| one round | FFT | 1e-03 | – | – | failed: loss not finite |")

	var js bytes.Buffer
	require.NoError(t, r.WriteJSON(&js))
	assert.Contains(t, js.String(), `"acquisition": null`)
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Len(t, back.Frontier, len(r.Frontier))
	assert.True(t, math.IsNaN(back.Frontier[4].Acquisition))
	assert.Equal(t, r.Frontier[1], back.Frontier[1])
	assert.Equal(t, r.LearningRates, back.LearningRates)
}
