package tokenizer_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/tokenizer"
)

var (
	fuzzOnce sync.Once
	fuzzTok  [2]*tokenizer.BPE
	fuzzErr  error
)

// FuzzRoundTrip checks Decode(Encode(s)) == s on trained byte-fallback and byte-level tokenizers,
// for any bytes, invalid UTF-8 included. Text holding "▁" (which SentencePiece decodes as a space)
// or a special token's string is left out: neither round-trips by design.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range roundTripStrings {
		f.Add(s)
	}
	f.Add("\xff\xfe broken \xc3")
	f.Add("   \n\n  \t x")
	f.Fuzz(func(t *testing.T, s string) {
		fuzzOnce.Do(func() {
			texts := corpus(16 << 10)
			if fuzzTok[0], fuzzErr = tokenizer.Train(texts, 512, tokenizer.TrainOptions{}); fuzzErr != nil {
				return
			}
			fuzzTok[1], fuzzErr = tokenizer.Train(texts, 512, tokenizer.TrainOptions{Flavour: tokenizer.ByteLevel})
		})
		require.NoError(t, fuzzErr)
		for _, tok := range fuzzTok {
			if strings.Contains(s, "▁") || strings.Contains(s, "<s>") || strings.Contains(s, "</s>") ||
				strings.Contains(s, "<unk>") || strings.Contains(s, "<|") {
				continue
			}
			ids := tok.Encode(s, true, true)
			for _, id := range ids {
				require.True(t, id >= 0 && id < tok.VocabSize(), "id %d", id)
			}
			require.Equal(t, s, tok.Decode(ids), "%v: %v", tok.Flavour(), ids)
		}
	})
}
