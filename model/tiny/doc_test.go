package tiny_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/packs"
)

// TestDocStatesTheShippedModel: the numbers doc.go gives for the shipped model (its size and shape,
// its vocabulary, what it was pretrained on) are the embedded model's and the packs', so that a
// retrained model cannot leave them stale.
func TestDocStatesTheShippedModel(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
	m, _, err := tiny.Load(nil)
	require.NoError(t, err)
	c := m.Config.WithDefaults()
	base, err := packs.Base(packs.Options{})
	require.NoError(t, err)
	man, err := packs.ReadManifest()
	require.NoError(t, err)
	require.True(t, c.TieWordEmbeddings, "doc.go says the head is tied")
	for _, want := range []string{
		fmt.Sprintf("(%.1fM parameters: hidden %d, %d layers, %d heads, %d KV heads, MLP %d, tied head, a %s-token BPE vocabulary",
			float64(c.NumParams())/1e6, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads,
			c.IntermediateSize, thousands(c.VocabSize)),
		fmt.Sprintf("on %.0f MB of general English text", float64(man.General.Bytes)/1e6),
		fmt.Sprintf("the base pack's %s facts", thousands(len(base.Test))),
	} {
		assert.Contains(t, doc, want)
	}
}

// thousands writes n with commas between groups of three digits, as the docs do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
