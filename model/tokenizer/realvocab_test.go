package tokenizer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/tokenizer"
)

// The real Llama vocabularies are not committed. internal/testdata/fetch-tokenizers.sh DIR writes
// them, with reference encodings from two npm packages, and ACCRETE_TOKENIZER_DATA=DIR points the
// tests at them.

const dataEnv = "ACCRETE_TOKENIZER_DATA"

type reference struct {
	Strings []string `json:"strings"`
	Llama2  [][]int  `json:"llama2"`
	Llama3  [][]int  `json:"llama3"`
}

var (
	realOnce       sync.Once
	realL2, realL3 *tokenizer.BPE
	realRef        reference
	realErr        error
)

func realData(t testing.TB) (l2, l3 *tokenizer.BPE, ref reference) {
	t.Helper()
	dir := os.Getenv(dataEnv)
	if dir == "" {
		t.Skipf("%s is unset: run internal/testdata/fetch-tokenizers.sh DIR and set %s=DIR", dataEnv, dataEnv)
	}
	realOnce.Do(func() {
		if realL2, realErr = tokenizer.LoadHF(filepath.Join(dir, "llama2", "tokenizer.json")); realErr != nil {
			return
		}
		if realL3, realErr = tokenizer.LoadHF(filepath.Join(dir, "llama3", "tokenizer.json")); realErr != nil {
			return
		}
		var data []byte
		if data, realErr = os.ReadFile(filepath.Join(dir, "reference.json")); realErr != nil {
			return
		}
		realErr = json.Unmarshal(data, &realRef)
	})
	require.NoError(t, realErr)
	return realL2, realL3, realRef
}

func TestRealVocabularies(t *testing.T) {
	l2, l3, ref := realData(t)
	require.Equal(t, tokenizer.SentencePiece, l2.Flavour())
	require.Equal(t, tokenizer.ByteLevel, l3.Flavour())
	assert.Equal(t, 32000, l2.VocabSize())
	assert.Equal(t, 128256, l3.VocabSize())
	assert.Equal(t, 1, l2.BOS())
	assert.Equal(t, 2, l2.EOS())
	assert.Equal(t, 128000, l3.BOS())
	assert.Equal(t, 128001, l3.EOS())
	assert.Equal(t, 128009, l3.IDOf("<|eot_id|>"))

	assert.Equal(t, []int{1, 15043, 2787}, l2.Encode("Hello World", true, false))
	assert.Equal(t, []int{128000, 9906, 4435}, l3.Encode("Hello World", true, false))
	assert.Equal(t, []int{1, 15043, 2787, 2}, l2.Encode("Hello World", true, true))
	assert.Equal(t, []int{1}, l2.Encode("", true, false))

	require.Len(t, ref.Llama2, len(ref.Strings))
	require.Len(t, ref.Llama3, len(ref.Strings))
	for i, s := range ref.Strings {
		t.Run(s, func(t *testing.T) {
			got2 := l2.Encode(s, true, false)
			assert.Equal(t, ref.Llama2[i], got2, "llama 2")
			assert.Equal(t, s, l2.Decode(got2), "llama 2 round trip")
			got3 := l3.Encode(s, true, false)
			assert.Equal(t, ref.Llama3[i], got3, "llama 3")
			assert.Equal(t, s, l3.Decode(got3), "llama 3 round trip")
		})
	}
}

func TestRealLlama3SpecialTokens(t *testing.T) {
	_, l3, _ := realData(t)
	ids := l3.Encode("<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>", true, false)
	assert.Equal(t, []int{128000, 128006, 882, 128007, 271, 13347, 0, 128009}, ids)
	assert.Equal(t, "user\n\nHi!", l3.Decode(ids))
}

func TestRealStream(t *testing.T) {
	l2, l3, ref := realData(t)
	for _, tok := range []tokenizer.Tokenizer{l2, l3} {
		for _, s := range ref.Strings {
			st := tokenizer.NewStream(tok)
			got := ""
			for _, id := range tok.Encode(s, true, true) {
				got += st.Add(id)
			}
			got += st.Flush()
			assert.Equal(t, s, got)
		}
	}
}

// realDataIfAny is realData without the skip: nils when the data is absent.
func realDataIfAny(b *testing.B) (l2, l3 *tokenizer.BPE, ref reference) {
	if os.Getenv(dataEnv) == "" {
		return nil, nil, reference{}
	}
	return realData(b)
}
