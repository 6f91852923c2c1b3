package safetensors

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenMatchesRead checks that a memory-mapped File gives the same tensors as one read into memory,
// that Close releases it (twice is harmless), and that a malformed file is refused and unmapped.
func TestOpenMatchesRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.safetensors")
	in := map[string]Tensor{
		"w": {Shape: []int{3, 5}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		"b": {Shape: []int{2}, Data: []float32{-1.5, 0.25}},
	}
	for _, dt := range []DType{F32, BF16} {
		require.NoError(t, Write(path, in, dt, nil))
		r, err := Read(path)
		require.NoError(t, err)
		o, err := Open(path)
		require.NoError(t, err)
		require.Equal(t, r.Names(), o.Names())
		for _, n := range r.Names() {
			a, sa, err := r.Float32(n)
			require.NoError(t, err)
			b, sb, err := o.Float32(n)
			require.NoError(t, err)
			require.Equal(t, a, b, n)
			require.Equal(t, sa, sb, n)
		}
		require.NoError(t, o.Close())
		require.NoError(t, o.Close())
		require.Empty(t, o.Names())
		require.NoError(t, r.Close(), "Close of a File from Read is a no-op")
	}
	require.NoError(t, os.WriteFile(path, []byte("not a safetensors file at all"), 0o644))
	_, err := Open(path)
	require.ErrorIs(t, err, ErrFormat)
	_, err = Open(filepath.Join(t.TempDir(), "missing.safetensors"))
	require.ErrorContains(t, err, "missing.safetensors")
}

// TestWriteBF16Bits checks that bfloat16 bits are written as they are to a BF16 file and widen
// exactly to an F32 one.
func TestWriteBF16Bits(t *testing.T) {
	dir := t.TempDir()
	bits := []uint16{0x3f80, 0xc780, 0x7f80, 0x0001, 0x4049}
	in := map[string]Tensor{"w": {Shape: []int{5}, BF16: bits}}
	for _, dt := range []DType{BF16, F32} {
		path := filepath.Join(dir, string(dt)+".safetensors")
		require.NoError(t, Write(path, in, dt, nil))
		f, err := Open(path)
		require.NoError(t, err)
		got, _, err := f.Float32("w")
		require.NoError(t, err)
		for i, b := range bits {
			require.Equal(t, BF16ToFloat32(b), got[i], "%s %d", dt, i)
		}
		require.NoError(t, f.Close())
	}
	require.Error(t, Write(filepath.Join(dir, "x"), map[string]Tensor{"w": {Shape: []int{1}, Data: []float32{1}, BF16: []uint16{1}}}, BF16, nil))
}
