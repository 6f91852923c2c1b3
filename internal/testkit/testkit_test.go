package testkit

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
)

func TestFixturesAreSeeded(t *testing.T) {
	require.Equal(t, ColourTask("ka", 6, 1), ColourTask("ka", 6, 1))
	require.NotEqual(t, ColourTask("ka", 6, 1).Train, ColourTask("ka", 6, 2).Train)

	cfg := testmodel.Config(48)
	a, b := RandomAdapter(t, cfg, "a", 4, 1, 0.1), RandomAdapter(t, cfg, "b", 4, 1, 0.1)
	for _, m := range a.Modules() {
		require.Equal(t, a.B[m].Data, b.B[m].Data, m.Path())
		require.NotZero(t, a.B[m].Data[0], "B is drawn, not zero")
	}

	l := ColourLearner(t)
	require.Equal(t, l.Tokenizer.VocabSize(), l.Model.Config.VocabSize)
	require.Equal(t, 4, l.LoRA.Rank)
}
