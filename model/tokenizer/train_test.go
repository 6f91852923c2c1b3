package tokenizer_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/tokenizer"
)

// corpus returns about n bytes of varied, deterministic text: sentences of made-up words, with
// some Cyrillic, Japanese, digits, emoji and code mixed in.
func corpus(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	syllables := []string{"ka", "lo", "ma", "re", "tin", "gu", "se", "pra", "no", "vi", "der", "st", "ell", "qu", "on", "ар", "ми", "ко", "日", "本", "語"}
	extras := []string{"1234", "3.14", "🦙", "x := f(y)", "It's", "don't", "\n\t", "(ok)", "—", "naïve"}
	var out []string
	size := 0
	for size < n {
		var sb strings.Builder
		words := 4 + rng.IntN(10)
		for w := range words {
			if w > 0 {
				sb.WriteByte(' ')
			}
			if rng.IntN(8) == 0 {
				sb.WriteString(extras[rng.IntN(len(extras))])
				continue
			}
			for range 1 + rng.IntN(3) {
				sb.WriteString(syllables[min(rng.IntN(len(syllables)), rng.IntN(len(syllables)))])
			}
		}
		sb.WriteString(".\n")
		out = append(out, sb.String())
		size += sb.Len()
	}
	return out
}

var roundTripStrings = []string{
	"Hello World",
	"The llama learns new facts, round 3.",
	"  leading and trailing  ",
	"tabs\tand\nnewlines\r\n",
	"unseen characters: ǅ ⅔ 🧬 ∮",
	"Каждый слой 日本のモデル",
	"",
	" ",
	"\x00control\x7f",
}

func TestTrain(t *testing.T) {
	texts := corpus(64 << 10)
	for _, flavour := range []tokenizer.Flavour{tokenizer.SentencePiece, tokenizer.ByteLevel} {
		for _, size := range []int{512, 1000} {
			t.Run(fmt.Sprintf("%v/%d", flavour, size), func(t *testing.T) {
				tok, err := tokenizer.Train(texts, size, tokenizer.TrainOptions{Flavour: flavour, SpecialTokens: []string{"<|eot_id|>"}})
				require.NoError(t, err)
				assert.Equal(t, size, tok.VocabSize())
				assert.Equal(t, flavour, tok.Flavour())
				assert.Equal(t, size-1, tok.IDOf("<|eot_id|>"))
				assert.GreaterOrEqual(t, tok.BOS(), 0)
				assert.GreaterOrEqual(t, tok.EOS(), 0)

				path := filepath.Join(t.TempDir(), "tokenizer.json")
				require.NoError(t, tok.Save(path))
				back, err := tokenizer.LoadHF(path)
				require.NoError(t, err)
				assert.Equal(t, tok.VocabSize(), back.VocabSize())
				assert.Equal(t, tok.NumMerges(), back.NumMerges())
				assert.Equal(t, tok.BOS(), back.BOS())
				assert.Equal(t, tok.EOS(), back.EOS())

				for _, s := range append(roundTripStrings, texts[:20]...) {
					ids := tok.Encode(s, true, true)
					assert.Equal(t, ids, back.Encode(s, true, true), "%q", s)
					assert.Equal(t, tok.BOS(), ids[0])
					assert.Equal(t, tok.EOS(), ids[len(ids)-1])
					for _, id := range ids {
						assert.Less(t, id, size)
					}
					assert.Equal(t, s, tok.Decode(ids), "%q", s)
				}
				// Training compresses the text it saw.
				ids := tok.Encode(texts[0], false, false)
				assert.Less(t, len(ids), len(texts[0])/2, "%q -> %v", texts[0], ids)
				// A special token written in text is one id.
				assert.Equal(t, []int{tok.BOS(), tok.BOS()}, tok.Encode(tok.Token(tok.BOS()), true, false))
				assert.Contains(t, tok.Encode("hi<|eot_id|>", false, false), size-1)
			})
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	texts := corpus(32 << 10)
	for _, flavour := range []tokenizer.Flavour{tokenizer.SentencePiece, tokenizer.ByteLevel} {
		a, err := tokenizer.Train(texts, 700, tokenizer.TrainOptions{Flavour: flavour})
		require.NoError(t, err)
		b, err := tokenizer.Train(texts, 700, tokenizer.TrainOptions{Flavour: flavour})
		require.NoError(t, err)
		ja, err := a.MarshalJSON()
		require.NoError(t, err)
		jb, err := b.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(ja), string(jb), "%v", flavour)
	}
}

func TestTrainSchema(t *testing.T) {
	tok, err := tokenizer.Train(corpus(8<<10), 512, tokenizer.TrainOptions{})
	require.NoError(t, err)
	assert.Equal(t, "<unk>", tok.Token(0))
	assert.Equal(t, "<s>", tok.Token(1))
	assert.Equal(t, "</s>", tok.Token(2))
	assert.Equal(t, "<0x00>", tok.Token(3))
	assert.Equal(t, "<0xFF>", tok.Token(258))
	j, err := tok.MarshalJSON()
	require.NoError(t, err)
	for _, want := range []string{`"type": "BPE"`, `"byte_fallback": true`, `"fuse_unk": true`, `"unk_token": "<unk>"`,
		`"type": "Prepend"`, `"type": "ByteFallback"`, `"type": "TemplateProcessing"`, `"special": true`} {
		assert.Contains(t, string(j), want)
	}
}

func TestTrainErrors(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
		size  int
		opts  tokenizer.TrainOptions
		want  string
	}{
		{"too small", corpus(1000), 100, tokenizer.TrainOptions{}, "vocabSize 100"},
		{"too little text", []string{"ab"}, 512, tokenizer.TrainOptions{}, "the texts give only"},
		{"bad flavour", corpus(100), 512, tokenizer.TrainOptions{Flavour: 7}, "TrainOptions.Flavour"},
		{"bad coverage", corpus(100), 512, tokenizer.TrainOptions{CharacterCoverage: 2}, "TrainOptions.CharacterCoverage"},
		{"bad special", corpus(100), 512, tokenizer.TrainOptions{SpecialTokens: []string{"a b"}}, "TrainOptions.SpecialTokens[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokenizer.Train(tc.texts, tc.size, tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestTrainSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	texts := corpus(1 << 20)
	start := time.Now()
	tok, err := tokenizer.Train(texts, 4096, tokenizer.TrainOptions{})
	require.NoError(t, err)
	t.Logf("trained 4096 ids on 1 MiB in %v", time.Since(start))
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, 4096, tok.VocabSize())
}

func TestSaveIsAtomic(t *testing.T) {
	tok, err := tokenizer.Train(corpus(8<<10), 512, tokenizer.TrainOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, tok.Save(path))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
	err = tok.Save(filepath.Join(dir, "missing", "tokenizer.json"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "{"))
}
