package lora

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/safetensors"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testdata/peft was written by the PyTorch reference (see testdata/peft/README.md):
// base/ (an HF checkpoint), adapter/ (a PEFT LoRA adapter with non-zero B) and logits.npy, the
// reference's logits of base+adapter for tokens 1,2,3,4,5.
const peftDir = "testdata/peft"

var peftTokens = []int{1, 2, 3, 4, 5}

// readNPY reads a little-endian float32 C-order .npy file (format versions 1 to 3).
func readNPY(t testing.TB, path string) ([]float32, []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, len(b) > 10 && string(b[:6]) == "\x93NUMPY", "%s: not a .npy file", path)
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		t.Fatalf("%s: .npy version %d", path, b[6])
	}
	header := string(b[off : off+hlen])
	require.Contains(t, header, "'descr': '<f4'", "%s: %s", path, header)
	require.Contains(t, header, "'fortran_order': False", "%s: %s", path, header)
	m := regexp.MustCompile(`'shape': \(([^)]*)\)`).FindStringSubmatch(header)
	require.NotNil(t, m, "%s: no shape in %s", path, header)
	var shape []int
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		require.NoError(t, err)
		shape = append(shape, d)
		n *= d
	}
	body := b[off+hlen:]
	require.Equal(t, 4*n, len(body), "%s: %d data bytes for shape %v", path, len(body), shape)
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return out, shape
}

// keyList renders a safetensors file's keys and shapes, one per line, sorted.
func keyList(t testing.TB, path string) string {
	t.Helper()
	f, err := safetensors.Read(path)
	require.NoError(t, err)
	var sb strings.Builder
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		fmt.Fprintf(&sb, "%s %v\n", n, info.Shape)
	}
	return sb.String()
}

func maxAbsDiff(t testing.TB, got [][]float32, want []float32) float64 {
	t.Helper()
	var flat []float32
	for _, row := range got {
		flat = append(flat, row...)
	}
	require.Equal(t, len(want), len(flat))
	d := 0.0
	for i := range flat {
		d = max(d, math.Abs(float64(flat[i]-want[i])))
	}
	return d
}

func TestPEFTGoldenMatchesTorch(t *testing.T) {
	cfg, w, err := model.LoadHF(filepath.Join(peftDir, "base"))
	require.NoError(t, err)
	a, err := LoadPEFT(filepath.Join(peftDir, "adapter"), cfg)
	require.NoError(t, err)
	require.Equal(t, 4, a.Config.Rank)
	require.Equal(t, 8.0, a.Config.Alpha)
	require.Equal(t, model.Modules, a.Config.TargetModules)
	require.Equal(t, "adapter", a.Name)

	want, shape := readNPY(t, filepath.Join(peftDir, "logits.npy"))
	require.Equal(t, []int{len(peftTokens), cfg.VocabSize}, shape)
	b, err := model.Backend()
	require.NoError(t, err)
	m, err := model.New(b, cfg, w)
	require.NoError(t, err)
	base, err := m.Logits([][]int{peftTokens})
	require.NoError(t, err)
	m.SetAdapter(a)
	got, err := m.Logits([][]int{peftTokens})
	require.NoError(t, err)
	diff := maxAbsDiff(t, got[0], want)
	t.Logf("max |Go − torch| = %.3g", diff)
	require.Less(t, diff, 1e-4)
	// The adapter must matter, or the comparison above proves nothing about it.
	require.Greater(t, maxAbsDiff(t, base[0], want), 1e-3)

	golden := filepath.Join(peftDir, "keys.golden")
	keys := keyList(t, filepath.Join(peftDir, "adapter", PEFTWeightsFile))
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(keys), 0o644))
	}
	g, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(g), keys, "PEFT's keys changed; rerun with -update if that is intended")

	// Our SavePEFT writes the same keys and shapes, and reads back bit-identical.
	dir := t.TempDir()
	require.NoError(t, SavePEFT(dir, a, "tiny"))
	require.Equal(t, string(g), keyList(t, filepath.Join(dir, PEFTWeightsFile)))
	back, err := LoadPEFT(dir, cfg)
	require.NoError(t, err)
	require.Equal(t, a.Config, back.Config)
	require.Equal(t, a.A, back.A)
	require.Equal(t, a.B, back.B)
}

// rewritePEFT copies the torch adapter to a temp dir, passing its keys through rename and its config
// through edit (either may be nil).
func rewritePEFT(t *testing.T, rename func(string) string, edit func(string) string) string {
	t.Helper()
	src := filepath.Join(peftDir, "adapter")
	dst := t.TempDir()
	f, err := safetensors.Read(filepath.Join(src, PEFTWeightsFile))
	require.NoError(t, err)
	ts := map[string]safetensors.Tensor{}
	for _, n := range f.Names() {
		data, shape, err := f.Float32(n)
		require.NoError(t, err)
		if rename != nil {
			n = rename(n)
		}
		if n != "" {
			ts[n] = safetensors.Tensor{Shape: shape, Data: data}
		}
	}
	require.NoError(t, safetensors.Write(filepath.Join(dst, PEFTWeightsFile), ts, safetensors.F32, map[string]string{"format": "pt"}))
	c, err := os.ReadFile(filepath.Join(src, PEFTConfigFile))
	require.NoError(t, err)
	s := string(c)
	if edit != nil {
		s = edit(s)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dst, PEFTConfigFile), []byte(s), 0o644))
	return dst
}

func TestLoadPEFTAcceptsAdapterNameInKeys(t *testing.T) {
	cfg, err := model.ReadConfig(filepath.Join(peftDir, "base", model.ConfigFile))
	require.NoError(t, err)
	want, err := LoadPEFT(filepath.Join(peftDir, "adapter"), cfg)
	require.NoError(t, err)
	dir := rewritePEFT(t, func(k string) string {
		return strings.Replace(k, ".weight", ".default.weight", 1)
	}, nil)
	got, err := LoadPEFT(dir, cfg)
	require.NoError(t, err)
	require.Equal(t, want.A, got.A)
	require.Equal(t, want.B, got.B)
	require.Equal(t, want.Config, got.Config)
}

func TestLoadPEFTInfersTargetsFromKeys(t *testing.T) {
	cfg, err := model.ReadConfig(filepath.Join(peftDir, "base", model.ConfigFile))
	require.NoError(t, err)
	dir := rewritePEFT(t, func(k string) string {
		if strings.Contains(k, ".mlp.") || strings.Contains(k, "k_proj") {
			return ""
		}
		return k
	}, nil)
	a, err := LoadPEFT(dir, cfg)
	require.NoError(t, err)
	require.Equal(t, []string{"q_proj", "v_proj", "o_proj"}, a.Config.TargetModules)
	require.Len(t, a.A, 2*3)
}

func TestLoadPEFTRefuses(t *testing.T) {
	cfg, err := model.ReadConfig(filepath.Join(peftDir, "base", model.ConfigFile))
	require.NoError(t, err)
	bigger := cfg
	bigger.HiddenSize, bigger.HeadDim = 48, 12
	tests := []struct {
		name   string
		rename func(string) string
		edit   func(string) string
		mc     model.Config
		want   []string
	}{
		{name: "r in config differs from shapes", edit: func(s string) string {
			return strings.Replace(s, `"r": 4`, `"r": 8`, 1)
		}, want: []string{"rank 4", "r 8", "lora_A.weight"}},
		{name: "model shapes differ", mc: bigger, want: []string{"down_proj.lora_B.weight", "[32 4]", "[48 4]"}},
		{name: "missing B", rename: func(k string) string {
			if strings.Contains(k, "layers.1.mlp.up_proj.lora_B") {
				return ""
			}
			return k
		}, want: []string{"no tensor", "layers.1.mlp.up_proj.lora_B.weight"}},
		{name: "unknown key", rename: func(k string) string {
			return strings.Replace(k, "layers.0.mlp.up_proj.lora_A", "layers.0.mlp.up_proj.lora_magnitude_vector", 1)
		}, want: []string{"lora_magnitude_vector", "unexpected tensor"}},
		{name: "layer out of range", rename: func(k string) string {
			return strings.Replace(k, "layers.1.", "layers.7.", 1)
		}, want: []string{"layer \"7\""}},
		{name: "module under the wrong block", rename: func(k string) string {
			return strings.Replace(k, "self_attn.q_proj", "mlp.q_proj", 1)
		}, want: []string{"q_proj belongs under self_attn"}},
		{name: "dora", edit: func(s string) string {
			return strings.Replace(s, `"use_dora": false`, `"use_dora": true`, 1)
		}, want: []string{"use_dora"}},
		{name: "bias", edit: func(s string) string {
			return strings.Replace(s, `"bias": "none"`, `"bias": "all"`, 1)
		}, want: []string{"bias \"all\""}},
		{name: "not lora", edit: func(s string) string {
			return strings.Replace(s, `"peft_type": "LORA"`, `"peft_type": "IA3"`, 1)
		}, want: []string{"IA3"}},
		{name: "target_modules lacks a module", edit: func(s string) string {
			return strings.Replace(s, `"down_proj",`, ``, 1)
		}, want: []string{"down_proj", "target_modules"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := rewritePEFT(t, tc.rename, tc.edit)
			mc := cfg
			if tc.mc.HiddenSize != 0 {
				mc = tc.mc
			}
			_, err := LoadPEFT(dir, mc)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSavePEFTConfigFields(t *testing.T) {
	a, err := NewAdapter("x", tinyConfig, Config{Rank: 2, Alpha: 3, Dropout: 0.1, RSLoRA: true,
		TargetModules: []string{"v_proj", "q_proj"}, Seed: 1})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, SavePEFT(dir, a, "org/base"))
	raw, err := os.ReadFile(filepath.Join(dir, PEFTConfigFile))
	require.NoError(t, err)
	for _, want := range []string{`"peft_type": "LORA"`, `"task_type": "CAUSAL_LM"`, `"r": 2`, `"lora_alpha": 3`,
		`"lora_dropout": 0.1`, `"bias": "none"`, `"fan_in_fan_out": false`, `"use_rslora": true`,
		`"base_model_name_or_path": "org/base"`} {
		require.Contains(t, string(raw), want)
	}
	require.Regexp(t, `"target_modules": \[\s*"q_proj",\s*"v_proj"\s*\]`, string(raw))
	back, err := LoadPEFT(dir, tinyConfig)
	require.NoError(t, err)
	// The seed is not part of PEFT's format; the targets come back in model.Modules order.
	a.Config.Seed = 0
	require.Equal(t, []string{"q_proj", "v_proj"}, back.Config.TargetModules)
	back.Config.TargetModules = a.Config.TargetModules
	require.Equal(t, a.Config, back.Config)
	require.Equal(t, a.A, back.A)

	// A corrupted adapter is refused before anything is written.
	bad := a.Clone()
	for m := range bad.B {
		bad.B[m] = model.NewTensor(3, 3)
		break
	}
	err = SavePEFT(t.TempDir(), bad, "")
	require.ErrorContains(t, err, "lora_B has shape [3 3]")
}

func TestNPYReader(t *testing.T) {
	// A hand-made v1 file of shape (2, 3).
	hdr := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	for (10+len(hdr)+1)%64 != 0 {
		hdr += " "
	}
	hdr += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	vals := []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-7}
	binary.Write(&b, binary.LittleEndian, vals)
	path := filepath.Join(t.TempDir(), "x.npy")
	require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	got, shape := readNPY(t, path)
	require.Equal(t, []int{2, 3}, shape)
	require.True(t, slices.Equal(vals, got))
}
