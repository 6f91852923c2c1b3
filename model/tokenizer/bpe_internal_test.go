package tokenizer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Encoding word by word must give the ids of BPE over the whole text when wordSafe holds.
func TestWordSafeSplitMatchesWholeText(t *testing.T) {
	text := strings.Repeat("a  lot of  words,   spaces\tand\nlines; ab abab  ba ", 40)
	tok, err := Train([]string{text}, 300, TrainOptions{})
	require.NoError(t, err)
	require.True(t, tok.wordSafe)
	fast := tok.Encode(text+" tail", true, false)
	tok.wordSafe = false
	assert.Equal(t, tok.Encode(text+" tail", true, false), fast)
}
