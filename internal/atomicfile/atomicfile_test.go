package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	require.NoError(t, WriteFile(path, []byte("one")))
	require.NoError(t, WriteFile(path, []byte("two, longer")))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two, longer", string(got))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(Perm), st.Mode().Perm())
	assert.Equal(t, []string{"f.json"}, names(t, dir), "no temporary file may remain")
}

func TestWriteStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.bin")
	const chunks = 300 // past the 1 MiB buffer, so that the writer flushes midway
	chunk := make([]byte, 4096)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	require.NoError(t, Write(path, func(w io.Writer) error {
		for range chunks {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		return nil
	}))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, int64(chunks*len(chunk)), st.Size())
}

func TestFailedWriteKeepsOldFile(t *testing.T) {
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		write func(w io.Writer) error
	}{
		{"error before writing", func(io.Writer) error { return errBoom }},
		{"error after a partial write", func(w io.Writer) error {
			_, _ = w.Write([]byte("partial"))
			return errBoom
		}},
		{"error after more than the buffer", func(w io.Writer) error {
			_, _ = w.Write(make([]byte, 3<<20))
			return errBoom
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			require.NoError(t, WriteFile(path, []byte("old")))
			err := Write(path, tc.write)
			require.ErrorIs(t, err, errBoom)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, "old", string(got))
			assert.Equal(t, []string{"state.json"}, names(t, dir), "the temporary file must be removed")
		})
	}
}

func TestFailedRenameLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "taken")
	require.NoError(t, os.Mkdir(target, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(target, "keep"), []byte("x"), 0o644))
	err := WriteFile(target, []byte("data")) // a file cannot replace a non-empty directory
	require.Error(t, err)
	assert.Equal(t, []string{"taken"}, names(t, dir))
	assert.Equal(t, []string{"keep"}, names(t, target))
}

func TestMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"))
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "missing")
	assert.Empty(t, names(t, dir))
}

func TestSyncDir(t *testing.T) {
	require.NoError(t, SyncDir(t.TempDir()))
	require.ErrorIs(t, SyncDir(filepath.Join(t.TempDir(), "missing")), os.ErrNotExist)
}
