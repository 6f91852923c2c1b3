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
