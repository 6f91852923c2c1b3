package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

var sentences = []string{
	"the cat sat on the mat.",
	"the dog sat on the log.",
	"a cat and a dog are friends.",
	"the sun is hot and the moon is cold.",
	"once upon a time there was a little cat.",
}

// writeCheckpoint writes a tiny random model and a tokenizer trained on sentences to a new directory.
func writeCheckpoint(t *testing.T) (string, *tokenizer.BPE) {
	t.Helper()
	dir := t.TempDir()
	tok, err := tokenizer.Train(sentences, 300, tokenizer.TrainOptions{})
	require.NoError(t, err)
	require.NoError(t, tok.Save(filepath.Join(dir, "tokenizer.json")))
	eos := tok.EOS()
	cfg := model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: tok.VocabSize(), MaxPositionEmbeddings: 128, EOSTokenID: eos}
	w := model.RandomWeights(cfg, rand.New(rand.NewPCG(3, 4)), 0.3, 0.1)
	require.NoError(t, model.SaveHF(dir, cfg, w, model.SaveOptions{}))
	return dir, tok
}

func runCapture(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestGenerateHF(t *testing.T) {
	dir, tok := writeCheckpoint(t)
	code, out, errs := runCapture("-model", dir, "-prompt", "the cat", "-n", "12")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, errs, "tok/s")
	assert.Contains(t, errs, dir)
	require.True(t, strings.HasPrefix(out, "the cat"), out)
	cont := strings.TrimSuffix(strings.TrimPrefix(out, "the cat"), "\n")
	require.NotEmpty(t, cont, "the random model ended at once: pick another seed")

	// The printed continuation is the model's greedy output, decoded.
	cfg, w, err := model.LoadHF(dir)
	require.NoError(t, err)
	b, err := model.Backend()
	require.NoError(t, err)
	m, err := model.New(b, cfg, w)
	require.NoError(t, err)
	ids := tok.Encode("the cat", true, false)
	gen, err := m.Generate(t.Context(), [][]int{ids}, model.GenerateOptions{MaxNewTokens: 12})
	require.NoError(t, err)
	full := tok.Decode(append(ids, gen[0]...))
	assert.Equal(t, full+"\n", out)

	// -stop cuts the text before the stop string.
	stop := cont[len(cont)/2:][:1]
	want := "the cat" + cont[:strings.Index(cont, stop)] + "\n"
	code, out, errs = runCapture("-model", dir, "-prompt", "the cat", "-n", "12", "-stop", stop)
	require.Equal(t, 0, code, errs)
	assert.Equal(t, want, out, "stop %q", stop)

	// Sampling is reproducible for a seed; -batch prints one block per row.
	args := []string{"-model", dir, "-prompt", "a dog", "-n", "10", "-temperature", "1.2", "-top-k", "50",
		"-top-p", "0.95", "-seed", "7", "-batch", "3"}
	code, out1, errs := runCapture(args...)
	require.Equal(t, 0, code, errs)
	code, out2, _ := runCapture(args...)
	require.Equal(t, 0, code)
	assert.Equal(t, out1, out2)
	assert.Equal(t, 3, strings.Count(out1, "--- "), out1)
	assert.Contains(t, out1, "--- 3 ---\na dog")
	assert.Contains(t, errs, "batch 3")
}

func TestGenerateLlama2C(t *testing.T) {
	dir := t.TempDir()
	cfg := model.Config{HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2,
		VocabSize: 40, MaxPositionEmbeddings: 64, TieWordEmbeddings: true}
	bin := filepath.Join(dir, "model.bin")
	writeLlama2C(t, bin, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(5, 6)), 0.3, 0))
	// A llama2.c vocabulary: <unk>, <s>, </s>, then single letters and a few words.
	vocab := []string{"<unk>", "\n<s>\n", "\n</s>\n"}
	for c := 'a'; c <= 'z'; c++ {
		vocab = append(vocab, string(c))
	}
	vocab = append(vocab, " ", " the", " cat", "at", "he", "th", "ca", " a", " s", " d", " m")
	require.Len(t, vocab, cfg.VocabSize)
	tokPath := filepath.Join(dir, "tokenizer.bin")
	writeLlama2CTokenizer(t, tokPath, vocab)

	code, out, errs := runCapture("-llama2c", bin, "-tokenizer", tokPath, "-prompt", "the cat", "-n", "6")
	require.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(out, "the cat"), out)
	assert.Contains(t, errs, "tok/s")
}

func TestGenerateErrors(t *testing.T) {
	dir, _ := writeCheckpoint(t)
	noTok := t.TempDir()
	for _, f := range []string{model.ConfigFile, model.SafetensorsFile} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(noTok, f), data, 0o644))
	}
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown flag", []string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{"bad number", []string{"-n", "many"}, 2, `invalid value "many" for flag -n`},
		{"n", []string{"-n", "0"}, 2, "-n is 0"},
		{"batch", []string{"-batch", "-1"}, 2, "-batch is -1"},
		{"temperature", []string{"-temperature", "-1"}, 2, "-temperature is -1"},
		{"top-k", []string{"-top-k", "-2"}, 2, "-top-k is -2"},
		{"top-p", []string{"-top-p", "1.5"}, 2, "-top-p is 1.5"},
		{"empty prompt", []string{"-prompt", ""}, 2, "-prompt is empty"},
		{"stray argument", []string{"-model", dir, "hello"}, 2, `unexpected argument "hello"`},
		{"llama2c without tokenizer", []string{"-llama2c", "x.bin"}, 2, "-llama2c needs -tokenizer"},
		{"model and llama2c", []string{"-model", dir, "-llama2c", "x.bin", "-tokenizer", "t.bin"}, 2, "exclude each other"},
		{"missing model", []string{"-model", missing}, 1, "no model at " + missing},
		{"missing tokenizer.json", []string{"-model", noTok}, 1, filepath.Join(noTok, "tokenizer.json")},
		{"missing tokenizer", []string{"-model", dir, "-tokenizer", missing}, 1, missing},
		{"missing llama2c", []string{"-llama2c", missing, "-tokenizer", "t.bin"}, 1, missing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCapture(tc.args...)
			assert.Equal(t, tc.code, code, errs)
			assert.Contains(t, errs, tc.msg)
			assert.Empty(t, out)
			assert.NotContains(t, errs, "goroutine", "a stack trace")
		})
	}

	t.Run("default model absent", func(t *testing.T) {
		t.Chdir(t.TempDir())
		code, _, errs := runCapture()
		assert.Equal(t, 1, code)
		assert.Equal(t, "generate: no model at model/tiny/llama; pass -model DIR\n", errs)
	})
	t.Run("help", func(t *testing.T) {
		code, _, errs := runCapture("-h")
		assert.Equal(t, 0, code)
		assert.Contains(t, errs, "-top-p")
	})
}

// writeLlama2C writes cfg and w in llama2.c's legacy format (interleaved RoPE rows in wq and wk).
func writeLlama2C(t *testing.T, path string, cfg model.Config, w model.Weights) {
	t.Helper()
	cfg = cfg.WithDefaults()
	var buf bytes.Buffer
	put := func(v any) { require.NoError(t, binary.Write(&buf, binary.LittleEndian, v)) }
	vocab := int32(cfg.VocabSize)
	if !cfg.TieWordEmbeddings {
		vocab = -vocab
	}
	put([]int32{int32(cfg.HiddenSize), int32(cfg.IntermediateSize), int32(cfg.NumHiddenLayers),
		int32(cfg.NumAttentionHeads), int32(cfg.NumKeyValueHeads), vocab, int32(cfg.MaxPositionEmbeddings)})
	layers := func(name string, f func([]float32) []float32) {
		for l := range cfg.NumHiddenLayers {
			d := w["model.layers."+strconv.Itoa(l)+"."+name].Data
			if f != nil {
				d = f(d)
			}
			put(d)
		}
	}
	D, hd := cfg.HiddenSize, cfg.HeadDim
	put(w["model.embed_tokens.weight"].Data)
	layers("input_layernorm.weight", nil)
	layers("self_attn.q_proj.weight", func(d []float32) []float32 {
		return halfToInterleaved(d, cfg.NumAttentionHeads, hd, D)
	})
	layers("self_attn.k_proj.weight", func(d []float32) []float32 {
		return halfToInterleaved(d, cfg.NumKeyValueHeads, hd, D)
	})
	layers("self_attn.v_proj.weight", nil)
	layers("self_attn.o_proj.weight", nil)
	layers("post_attention_layernorm.weight", nil)
	layers("mlp.gate_proj.weight", nil)
	layers("mlp.down_proj.weight", nil)
	layers("mlp.up_proj.weight", nil)
	put(w["model.norm.weight"].Data)
	put(make([]float32, cfg.MaxPositionEmbeddings*hd)) // freq_cis_real and _imag, unused
	if !cfg.TieWordEmbeddings {
		put(w["lm_head.weight"].Data)
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

// halfToInterleaved permutes the rows of a Hugging Face q or k weight [heads·headDim, in] (RoPE pairs
// (j, j+headDim/2)) into llama2.c's interleaved layout (pairs (2j, 2j+1)), as model's loader undoes.
func halfToInterleaved(w []float32, heads, headDim, in int) []float32 {
	out := make([]float32, len(w))
	half := headDim / 2
	for h := range heads {
		for j := range half {
			for t := range 2 {
				hf, meta := h*headDim+t*half+j, h*headDim+2*j+t
				copy(out[meta*in:(meta+1)*in], w[hf*in:(hf+1)*in])
			}
		}
	}
	return out
}

// writeLlama2CTokenizer writes a llama2.c tokenizer.bin: the longest token's length, then per token
// its score, length and bytes. Longer tokens score higher so that they win merges.
func writeLlama2CTokenizer(t *testing.T, path string, vocab []string) {
	t.Helper()
	var buf bytes.Buffer
	maxLen := 0
	for _, s := range vocab {
		maxLen = max(maxLen, len(s))
	}
	require.NoError(t, binary.Write(&buf, binary.LittleEndian, int32(maxLen)))
	for i, s := range vocab {
		score := float32(len(s)) - float32(i)*1e-3
		if i < 3 {
			score = 0
		}
		require.NoError(t, binary.Write(&buf, binary.LittleEndian, math.Float32bits(score)))
		require.NoError(t, binary.Write(&buf, binary.LittleEndian, int32(len(s))))
		buf.WriteString(s)
	}
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}
