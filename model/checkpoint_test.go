package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model/safetensors"
)

func tinyConfig(tied bool) Config {
	return Config{HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: 20, TieWordEmbeddings: tied}
}

func tinyWeights(t *testing.T, cfg Config, seed uint64) Weights {
	t.Helper()
	w := RandomWeights(cfg, rand.New(rand.NewPCG(seed, 7)), 0.5, 0.1)
	require.NoError(t, w.Check(cfg))
	return w
}

// toSafetensors converts a subset of w for writing test files by hand.
func toSafetensors(w Weights) map[string]safetensors.Tensor {
	out := map[string]safetensors.Tensor{}
	for name, t := range w {
		out[name] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
	}
	return out
}

func requireWeightsBits(t *testing.T, want, got Weights, round func(float32) float32) {
	t.Helper()
	require.Len(t, got, len(want))
	for name, tw := range want {
		tg, ok := got[name]
		require.True(t, ok, "missing %s", name)
		require.Equal(t, tw.Shape, tg.Shape, name)
		for i, v := range tw.Data {
			require.Equal(t, math.Float32bits(round(v)), math.Float32bits(tg.Data[i]), "%s[%d]", name, i)
		}
	}
}

func TestSaveLoadHFRoundTrip(t *testing.T) {
	exact := func(v float32) float32 { return v }
	bf16 := func(v float32) float32 { return safetensors.BF16ToFloat32(safetensors.Float32ToBF16(v)) }
	f16 := func(v float32) float32 { return safetensors.F16ToFloat32(safetensors.Float32ToF16(v)) }
	tests := []struct {
		name       string
		tied       bool
		opt        SaveOptions
		round      func(float32) float32
		torchDType string
		minShards  int
	}{
		{"F32 default", false, SaveOptions{}, exact, "float32", 0},
		{"F32 tied", true, SaveOptions{DType: "F32"}, exact, "float32", 0},
		{"BF16", false, SaveOptions{DType: "BF16"}, bf16, "bfloat16", 0},
		{"F16", true, SaveOptions{DType: "F16"}, f16, "float16", 0},
		{"F32 sharded", false, SaveOptions{MaxShardBytes: 4096}, exact, "float32", 3},
		{"BF16 sharded tiny shards", true, SaveOptions{DType: "BF16", MaxShardBytes: 1}, bf16, "bfloat16", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ckpt") // SaveHF creates it
			cfg := tinyConfig(tc.tied)
			w := tinyWeights(t, cfg, 1)
			require.NoError(t, SaveHF(dir, cfg, w, tc.opt))

			gotCfg, got, err := LoadHF(dir)
			require.NoError(t, err)
			requireWeightsBits(t, w, got, tc.round)
			want := cfg.WithDefaults()
			want.Architectures, want.TorchDType = []string{"LlamaForCausalLM"}, tc.torchDType
			assert.Equal(t, want, gotCfg)

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var files []string
			for _, e := range entries {
				files = append(files, e.Name())
			}
			if tc.minShards == 0 {
				assert.Equal(t, []string{ConfigFile, SafetensorsFile}, files)
				return
			}
			var index struct {
				Metadata  map[string]int64  `json:"metadata"`
				WeightMap map[string]string `json:"weight_map"`
			}
			data, err := os.ReadFile(filepath.Join(dir, IndexFile))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &index))
			var total int64
			size := map[string]int64{"": 4, "F32": 4, "BF16": 2}[tc.opt.DType]
			for _, tw := range w {
				total += int64(tw.Size()) * size
			}
			assert.Equal(t, total, index.Metadata["total_size"])
			assert.Len(t, index.WeightMap, len(w))
			shards := slices.Compact(slices.Sorted(func(yield func(string) bool) {
				for _, f := range index.WeightMap {
					if !yield(f) {
						return
					}
				}
			}))
			assert.GreaterOrEqual(t, len(shards), tc.minShards)
			for i, s := range shards {
				assert.Equal(t, fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards)), s)
			}
			assert.Len(t, files, len(shards)+2, "config, index and shards only: %v", files)
		})
	}
}

func TestSaveHFSwitchesLayout(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(false)
	w := tinyWeights(t, cfg, 2)
	require.NoError(t, SaveHF(dir, cfg, w, SaveOptions{MaxShardBytes: 2048}))
	require.NoError(t, SaveHF(dir, cfg, w, SaveOptions{}))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "shards and index of the first save must be gone")

	w2 := tinyWeights(t, cfg, 3)
	require.NoError(t, SaveHF(dir, cfg, w2, SaveOptions{MaxShardBytes: 4096}))
	assert.NoFileExists(t, filepath.Join(dir, SafetensorsFile))
	_, got, err := LoadHF(dir)
	require.NoError(t, err)
	requireWeightsBits(t, w2, got, func(v float32) float32 { return v })
}

func TestSaveHFErrors(t *testing.T) {
	cfg := tinyConfig(false)
	w := tinyWeights(t, cfg, 4)
	delete(w, "model.norm.weight")
	tests := []struct {
		name string
		cfg  Config
		w    Weights
		opt  SaveOptions
		want string
	}{
		{"bad dtype", cfg, tinyWeights(t, cfg, 4), SaveOptions{DType: "bf16"}, `DType must be F32, BF16 or F16, got "bf16"`},
		{"negative shard", cfg, tinyWeights(t, cfg, 4), SaveOptions{MaxShardBytes: -1}, "MaxShardBytes"},
		{"missing tensor", cfg, w, SaveOptions{}, `"model.norm.weight"`},
		{"bad config", Config{HiddenSize: 16}, w, SaveOptions{}, "intermediate_size"},
		{"tied with lm_head", tinyConfig(true), tinyWeights(t, cfg, 4), SaveOptions{}, `unexpected tensor "lm_head.weight"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := SaveHF(dir, tc.cfg, tc.w, tc.opt)
			require.ErrorContains(t, err, tc.want)
			entries, _ := os.ReadDir(dir)
			assert.Empty(t, entries, "nothing written on a rejected save")
		})
	}
}

// writeCheckpoint writes config.json (via SaveHF) and then replaces the weights with tensors.
func writeCheckpoint(t *testing.T, tied bool, edit func(map[string]safetensors.Tensor)) string {
	t.Helper()
	dir := t.TempDir()
	cfg := tinyConfig(tied)
	w := tinyWeights(t, cfg, 5)
	require.NoError(t, SaveHF(dir, cfg, w, SaveOptions{}))
	tensors := toSafetensors(w)
	edit(tensors)
	require.NoError(t, safetensors.Write(filepath.Join(dir, SafetensorsFile), tensors, safetensors.F32, nil))
	return dir
}

func TestLoadHFIgnoresHarmlessExtras(t *testing.T) {
	dir := writeCheckpoint(t, true, func(m map[string]safetensors.Tensor) {
		m["model.layers.0.self_attn.rotary_emb.inv_freq"] = safetensors.Tensor{Shape: []int{2}, Data: []float32{1, 0.1}}
		m["lm_head.weight"] = m["model.embed_tokens.weight"]
	})
	cfg, w, err := LoadHF(dir)
	require.NoError(t, err)
	require.NoError(t, w.Check(cfg))
	assert.NotContains(t, w, "lm_head.weight")
}

func TestLoadHFErrors(t *testing.T) {
	st := func(dir string) string { return filepath.Join(dir, SafetensorsFile) }
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the checkpoint dir
		want  func(dir string) []string
	}{
		{"missing tensor", func(t *testing.T) string {
			return writeCheckpoint(t, false, func(m map[string]safetensors.Tensor) { delete(m, "model.layers.1.mlp.up_proj.weight") })
		}, func(dir string) []string {
			return []string{dir, `missing tensor "model.layers.1.mlp.up_proj.weight" [24 16]`, SafetensorsFile}
		}},
		{"tied model loses its embedding", func(t *testing.T) string {
			return writeCheckpoint(t, true, func(m map[string]safetensors.Tensor) { delete(m, "model.embed_tokens.weight") })
		}, func(dir string) []string { return []string{`"model.embed_tokens.weight"`} }},
		{"untied model lacks lm_head", func(t *testing.T) string {
			return writeCheckpoint(t, false, func(m map[string]safetensors.Tensor) { delete(m, "lm_head.weight") })
		}, func(dir string) []string { return []string{`missing tensor "lm_head.weight"`} }},
		{"unexpected tensor", func(t *testing.T) string {
			return writeCheckpoint(t, false, func(m map[string]safetensors.Tensor) {
				m["model.layers.0.self_attn.q_proj.bias"] = safetensors.Tensor{Shape: []int{16}, Data: make([]float32, 16)}
			})
		}, func(dir string) []string {
			return []string{st(dir), `unexpected tensor "model.layers.0.self_attn.q_proj.bias"`}
		}},
		{"shape contradicts config", func(t *testing.T) string {
			return writeCheckpoint(t, false, func(m map[string]safetensors.Tensor) {
				m["model.layers.0.self_attn.k_proj.weight"] = safetensors.Tensor{Shape: []int{16, 16}, Data: make([]float32, 256)}
			})
		}, func(dir string) []string {
			return []string{st(dir), `"model.layers.0.self_attn.k_proj.weight"`, "[16 16]", "[8 16]", ConfigFile}
		}},
		{"truncated file", func(t *testing.T) string {
			dir := writeCheckpoint(t, false, func(map[string]safetensors.Tensor) {})
			data, err := os.ReadFile(st(dir))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(st(dir), data[:len(data)-10], 0o644))
			return dir
		}, func(dir string) []string { return []string{st(dir), "tensor", "outside"} }},
		{"corrupt header", func(t *testing.T) string {
			dir := writeCheckpoint(t, false, func(map[string]safetensors.Tensor) {})
			data, err := os.ReadFile(st(dir))
			require.NoError(t, err)
			data[8] = '['
			require.NoError(t, os.WriteFile(st(dir), data, 0o644))
			return dir
		}, func(dir string) []string { return []string{st(dir), "header"} }},
		{"unknown dtype", func(t *testing.T) string {
			dir := writeCheckpoint(t, false, func(map[string]safetensors.Tensor) {})
			data, err := os.ReadFile(st(dir))
			require.NoError(t, err)
			s := strings.Replace(string(data), `"model.norm.weight":{"dtype":"F32"`, `"model.norm.weight":{"dtype":"F8X"`, 1)
			require.NotEqual(t, string(data), s)
			require.NoError(t, os.WriteFile(st(dir), []byte(s), 0o644))
			return dir
		}, func(dir string) []string { return []string{st(dir), `"model.norm.weight"`, `unknown dtype "F8X"`} }},
		{"integer dtype", func(t *testing.T) string {
			dir := writeCheckpoint(t, false, func(map[string]safetensors.Tensor) {})
			data, err := os.ReadFile(st(dir))
			require.NoError(t, err)
			s := strings.Replace(string(data), `"model.norm.weight":{"dtype":"F32"`, `"model.norm.weight":{"dtype":"I32"`, 1)
			require.NoError(t, os.WriteFile(st(dir), []byte(s), 0o644))
			return dir
		}, func(dir string) []string { return []string{st(dir), `"model.norm.weight"`, "I32", "not a float type"} }},
		{"no weights", func(t *testing.T) string {
			dir := writeCheckpoint(t, false, func(map[string]safetensors.Tensor) {})
			require.NoError(t, os.Remove(st(dir)))
			return dir
		}, func(dir string) []string { return []string{dir, SafetensorsFile, IndexFile} }},
		{"no config", func(t *testing.T) string {
			dir := writeCheckpoint(t, false, func(map[string]safetensors.Tensor) {})
			require.NoError(t, os.Remove(filepath.Join(dir, ConfigFile)))
			return dir
		}, func(dir string) []string { return []string{filepath.Join(dir, ConfigFile)} }},
		{"config invalid", func(t *testing.T) string {
			dir := writeCheckpoint(t, false, func(map[string]safetensors.Tensor) {})
			require.NoError(t, os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"hidden_size": 16}`), 0o644))
			return dir
		}, func(dir string) []string { return []string{filepath.Join(dir, ConfigFile), "intermediate_size"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t)
			_, _, err := LoadHF(dir)
			require.Error(t, err)
			for _, w := range tc.want(dir) {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestLoadHFShardErrors(t *testing.T) {
	sharded := func(t *testing.T) (string, map[string]any) {
		dir := t.TempDir()
		cfg := tinyConfig(false)
		require.NoError(t, SaveHF(dir, cfg, tinyWeights(t, cfg, 6), SaveOptions{MaxShardBytes: 4096}))
		data, err := os.ReadFile(filepath.Join(dir, IndexFile))
		require.NoError(t, err)
		var index map[string]any
		require.NoError(t, json.Unmarshal(data, &index))
		return dir, index
	}
	writeIndex := func(t *testing.T, dir string, index any) {
		data, err := json.Marshal(index)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFile), data, 0o644))
	}
	// model.norm.weight sorts last, so it lives in the last shard, never in the first.
	const first, last = "model-00001-of-00006.safetensors", "model-00006-of-00006.safetensors"
	tests := []struct {
		name string
		edit func(t *testing.T, dir string, index map[string]any)
		want []string
	}{
		{"missing shard file", func(t *testing.T, dir string, index map[string]any) {
			require.NoError(t, os.Remove(filepath.Join(dir, last)))
		}, []string{last}},
		{"index points to the wrong shard", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"].(map[string]any)["model.norm.weight"] = first
			writeIndex(t, dir, index)
		}, []string{`"model.norm.weight"`, IndexFile, first, last}},
		{"tensor not in index", func(t *testing.T, dir string, index map[string]any) {
			delete(index["weight_map"].(map[string]any), "model.norm.weight")
			writeIndex(t, dir, index)
		}, []string{`"model.norm.weight"`, "not in " + IndexFile}},
		{"index lists an absent tensor", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"].(map[string]any)["model.extra.weight"] = first
			writeIndex(t, dir, index)
		}, []string{`"model.extra.weight"`, "does not hold it"}},
		{"path escape", func(t *testing.T, dir string, index map[string]any) {
			index["weight_map"].(map[string]any)["model.norm.weight"] = "../" + last
			writeIndex(t, dir, index)
		}, []string{`"model.norm.weight"`, "not a file name"}},
		{"empty weight map", func(t *testing.T, dir string, index map[string]any) {
			writeIndex(t, dir, map[string]any{"metadata": map[string]any{}})
		}, []string{IndexFile, "weight_map"}},
		{"corrupt index", func(t *testing.T, dir string, index map[string]any) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFile), []byte("{"), 0o644))
		}, []string{IndexFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, index := sharded(t)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 8, "the test expects 6 shards")
			require.Equal(t, last, index["weight_map"].(map[string]any)["model.norm.weight"])
			tc.edit(t, dir, index)
			_, _, err = LoadHF(dir)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

// writeLlama2C writes a llama2.c (legacy version 0) checkpoint from HF-layout weights, converting q
// and k to the interleaved RoPE layout with its own index arithmetic (independent of the code under
// test): llama2.c row 2j+t of a head is HF row t·headDim/2 + j.
func writeLlama2C(t *testing.T, path string, cfg Config, w Weights, header *[7]int32) {
	t.Helper()
	cfg = cfg.WithDefaults()
	hd := cfg.HeadDim
	toMeta := func(x *Tensor, heads int) []float32 {
		in := x.Shape[1]
		out := make([]float32, len(x.Data))
		for h := range heads {
			for r := range hd {
				j, tt := r/2, r%2
				src := h*hd + tt*hd/2 + j
				copy(out[(h*hd+r)*in:], x.Data[src*in:(src+1)*in])
			}
		}
		return out
	}
	vocab := int32(cfg.VocabSize)
	if !cfg.TieWordEmbeddings {
		vocab = -vocab
	}
	h := [7]int32{int32(cfg.HiddenSize), int32(cfg.IntermediateSize), int32(cfg.NumHiddenLayers),
		int32(cfg.NumAttentionHeads), int32(cfg.NumKeyValueHeads), vocab, int32(cfg.MaxPositionEmbeddings)}
	if header != nil {
		h = *header
	}
	var buf []byte
	for _, v := range h {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
	}
	put := func(vals []float32) {
		for _, v := range vals {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	layer := func(pattern string, f func(x *Tensor) []float32) {
		for l := range cfg.NumHiddenLayers {
			put(f(w[strings.ReplaceAll(pattern, "N", strconv.Itoa(l))]))
		}
	}
	plain := func(x *Tensor) []float32 { return x.Data }
	put(w["model.embed_tokens.weight"].Data)
	layer("model.layers.N.input_layernorm.weight", plain)
	layer("model.layers.N.self_attn.q_proj.weight", func(x *Tensor) []float32 { return toMeta(x, cfg.NumAttentionHeads) })
	layer("model.layers.N.self_attn.k_proj.weight", func(x *Tensor) []float32 { return toMeta(x, cfg.NumKeyValueHeads) })
	layer("model.layers.N.self_attn.v_proj.weight", plain)
	layer("model.layers.N.self_attn.o_proj.weight", plain)
	layer("model.layers.N.post_attention_layernorm.weight", plain)
	layer("model.layers.N.mlp.gate_proj.weight", plain)
	layer("model.layers.N.mlp.down_proj.weight", plain)
	layer("model.layers.N.mlp.up_proj.weight", plain)
	put(w["model.norm.weight"].Data)
	put(make([]float32, 2*cfg.MaxPositionEmbeddings*hd/2)) // freq_cis_real, freq_cis_imag
	if !cfg.TieWordEmbeddings {
		put(w["lm_head.weight"].Data)
	}
	require.NoError(t, os.WriteFile(path, buf, 0o644))
}

func TestLoadLlama2C(t *testing.T) {
	for _, tied := range []bool{true, false} {
		t.Run(map[bool]string{true: "shared classifier", false: "separate classifier"}[tied], func(t *testing.T) {
			cfg := tinyConfig(tied)
			cfg.MaxPositionEmbeddings = 12
			w := tinyWeights(t, cfg, 8)
			path := filepath.Join(t.TempDir(), "model.bin")
			writeLlama2C(t, path, cfg, w, nil)
			got, gw, err := LoadLlama2C(path)
			require.NoError(t, err)
			assert.Equal(t, 16, got.HiddenSize)
			assert.Equal(t, 24, got.IntermediateSize)
			assert.Equal(t, 2, got.NumKeyValueHeads)
			assert.Equal(t, 4, got.HeadDim)
			assert.Equal(t, 12, got.MaxPositionEmbeddings)
			assert.Equal(t, tied, got.TieWordEmbeddings)
			assert.InDelta(t, 1e-5, got.RMSNormEps, 0)
			assert.InDelta(t, 10000, got.RopeTheta, 0)
			requireWeightsBits(t, w, gw, func(v float32) float32 { return v })

			// A llama2.c file converts to a Hugging Face checkpoint that loads back identically.
			dir := t.TempDir()
			require.NoError(t, SaveHF(dir, got, gw, SaveOptions{}))
			_, hw, err := LoadHF(dir)
			require.NoError(t, err)
			requireWeightsBits(t, gw, hw, func(v float32) float32 { return v })
		})
	}
}

// TestRoPEPermutationPreservesScores checks the meaning of the permutation: attention scores computed
// llama2.c's way (interleaved RoPE on the original rows) equal those computed Hugging Face's way
// (rotate-half RoPE on the permuted rows).
func TestRoPEPermutationPreservesScores(t *testing.T) {
	const heads, hd, in = 3, 8, 5
	rng := rand.New(rand.NewPCG(9, 9))
	randn := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(rng.NormFloat64())
		}
		return out
	}
	wqMeta, wkMeta, x1, x2 := randn(heads*hd*in), randn(heads*hd*in), randn(in), randn(in)
	wqHF, wkHF := interleavedToHalfRoPE(wqMeta, heads, hd, in), interleavedToHalfRoPE(wkMeta, heads, hd, in)
	require.Equal(t, wqMeta, halfToInterleavedRoPE(wqHF, heads, hd, in))
	matvec := func(w, x []float32) []float64 {
		out := make([]float64, len(w)/len(x))
		for r := range out {
			for c, v := range x {
				out[r] += float64(w[r*len(x)+c]) * float64(v)
			}
		}
		return out
	}
	theta := func(j, pos int) float64 { return float64(pos) * math.Pow(10000, -2*float64(j)/hd) }
	interleaved := func(v []float64, pos int) {
		for h := range heads {
			for j := range hd / 2 {
				a, b := &v[h*hd+2*j], &v[h*hd+2*j+1]
				c, s := math.Cos(theta(j, pos)), math.Sin(theta(j, pos))
				*a, *b = *a*c-*b*s, *a*s+*b*c
			}
		}
	}
	rotateHalf := func(v []float64, pos int) {
		for h := range heads {
			for j := range hd / 2 {
				a, b := &v[h*hd+j], &v[h*hd+j+hd/2]
				c, s := math.Cos(theta(j, pos)), math.Sin(theta(j, pos))
				*a, *b = *a*c-*b*s, *a*s+*b*c
			}
		}
	}
	scores := func(q, k []float64) []float64 {
		out := make([]float64, heads)
		for h := range heads {
			for i := range hd {
				out[h] += q[h*hd+i] * k[h*hd+i]
			}
		}
		return out
	}
	for _, pos := range [][2]int{{0, 0}, {3, 1}, {7, 5}, {100, 2}} {
		qm, km := matvec(wqMeta, x1), matvec(wkMeta, x2)
		interleaved(qm, pos[0])
		interleaved(km, pos[1])
		qh, kh := matvec(wqHF, x1), matvec(wkHF, x2)
		rotateHalf(qh, pos[0])
		rotateHalf(kh, pos[1])
		assert.InDeltaSlice(t, scores(qm, km), scores(qh, kh), 1e-9, "positions %v", pos)
	}
	assert.Panics(t, func() { interleavedToHalfRoPE(make([]float32, 10), 1, 3, 3) })
}

func TestLoadLlama2CErrors(t *testing.T) {
	cfg := tinyConfig(true)
	cfg.MaxPositionEmbeddings = 8
	w := tinyWeights(t, cfg, 10)
	good := [7]int32{16, 24, 2, 4, 2, 20, 8}
	tests := []struct {
		name   string
		header [7]int32
		trim   int // bytes cut from the end (negative: appended)
		want   []string
	}{
		{"zero dim", [7]int32{0, 24, 2, 4, 2, 20, 8}, 0, []string{"dim must be > 0, got 0"}},
		{"negative layers", [7]int32{16, 24, -2, 4, 2, 20, 8}, 0, []string{"n_layers must be > 0"}},
		{"zero kv heads", [7]int32{16, 24, 2, 4, 0, 20, 8}, 0, []string{"n_kv_heads must be > 0"}},
		{"zero seq_len", [7]int32{16, 24, 2, 4, 2, 20, 0}, 0, []string{"seq_len must be > 0"}},
		{"dim not divisible", [7]int32{16, 24, 2, 3, 1, 20, 8}, 0, []string{"dim (16) is not divisible by n_heads (3)"}},
		{"heads not divisible", [7]int32{16, 24, 2, 4, 3, 20, 8}, 0, []string{"n_heads (4) is not divisible by n_kv_heads (3)"}},
		{"odd head size", [7]int32{12, 24, 2, 4, 2, 20, 8}, 0, []string{"odd head size 3"}},
		{"truncated", good, 4, []string{"file is", "implies"}},
		{"trailing bytes", good, -4, []string{"file is", "implies"}},
		{"classifier flag wrong", [7]int32{16, 24, 2, 4, 2, -20, 8}, 0, []string{"separate classifier"}},
		{"huge header", [7]int32{1 << 30, math.MaxInt32, math.MaxInt32, 1, 1, math.MaxInt32, math.MaxInt32}, 0, []string{"implies more than 2^64 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.bin")
			writeLlama2C(t, path, cfg, w, &tc.header)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			if tc.trim > 0 {
				data = data[:len(data)-tc.trim]
			} else {
				data = append(data, make([]byte, -tc.trim)...)
			}
			require.NoError(t, os.WriteFile(path, data, 0o644))
			_, _, err = LoadLlama2C(path)
			require.Error(t, err)
			assert.ErrorContains(t, err, path)
			for _, s := range tc.want {
				assert.ErrorContains(t, err, s)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "v1.bin")
	require.NoError(t, os.WriteFile(path, binary.LittleEndian.AppendUint32(nil, 0x616b3432), 0o644))
	_, _, err := LoadLlama2C(path)
	assert.ErrorContains(t, err, "legacy version 0")
	path = filepath.Join(t.TempDir(), "short.bin")
	require.NoError(t, os.WriteFile(path, []byte{1, 2, 3}, 0o644))
	_, _, err = LoadLlama2C(path)
	assert.ErrorContains(t, err, "shorter than the 28-byte header")
	_, _, err = LoadLlama2C(filepath.Join(t.TempDir(), "absent.bin"))
	assert.ErrorContains(t, err, "absent.bin")
}
