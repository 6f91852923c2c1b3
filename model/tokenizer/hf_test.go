package tokenizer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/tokenizer"
)

// tinySP is a Llama 2 style tokenizer.json; MERGES is replaced by the merges in either format.
const tinySP = `{
 "version": "1.0",
 "added_tokens": [
  {"id": 0, "content": "<unk>", "special": true},
  {"id": 1, "content": "<s>", "special": true},
  {"id": 2, "content": "</s>", "special": true}],
 "normalizer": {"type": "Sequence", "normalizers": [
  {"type": "Prepend", "prepend": "▁"},
  {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
 "pre_tokenizer": null,
 "post_processor": {"type": "TemplateProcessing", "single": [
  {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
 "decoder": null,
 "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
  "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0xC3>": 3, "<0xA9>": 4, "▁": 5, "h": 6, "i": 7, "▁h": 8, "▁hi": 9},
  "merges": MERGES}
}`

func TestParseHFMergeFormats(t *testing.T) {
	for name, merges := range map[string]string{
		"strings": `["▁ h", "▁h i"]`,
		"pairs":   `[["▁", "h"], ["▁h", "i"]]`,
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := tokenizer.ParseHF([]byte(strings.Replace(tinySP, "MERGES", merges, 1)))
			require.NoError(t, err)
			assert.Equal(t, tokenizer.SentencePiece, tok.Flavour())
			assert.Equal(t, 10, tok.VocabSize())
			assert.Equal(t, 2, tok.NumMerges())
			assert.Equal(t, []int{1, 9, 9, 8}, tok.Encode("hi hi h", true, false))
			// é is not in the vocabulary: byte fallback; x has no byte tokens: <unk>, fused.
			assert.Equal(t, []int{9, 5, 3, 4, 0}, tok.Encode("hi éxx", false, false))
			assert.Equal(t, "hi hi h", tok.Decode([]int{1, 9, 9, 8, 2}))
			assert.Equal(t, "hi é", tok.Decode([]int{9, 5, 3, 4}))
		})
	}
}

func TestParseHFMetaspace(t *testing.T) {
	js := strings.Replace(tinySP, "MERGES", `["▁ h", "▁h i"]`, 1)
	js = strings.Replace(js, `"pre_tokenizer": null`, `"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}`, 1)
	js = strings.Replace(js, `"normalizer": {"type": "Sequence", "normalizers": [
  {"type": "Prepend", "prepend": "▁"},
  {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`, `"normalizer": null`, 1)
	tok, err := tokenizer.ParseHF([]byte(js))
	require.NoError(t, err)
	assert.Equal(t, []int{1, 9, 9}, tok.Encode("hi hi", true, false))
	// prepend_scheme "first": no "▁" after a special token.
	assert.Equal(t, []int{9, 2, 6, 7}, tok.Encode("hi</s>hi", false, false))
}

func TestParseHFErrors(t *testing.T) {
	good := strings.Replace(tinySP, "MERGES", `["▁ h", "▁h i"]`, 1)
	tests := []struct {
		name, old, new, want string
	}{
		{"not json", good, `{"model": `, "tokenizer.json"},
		{"model type", `"type": "BPE"`, `"type": "Unigram"`, "model.type"},
		{"empty vocab", `"vocab": {`, `"vocab": {}, "x": {`, "model.vocab"},
		{"merge not in vocab", `"▁h i"]`, `"▁h q"]`, "model.merges[1]"},
		{"merge without space", `"▁h i"]`, `"▁hi"]`, "model.merges[1]"},
		{"merge pair length", `["▁ h", "▁h i"]`, `[["▁", "h", "x"]]`, "model.merges[0]"},
		{"merges missing", `"merges": ["▁ h", "▁h i"]`, `"merges": null`, "model.merges"},
		{"unk", `"unk_token": "<unk>"`, `"unk_token": "<nope>"`, "model.unk_token"},
		{"normalizer", `"type": "Prepend"`, `"type": "NFKC"`, "normalizer.normalizers[0].type"},
		{"pre_tokenizer", `"pre_tokenizer": null`, `"pre_tokenizer": {"type": "Whitespace"}`, "pre_tokenizer.type"},
		{"split regex", `"pre_tokenizer": null`, `"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated"}`, "pre_tokenizer.pattern"},
		{"template", `{"id": "<s>", "type_id": 0}`, `{"id": "<bos>", "type_id": 0}`, "post_processor.single[0]"},
		{"added id", `{"id": 2, "content": "</s>"`, `{"id": 2, "content": "<eos>"`, "added_tokens"},
		{"no flavour", `"normalizer": {"type": "Sequence"`, `"normalizer": null, "x": {"type": "Sequence"`, "cannot tell the flavour"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := strings.Replace(good, tc.old, tc.new, 1)
			require.NotEqual(t, good, js, "the test's replacement must apply")
			path := filepath.Join(t.TempDir(), "tokenizer.json")
			require.NoError(t, os.WriteFile(path, []byte(js), 0o644))
			_, err := tokenizer.LoadHF(path)
			require.Error(t, err)
			assert.ErrorIs(t, err, tokenizer.ErrFormat)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := tokenizer.LoadHF(filepath.Join(t.TempDir(), "absent.json"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "absent.json")
}

func TestStream(t *testing.T) {
	tok, err := tokenizer.Train(corpus(16<<10), 600, tokenizer.TrainOptions{})
	require.NoError(t, err)
	for _, s := range roundTripStrings {
		st := tokenizer.NewStream(tok)
		var got strings.Builder
		for _, id := range tok.Encode(s, true, true) {
			piece := st.Add(id)
			assert.True(t, strings.ToValidUTF8(piece, "") == piece, "piece %q is not valid UTF-8", piece)
			got.WriteString(piece)
		}
		got.WriteString(st.Flush())
		assert.Equal(t, s, got.String())
	}
}
