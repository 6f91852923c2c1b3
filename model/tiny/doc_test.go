package tiny_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/docnum"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/packs"
)

// TestDocStatesTheShippedModel: the numbers doc.go gives for the shipped model (its size and shape,
// its vocabulary, what it was pretrained on) are the embedded model's and the packs', so that a
// retrained model cannot leave them stale.
func TestDocStatesTheShippedModel(t *testing.T) {
	m, _, err := tiny.Load(nil)
	require.NoError(t, err)
	c := m.Config.WithDefaults()
	base, err := packs.Base(packs.Options{})
	require.NoError(t, err)
	man, err := packs.ReadManifest()
	require.NoError(t, err)
	require.True(t, c.TieWordEmbeddings, "doc.go says the head is tied")
	docnum.Check(t, "doc.go",
		fmt.Sprintf("(%.1fM parameters: hidden %d, %d layers, %d heads, %d KV heads, MLP %d, tied head, a %s-token BPE vocabulary",
			float64(c.NumParams())/1e6, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads,
			c.IntermediateSize, docnum.Thousands(c.VocabSize)),
		fmt.Sprintf("on %.0f MB of general English text", float64(man.General.Bytes)/1e6),
		fmt.Sprintf("the base pack's %s facts", docnum.Thousands(len(base.Test))),
	)
}
