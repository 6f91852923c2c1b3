package testmodel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTinyIsSeeded(t *testing.T) {
	cfg := Config(48)
	require.Equal(t, 48, cfg.VocabSize)
	a, b, c := Tiny(t, cfg, 1), Tiny(t, cfg, 1), Tiny(t, cfg, 2)
	require.Equal(t, cfg.HiddenSize, a.Config.HiddenSize)
	name := a.ParamNames()[0]
	require.Equal(t, a.Weights[name].Data, b.Weights[name].Data, "same seed, same weights")
	require.NotEqual(t, a.Weights[name].Data, c.Weights[name].Data, "another seed, other weights")
}
