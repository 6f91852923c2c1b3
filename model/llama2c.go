package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"os"
)

// llama2cMagic is the first uint32 of the newer (version 1 and 2) llama2.c export formats (0x616b3432,
// "ak42" in ASCII).
const llama2cMagic = 0x616b3432

// llama2cFields names the 7 int32 of a llama2.c checkpoint header, in file order.
var llama2cFields = [7]string{"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"}

// LoadLlama2C loads a checkpoint in the legacy (version 0) format of Karpathy's llama2.c, the format
// run.c reads and stories15M.bin uses: a header of 7 little-endian int32 (dim, hidden_dim, n_layers,
// n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier is not shared
// with the embedding), then float32 arrays, each stacked over layers where it has one:
// token_embedding_table, rms_att_weight, wq, wk, wv, wo, rms_ffn_weight, w1, w2, w3,
// rms_final_weight, freq_cis_real and freq_cis_imag (ignored: RoPE is recomputed), and wcls when not
// shared. Every matrix is stored as PyTorch's nn.Linear weight, [out, in], as in Hugging Face.
//
// llama2.c applies RoPE to interleaved pairs (x[2i], x[2i+1]) of each head, as Meta's original code
// does, whereas Hugging Face (and this module) rotates the two halves of each head (x[i],
// x[i+head_dim/2]). So the rows of wq and wk are permuted within each head as transformers'
// convert_llama_weights_to_hf.py does: Hugging Face row t·head_dim/2 + j of a head is llama2.c row
// 2j + t. Attention scores, and so the whole model, are unchanged.
//
// The config gets rope_theta 10000, rms_norm_eps 1e-5, max_position_embeddings = seq_len and
// tie_word_embeddings = (vocab_size > 0). A header with a non-positive field, dim not divisible by
// n_heads, n_heads not divisible by n_kv_heads, an odd head size, or a file size other than the one
// the header implies is an error naming the file and the field.
func LoadLlama2C(path string) (Config, Weights, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("model: reading llama2.c checkpoint: %w", err)
	}
	const headerBytes = 7 * 4
	if len(data) >= 4 && binary.LittleEndian.Uint32(data) == llama2cMagic {
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: header starts with magic 0x616b3432 (export.py --version 1 or 2), only the legacy version 0 format is supported", path)
	}
	if len(data) < headerBytes {
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: %d bytes, shorter than the 28-byte header", path, len(data))
	}
	var h [7]int
	for i := range h {
		h[i] = int(int32(binary.LittleEndian.Uint32(data[4*i:])))
	}
	shared := h[5] > 0
	if h[5] < 0 {
		h[5] = -h[5]
	}
	for i, v := range h {
		if v <= 0 {
			return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: header field %s must be > 0, got %d", path, llama2cFields[i], v)
		}
	}
	dim, hidden, layers, heads, kvHeads, vocab, seqLen := h[0], h[1], h[2], h[3], h[4], h[5], h[6]
	switch {
	case dim%heads != 0:
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: header field dim (%d) is not divisible by n_heads (%d)", path, dim, heads)
	case heads%kvHeads != 0:
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: header field n_heads (%d) is not divisible by n_kv_heads (%d)", path, heads, kvHeads)
	case (dim/heads)%2 != 0:
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: header fields dim/n_heads give an odd head size %d", path, dim/heads)
	}
	headDim := dim / heads
	kvDim := kvHeads * headDim

	// The arrays in file order; an empty name means skipped. Sizes are computed with overflow checks, since
	// a corrupt header can hold any int32.
	type array struct {
		name    string // HF name pattern; "%d" for the layer
		perLyr  bool
		shape   []int // per layer
		permute int   // number of heads whose rows are permuted (0: none)
	}
	arrays := []array{
		{"model.embed_tokens.weight", false, []int{vocab, dim}, 0},
		{"model.layers.%d.input_layernorm.weight", true, []int{dim}, 0},
		{"model.layers.%d.self_attn.q_proj.weight", true, []int{dim, dim}, heads},
		{"model.layers.%d.self_attn.k_proj.weight", true, []int{kvDim, dim}, kvHeads},
		{"model.layers.%d.self_attn.v_proj.weight", true, []int{kvDim, dim}, 0},
		{"model.layers.%d.self_attn.o_proj.weight", true, []int{dim, dim}, 0},
		{"model.layers.%d.post_attention_layernorm.weight", true, []int{dim}, 0},
		{"model.layers.%d.mlp.gate_proj.weight", true, []int{hidden, dim}, 0},
		{"model.layers.%d.mlp.down_proj.weight", true, []int{dim, hidden}, 0},
		{"model.layers.%d.mlp.up_proj.weight", true, []int{hidden, dim}, 0},
		{"model.norm.weight", false, []int{dim}, 0},
		{"", false, []int{seqLen, headDim / 2}, 0}, // freq_cis_real
		{"", false, []int{seqLen, headDim / 2}, 0}, // freq_cis_imag
	}
	if !shared {
		arrays = append(arrays, array{"lm_head.weight", false, []int{vocab, dim}, 0})
	}
	var total uint64
	overflow := false
	mul := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a, b)
		overflow = overflow || hi != 0
		return lo
	}
	for _, a := range arrays {
		n := uint64(1)
		for _, d := range a.shape {
			n = mul(n, uint64(d))
		}
		if a.perLyr {
			n = mul(n, uint64(layers))
		}
		var carry uint64
		total, carry = bits.Add64(total, n, 0)
		overflow = overflow || carry != 0
	}
	wantBytes := mul(total, 4)
	wantBytes, carry := bits.Add64(wantBytes, headerBytes, 0)
	overflow = overflow || carry != 0
	if overflow || wantBytes != uint64(len(data)) {
		shareNote := "shared"
		if !shared {
			shareNote = "separate"
		}
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: file is %d bytes, the header (dim %d, hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d, %s classifier) implies %s",
			path, len(data), dim, hidden, layers, heads, kvHeads, vocab, seqLen, shareNote, impliedSize(overflow, wantBytes))
	}

	cfg := Config{
		HiddenSize: dim, IntermediateSize: hidden, NumHiddenLayers: layers,
		NumAttentionHeads: heads, NumKeyValueHeads: kvHeads, HeadDim: headDim, VocabSize: vocab,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: seqLen, TieWordEmbeddings: shared,
		ModelType: "llama", Architectures: []string{"LlamaForCausalLM"}, TorchDType: "float32",
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: %w", path, err)
	}
	cfg = cfg.WithDefaults()

	w := Weights{}
	off := headerBytes
	next := func(shape []int) []float32 {
		n := numElements(shape)
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[off+4*i:]))
		}
		off += 4 * n
		return out
	}
	for _, a := range arrays {
		count := 1
		if a.perLyr {
			count = layers
		}
		for l := range count {
			values := next(a.shape)
			if a.name == "" {
				continue
			}
			name := a.name
			if a.perLyr {
				name = fmt.Sprintf(a.name, l)
			}
			if a.permute > 0 {
				values = interleavedToHalfRoPE(values, a.permute, headDim, a.shape[1])
			}
			w[name] = &Tensor{Shape: append([]int(nil), a.shape...), Data: values}
		}
	}
	if err := w.Check(cfg); err != nil { // an internal consistency check; cannot fail on file content
		return Config{}, nil, fmt.Errorf("model: llama2.c checkpoint %s: %w", path, err)
	}
	return cfg, w, nil
}

func impliedSize(overflow bool, n uint64) string {
	if overflow {
		return "more than 2^64 bytes"
	}
	return fmt.Sprintf("%d bytes", n)
}

// interleavedToHalfRoPE converts a q or k projection weight [heads·headDim, in] from the interleaved
// RoPE layout of Meta's Llama code and llama2.c (each head rotates pairs (2j, 2j+1)) to Hugging Face's
// rotate-half layout (pairs (j, j+headDim/2)), returning a new slice: row t·headDim/2 + j of each
// head is row 2j + t of the input. It is the permutation of transformers' convert_llama_weights_to_hf.py.
// It panics if len(w) != heads·headDim·in or headDim is odd.
func interleavedToHalfRoPE(w []float32, heads, headDim, in int) []float32 {
	return permuteRoPE(w, heads, headDim, in, false)
}

// halfToInterleavedRoPE is the inverse of interleavedToHalfRoPE: it converts a Hugging Face q or k
// weight to the interleaved layout that llama2.c and Meta's code expect.
func halfToInterleavedRoPE(w []float32, heads, headDim, in int) []float32 {
	return permuteRoPE(w, heads, headDim, in, true)
}

func permuteRoPE(w []float32, heads, headDim, in int, inverse bool) []float32 {
	if headDim%2 != 0 || len(w) != heads*headDim*in {
		panic(fmt.Sprintf("model: RoPE permutation of %d values as [%d heads × %d, %d] (head_dim must be even)", len(w), heads, headDim, in))
	}
	out := make([]float32, len(w))
	half := headDim / 2
	for h := range heads {
		base := h * headDim
		for j := range half {
			for t := range 2 {
				hf, meta := base+t*half+j, base+2*j+t
				dst, src := hf, meta
				if inverse {
					dst, src = meta, hf
				}
				copy(out[dst*in:(dst+1)*in], w[src*in:(src+1)*in])
			}
		}
	}
	return out
}
