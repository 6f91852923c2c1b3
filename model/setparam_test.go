package model

import (
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestSetParamTensors installs device values in place of the host tensors' uploads: the model computes
// with them until UpdateWeights uploads the host tensors again.
func TestSetParamTensors(t *testing.T) {
	m := newTestModel(t, testConfigs["gqa-untied"], 3)
	seqs := [][]int{{1, 2, 3}}
	before, err := m.Logits(seqs)
	require.NoError(t, err)
	const name = "model.norm.weight"
	host := m.Weights[name]
	scaled := make([]float32, len(host.Data))
	for i, v := range host.Data {
		scaled[i] = 2 * v
	}
	m.SetParamTensors([]string{name}, []*tensors.Tensor{tensors.FromFlatDataAndDimensions(scaled, host.Shape...)})
	changed, err := m.Logits(seqs)
	require.NoError(t, err)
	require.NotEqual(t, before, changed)
	require.False(t, slices.Equal(host.Data, scaled), "the host tensor is left as it was")
	m.UpdateWeights(name)
	after, err := m.Logits(seqs)
	require.NoError(t, err)
	require.Equal(t, before, after)

	require.Panics(t, func() { m.SetParamTensors([]string{"nope"}, []*tensors.Tensor{tensors.FromScalar(float32(1))}) })
	require.Panics(t, func() { m.SetParamTensors([]string{name}, nil) })
}
