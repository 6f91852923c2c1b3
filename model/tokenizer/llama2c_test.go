package tokenizer_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/tokenizer"
)

// writeLlama2C writes a tokenizer.bin in llama2.c's layout: <unk>, <s>, </s>, the 256 byte tokens,
// then extra pieces with their scores.
func writeLlama2C(t *testing.T, extra []string, scores []float32) string {
	t.Helper()
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n"}
	sc := []float32{0, 0, 0}
	for b := range 256 {
		pieces = append(pieces, fmt.Sprintf("<0x%02X>", b))
		sc = append(sc, 0)
	}
	pieces = append(pieces, extra...)
	sc = append(sc, scores...)
	var buf bytes.Buffer
	maxLen := 0
	for _, p := range pieces {
		maxLen = max(maxLen, len(p))
	}
	le := binary.LittleEndian
	require.NoError(t, binary.Write(&buf, le, int32(maxLen)))
	for i, p := range pieces {
		require.NoError(t, binary.Write(&buf, le, math.Float32bits(sc[i])))
		require.NoError(t, binary.Write(&buf, le, int32(len(p))))
		buf.WriteString(p)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.bin")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

func TestLlama2C(t *testing.T) {
	//                 259  260  261  262  263  264   265   266   267      268
	extra := []string{" ", "h", "e", "l", "o", " h", "he", "ll", " hell", "lo"}
	scores := []float32{-1, -1, -1, -1, -1, -5, -2, -3, -4, -6}
	path := writeLlama2C(t, extra, scores)
	n := 259 + len(extra)
	tok, err := tokenizer.LoadLlama2C(path, n)
	require.NoError(t, err)
	assert.Equal(t, n, tok.VocabSize())
	assert.Equal(t, 1, tok.BOS())
	assert.Equal(t, 2, tok.EOS())
	assert.Equal(t, 2, tok.IDOf("</s>"))
	assert.Equal(t, 265, tok.IDOf("he"))
	assert.Equal(t, -1, tok.IDOf("nope"))

	tests := []struct {
		name string
		in   string
		bos  bool
		eos  bool
		want []int
	}{
		{"empty", "", true, false, []int{1}},
		{"empty no bos", "", false, false, nil},
		// " hello": "he" (-2) merges first, then "ll" (-3); " he", "hell" and "llo" are not
		// tokens, and "lo" lost its "l" to "ll".
		{"hello", "hello", true, true, []int{1, 259, 265, 266, 263, 2}},
		// Unknown characters fall back to bytes + 3.
		{"bytes", "é", false, false, []int{259, 0xC3 + 3, 0xA9 + 3}},
		// Ties go to the leftmost pair.
		{"tie", "lll", false, false, []int{259, 266, 262}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tok.Encode(tc.in, tc.bos, tc.eos)
			if len(tc.want) == 0 {
				assert.Empty(t, got)
			} else {
				assert.Equal(t, tc.want, got)
			}
			assert.Equal(t, tc.in, tok.Decode(got))
		})
	}
	for _, s := range []string{"hello hello", " héllo\n", "🦙 ok"} {
		assert.Equal(t, s, tok.Decode(tok.Encode(s, true, false)), "%q", s)
	}
}

func TestLlama2CErrors(t *testing.T) {
	path := writeLlama2C(t, []string{"a"}, []float32{0})
	_, err := tokenizer.LoadLlama2C(path, 300) // the file holds 260
	require.Error(t, err)
	assert.ErrorIs(t, err, tokenizer.ErrFormat)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "token 260 of 300")

	_, err = tokenizer.LoadLlama2C(filepath.Join(t.TempDir(), "missing.bin"), 300)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.bin")

	bad := filepath.Join(t.TempDir(), "bad.bin")
	require.NoError(t, os.WriteFile(bad, []byte{0xff, 0xff, 0xff, 0xff}, 0o644))
	_, err = tokenizer.LoadLlama2C(bad, 10)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_token_length")
}
