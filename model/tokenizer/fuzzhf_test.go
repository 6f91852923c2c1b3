package tokenizer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/tokenizer"
)

// FuzzParseHF: any bytes as a tokenizer.json either load or give an error wrapping ErrFormat, never
// a panic; a tokenizer that loads encodes to ids inside its vocabulary, decodes any ids, and saves
// (where Save supports its pipeline) to a tokenizer.json that loads again and encodes the same.
func FuzzParseHF(f *testing.F) {
	sp := strings.Replace(tinySP, "MERGES", `["▁ h", "▁h i"]`, 1)
	f.Add([]byte(sp))
	f.Add([]byte(strings.Replace(tinySP, "MERGES", `[["▁", "h"], ["▁h", "i"]]`, 1)))
	f.Add([]byte(strings.Replace(sp, `"pre_tokenizer": null`,
		`"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}`, 1)))
	for _, fl := range []tokenizer.Flavour{tokenizer.SentencePiece, tokenizer.ByteLevel} {
		tok, err := tokenizer.Train([]string{"hello world", "hello there", "héllo wörld 123"}, 270, tokenizer.TrainOptions{Flavour: fl})
		require.NoError(f, err)
		js, err := tok.MarshalJSON()
		require.NoError(f, err)
		f.Add(js)
	}
	if b, err := os.ReadFile(filepath.Join("..", "tiny", "llama", "tokenizer.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {}, "merges": []}}`))
	f.Add([]byte(`{"model": null}`))
	f.Add([]byte("\xff\xfe"))
	texts := []string{"hi hi h", "hello wörld", "\xff\xc3 x</s><s>", "", "  \n\t"}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := tokenizer.ParseHF(data)
		if err != nil {
			require.ErrorIs(t, err, tokenizer.ErrFormat)
			require.Nil(t, tok)
			return
		}
		n := tok.VocabSize()
		require.Positive(t, n)
		var encs [][]int
		for _, s := range texts {
			ids := tok.Encode(s, true, true)
			for _, id := range ids {
				require.True(t, id >= 0 && id < n, "id %d of %d", id, n)
			}
			tok.Decode(ids)
			encs = append(encs, ids)
		}
		tok.Decode([]int{-1, n, n + 1000, 0})
		js, err := tok.MarshalJSON()
		if err != nil { // what Save cannot write (a Metaspace pre-tokenizer) is refused as such
			require.ErrorIs(t, err, tokenizer.ErrFormat)
			return
		}
		again, err := tokenizer.ParseHF(js)
		require.NoError(t, err, "a loaded tokenizer saves to one that loads")
		for i, s := range texts {
			require.Equal(t, encs[i], again.Encode(s, true, true), "%q", s)
		}
	})
}
