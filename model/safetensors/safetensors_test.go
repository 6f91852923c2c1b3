package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawFile assembles a safetensors file from a header string and a data section.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func sampleTensors() map[string]Tensor {
	return map[string]Tensor{
		"b.weight": {Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, float32(math.Inf(-1)), 1e-40}},
		"a.bias":   {Shape: []int{3}, Data: []float32{0.1, 0.2, -0.3}},
		"scalar":   {Shape: []int{}, Data: []float32{42}},
		"empty":    {Shape: []int{0, 4}, Data: nil},
	}
}

func TestRoundTrip(t *testing.T) {
	tensors := sampleTensors()
	meta := map[string]string{"format": "pt", "note": "<&>"}
	for _, dt := range []DType{F32, BF16, F16, ""} {
		t.Run(string(dt), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.safetensors")
			require.NoError(t, Write(path, tensors, dt, meta))
			f, err := Read(path)
			require.NoError(t, err)
			assert.Equal(t, []string{"a.bias", "b.weight", "empty", "scalar"}, f.Names())
			assert.Equal(t, meta, f.Metadata)
			st, err := os.Stat(path)
			require.NoError(t, err)
			size, err := EncodedSize(tensors, dt, meta)
			require.NoError(t, err)
			assert.Equal(t, size, st.Size())
			for name, want := range tensors {
				got, shape, err := f.Float32(name)
				require.NoError(t, err, name)
				assert.Equal(t, want.Shape, shape, name)
				require.Len(t, got, len(want.Data), name)
				for i, v := range want.Data {
					var exp float32
					switch dt {
					case F32, "":
						exp = v
					case BF16:
						exp = BF16ToFloat32(Float32ToBF16(v))
					case F16:
						exp = F16ToFloat32(Float32ToF16(v))
					}
					assert.Equal(t, math.Float32bits(exp), math.Float32bits(got[i]), "%s[%d]", name, i)
				}
			}
			// The header length is a multiple of 8 and the data starts right after it.
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Zero(t, binary.LittleEndian.Uint64(raw)%8)
		})
	}
}

func TestF32BitExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, 4096)
	for i := range data {
		data[i] = math.Float32frombits(rng.Uint32()) // NaN payloads, subnormals, -0 included
	}
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, map[string]Tensor{"x": {Shape: []int{64, 64}, Data: data}}, F32, nil))
	f, err := Parse(buf.Bytes())
	require.NoError(t, err)
	got, _, err := f.Float32("x")
	require.NoError(t, err)
	for i := range data {
		require.Equal(t, math.Float32bits(data[i]), math.Float32bits(got[i]), "element %d", i)
	}
	assert.Empty(t, f.Metadata)
}

// TestTorchRounding reads a file written by PyTorch (testdata/gen_torch_rounding.py) and checks the
// conversions against torch's own bf16 and f16 rounding, and the integer dtypes.
func TestTorchRounding(t *testing.T) {
	f, err := Read("testdata/torch_rounding.safetensors")
	require.NoError(t, err)
	assert.Equal(t, "pt", f.Metadata["format"])
	x, _, err := f.Float32("f32")
	require.NoError(t, err)
	for _, dt := range []DType{BF16, F16} {
		raw, info, err := f.Raw(strings.ToLower(string(dt)))
		require.NoError(t, err)
		require.Equal(t, dt, info.DType)
		conv, _, err := f.Float32(strings.ToLower(string(dt)))
		require.NoError(t, err)
		for i, v := range x {
			torchBits := binary.LittleEndian.Uint16(raw[2*i:])
			var ours uint16
			var back float32
			if dt == BF16 {
				ours, back = Float32ToBF16(v), BF16ToFloat32(torchBits)
			} else {
				ours, back = Float32ToF16(v), F16ToFloat32(torchBits)
			}
			require.Equal(t, torchBits, ours, "%s of %g (bits %#08x), element %d", dt, v, math.Float32bits(v), i)
			require.Equal(t, math.Float32bits(back), math.Float32bits(conv[i]), "%s element %d", dt, i)
		}
	}
	ints := []struct {
		name  string
		want  []int64
		shape []int
	}{
		{"i64", []int64{1, -2, 3, 1 << 40, -1 << 62, 0}, []int{2, 3}},
		{"u8", []int64{0, 255, 7}, []int{3}},
		{"bool", []int64{1, 0, 1}, []int{3}},
		{"i32_scalar", []int64{-7}, []int{}},
	}
	for _, tc := range ints {
		got, shape, err := f.Int64(tc.name)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
		assert.Equal(t, tc.shape, shape, tc.name)
	}
	f64, _, err := f.Float32("f64")
	require.NoError(t, err)
	assert.Equal(t, []float32{0.1, float32(math.Inf(-1)), 0}, f64)
	empty, shape, err := f.Float32("empty")
	require.NoError(t, err)
	assert.Empty(t, empty)
	assert.Equal(t, []int{0, 3}, shape)

	_, _, err = f.Float32("i64")
	assert.ErrorContains(t, err, `"i64"`)
	_, _, err = f.Int64("f32")
	assert.ErrorContains(t, err, `"f32"`)
	_, _, err = f.Float32("nope")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, "testdata/torch_rounding.safetensors")
}

func TestF16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		v := F16ToFloat32(uint16(h))
		back := Float32ToF16(v)
		if v != v {
			require.True(t, back&0x7c00 == 0x7c00 && back&0x3ff != 0, "NaN %#04x became %#04x", h, back)
			continue
		}
		require.Equal(t, uint16(h), back, "f16 %#04x → %g → %#04x", h, v, back)
	}
}

// TestF16Nearest checks on random float32 values that Float32ToF16 picks the nearest half, ties to even.
func TestF16Nearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		// Exponents around the half range, so that subnormals, overflow and ties all occur.
		v := math.Float32frombits(rng.Uint32()&0x807fffff | uint32(100+rng.IntN(45))<<23)
		if rng.IntN(8) == 0 {
			v = math.Float32frombits(math.Float32bits(v)&^0x0fff | 0x1000) // a tie
		}
		h := Float32ToF16(v)
		got := float64(F16ToFloat32(h))
		if math.IsInf(got, 0) {
			require.GreaterOrEqual(t, math.Abs(float64(v)), 65520.0, "%g", v)
			continue
		}
		err := math.Abs(got - float64(v))
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7fff >= 0x7c00 || (h&0x7fff == 0 && nb == h-1) {
				continue
			}
			nerr := math.Abs(float64(F16ToFloat32(nb)) - float64(v))
			require.LessOrEqual(t, err, nerr, "%g → %#04x, neighbour %#04x is closer", v, h, nb)
			if err == nerr {
				require.Zero(t, h&1, "%g: tie not rounded to even (%#04x)", v, h)
			}
		}
	}
}

func TestConversionSpecialValues(t *testing.T) {
	tests := []struct {
		in       float32
		bf16     uint16
		f16      uint16
		describe string
	}{
		{1, 0x3f80, 0x3c00, "one"},
		{float32(1 + 1.0/256), 0x3f80, 0x3c04, "bf16 tie rounds down to even"},
		{float32(1 + 3.0/256), 0x3f82, 0x3c0c, "bf16 tie rounds up to even"},
		{float32(1 + 1.0/2048), 0x3f80, 0x3c00, "f16 tie rounds down to even"},
		{65504, 0x4780, 0x7bff, "f16 max"},
		{65520, 0x4780, 0x7c00, "f16 tie to Inf"},
		{float32(math.Ldexp(1, -24)), 0x3380, 0x0001, "smallest f16 subnormal"},
		{float32(math.Ldexp(1, -25)), 0x3300, 0x0000, "half of it ties to 0"},
		{math.MaxFloat32, 0x7f80, 0x7c00, "overflow to Inf"},
		{float32(math.Copysign(0, -1)), 0x8000, 0x8000, "negative zero"},
	}
	for _, tc := range tests {
		t.Run(tc.describe, func(t *testing.T) {
			assert.Equal(t, tc.bf16, Float32ToBF16(tc.in), "bf16")
			assert.Equal(t, tc.f16, Float32ToF16(tc.in), "f16")
		})
	}
	nan := float32(math.NaN())
	assert.True(t, math.IsNaN(float64(BF16ToFloat32(Float32ToBF16(nan)))))
	assert.True(t, math.IsNaN(float64(F16ToFloat32(Float32ToF16(nan)))))
	// A NaN whose payload sits in the low bits must not turn into Inf.
	lowNaN := math.Float32frombits(0x7f800001)
	assert.True(t, math.IsNaN(float64(BF16ToFloat32(Float32ToBF16(lowNaN)))))
	assert.True(t, math.IsNaN(float64(F16ToFloat32(Float32ToF16(lowNaN)))))
}

func TestParseErrors(t *testing.T) {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	tests := []struct {
		name string
		file []byte
		want []string // substrings of the error
	}{
		{"short", []byte{1, 2, 3}, []string{"shorter than"}},
		{"header too long", rawFile("{}", nil)[:9], []string{"header length 2 exceeds"}},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), []string{"limit"}},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), []string{"limit"}},
		{"not an object", rawFile(`[1,2]   `, nil), []string{"not a JSON object"}},
		{"bad json", rawFile(`{"a":`, nil), []string{"header JSON"}},
		{"bad metadata", rawFile(`{"__metadata__":{"a":1}}`, nil), []string{"__metadata__"}},
		{"entry not object", rawFile(`{"w":3}`, nil), []string{`"w"`, "header entry"}},
		{"no dtype", rawFile(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, f32(1)), []string{`"w"`, "no dtype"}},
		{"unknown dtype", rawFile(`{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}`, f32(1)), []string{`"w"`, `unknown dtype "F12"`}},
		{"no shape", rawFile(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, f32(1)), []string{`"w"`, "no shape"}},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32(1)), []string{`"w"`, "negative"}},
		{"one offset", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, f32(1)), []string{`"w"`, "data_offsets"}},
		{"offsets reversed", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, f32(1)), []string{`"w"`, "outside"}},
		{"offsets past end", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32(1)), []string{`"w"`, "outside"}},
		{"size mismatch", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, f32(2)), []string{`"w"`, "needs 8"}},
		{"huge shape", rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}`, f32(1)), []string{`"w"`, "more bytes"}},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), []string{"overlap"}},
		{"hole", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, f32(3)), []string{`"b"`, "hole"}},
		{"trailing bytes", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)), []string{"cover 4 bytes of the 8"}},
		{"float offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}`, f32(2)), []string{`"a"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			require.NoError(t, os.WriteFile(path, tc.file, 0o644))
			_, err := Read(path)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrFormat)
			assert.ErrorContains(t, err, path)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
			_, err = Parse(tc.file)
			assert.ErrorIs(t, err, ErrFormat)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name   string
		file   []byte
		tensor string
		shape  []int
	}{
		{"empty file", rawFile("{}      ", nil), "", nil},
		{"null metadata", rawFile(`{"__metadata__":null}`, nil), "", nil},
		{"zero-size tensors share an offset", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F16","shape":[5,0],"data_offsets":[0,0]},"c":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "b", []int{5, 0}},
		{"scalar", rawFile(`{"s":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, []byte{0x80, 0x3f}), "s", []int{}},
		{"unknown fields ignored", rawFile(`{"s":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":true}}`, []byte{9}), "s", []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.file)
			require.NoError(t, err)
			require.NotNil(t, f.Metadata)
			if tc.tensor != "" {
				info, ok := f.Info(tc.tensor)
				require.True(t, ok)
				assert.Equal(t, tc.shape, info.Shape)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		tensors map[string]Tensor
		dtype   DType
		want    string
	}{
		{"bad dtype", sampleTensors(), "I32", `dtype "I32"`},
		{"shape mismatch", map[string]Tensor{"w": {Shape: []int{2, 2}, Data: make([]float32, 3)}}, F32, `"w": shape [2 2] needs 4 values, got 3`},
		{"negative dim", map[string]Tensor{"w": {Shape: []int{-1}, Data: nil}}, F32, `"w": negative`},
		{"reserved name", map[string]Tensor{"__metadata__": {Shape: []int{}, Data: []float32{1}}}, F32, "reserved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".safetensors")
			err := Write(path, tc.tensors, tc.dtype, nil)
			require.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, path)
			assert.NoFileExists(t, path)
		})
	}
	err := Write(filepath.Join(dir, "missing", "x.safetensors"), sampleTensors(), F32, nil)
	assert.ErrorContains(t, err, "missing")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary files may be left behind")
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	require.NoError(t, Write(path, sampleTensors(), F32, nil))
	one := map[string]Tensor{"only": {Shape: []int{1}, Data: []float32{7}}}
	require.NoError(t, Write(path, one, BF16, map[string]string{"v": "2"}))
	f, err := Read(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"only"}, f.Names())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "only the target file remains")
}
