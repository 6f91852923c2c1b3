package model

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The golden checkpoints in testdata/torchref were written by the project's independent PyTorch
// reference (scripts/torchref/llama_ref.py); testdata/torchref/gen.sh regenerates them.
var torchRefCheckpoints = []struct {
	dir        string
	tied       bool
	headDim    int
	vocab      int
	ropeTheta  float64
	rmsNormEps float64
}{
	{"untied_bf16", false, 8, 64, 10000, 1e-5},
	{"tied_f32_sharded", true, 8, 64, 10000, 1e-5},
	{"headdim_f32", false, 16, 32, 500000, 1e-6},
}

func TestLoadHFTorchRef(t *testing.T) {
	for _, tc := range torchRefCheckpoints {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "torchref", tc.dir)
			cfg, w, err := LoadHF(dir)
			require.NoError(t, err)
			require.NoError(t, w.Check(cfg))
			assert.Equal(t, tc.tied, cfg.TieWordEmbeddings)
			assert.Equal(t, tc.headDim, cfg.HeadDim)
			assert.Equal(t, tc.vocab, cfg.VocabSize)
			assert.InDelta(t, tc.ropeTheta, cfg.RopeTheta, 0)
			assert.InDelta(t, tc.rmsNormEps, cfg.RMSNormEps, 0)

			// The values match PyTorch's: per-tensor float64 sums and sums of squares.
			data, err := os.ReadFile(filepath.Join(dir, "stats.json"))
			require.NoError(t, err)
			var stats map[string][3]float64
			require.NoError(t, json.Unmarshal(data, &stats))
			require.Len(t, w, len(stats))
			for name, s := range stats {
				tw, ok := w[name]
				require.True(t, ok, name)
				var sum, sq float64
				for _, v := range tw.Data {
					sum += float64(v)
					sq += float64(v) * float64(v)
				}
				assert.InDelta(t, s[0], sum, 1e-9*(1+s[1]), name)
				assert.InDelta(t, s[1], sq, 1e-9*s[1], name)
				assert.Equal(t, int(s[2]), tw.Size(), name)
			}

			logits, shape := readNpyFloat32(t, filepath.Join(dir, "logits.npy"))
			assert.Equal(t, []int{5, cfg.VocabSize}, shape)
			assert.Len(t, logits, 5*cfg.VocabSize)
		})
	}
}

// readNpyFloat32 reads a little-endian float32 .npy file (version 1, C order).
func readNpyFloat32(t *testing.T, path string) ([]float32, []int) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, len(data) > 10 && string(data[:6]) == "\x93NUMPY" && data[6] == 1, "%s: not a version 1 .npy", path)
	n := int(binary.LittleEndian.Uint16(data[8:]))
	header := string(data[10 : 10+n])
	require.Contains(t, header, "'descr': '<f4'", path)
	require.Contains(t, header, "'fortran_order': False", path)
	m := regexp.MustCompile(`'shape': \(([0-9, ]*)\)`).FindStringSubmatch(header)
	require.NotNil(t, m, path)
	var shape []int
	count := 1
	for _, f := range strings.Split(m[1], ",") {
		if f = strings.TrimSpace(f); f != "" {
			d, err := strconv.Atoi(f)
			require.NoError(t, err)
			shape = append(shape, d)
			count *= d
		}
	}
	body := data[10+n:]
	require.Len(t, body, 4*count, path)
	out := make([]float32, count)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return out, shape
}

// TestExportForTorch is a manual interoperability check, skipped unless ACCRETE_TORCHREF_OUT names
// a directory. It writes there, from the golden untied_bf16 checkpoint:
//   - saved_f32: the checkpoint re-saved by SaveHF as F32;
//   - from_llama2c: the checkpoint written as a llama2.c file (interleaved RoPE), loaded with
//     LoadLlama2C and saved by SaveHF.
//
// `llama_ref.py logits --model DIR --tokens 1,2,3,4,5` must then give exactly untied_bf16/logits.npy
// for both (the bf16 values are exact in f32, and llama2.c's RoPE layout is undone on load).
func TestExportForTorch(t *testing.T) {
	out := os.Getenv("ACCRETE_TORCHREF_OUT")
	if out == "" {
		t.Skip("set ACCRETE_TORCHREF_OUT to write checkpoints for llama_ref.py")
	}
	cfg, w, err := LoadHF(filepath.Join("testdata", "torchref", "untied_bf16"))
	require.NoError(t, err)
	require.NoError(t, SaveHF(filepath.Join(out, "saved_f32"), cfg, w, SaveOptions{}))

	c2 := cfg
	c2.MaxPositionEmbeddings = 16
	bin := filepath.Join(out, "model.bin")
	writeLlama2C(t, bin, c2, w, nil)
	lc, lw, err := LoadLlama2C(bin)
	require.NoError(t, err)
	require.NoError(t, SaveHF(filepath.Join(out, "from_llama2c"), lc, lw, SaveOptions{}))
}
