//go:build linux

package safetensors

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// rssFileKB reads the process's resident file-backed memory (RssFile in /proc/self/status), which
// counts the mapped pages of an Open File and nothing of the Go heap.
func rssFileKB(t *testing.T) int {
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			require.NoError(t, err)
			return kb
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestReleaseDropsMappedPages checks that Release takes a converted tensor's pages out of the
// process's resident memory at once (the peak RSS of loading a checkpoint would otherwise hold the
// shard beside its float32 copy), that the other tensors still read right afterwards, and that the
// released tensor reads right again too (the pages come back from the page cache).
func TestReleaseDropsMappedPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.safetensors")
	const n = 8 << 20 // 32 MB of float32 per tensor
	in := map[string]Tensor{"a": {Shape: []int{n}, Data: make([]float32, n)}, "b": {Shape: []int{4}, Data: []float32{1, 2, 3, 4}}}
	for i := range in["a"].Data {
		in["a"].Data[i] = float32(i % 1000)
	}
	require.NoError(t, Write(path, in, F32, nil))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()

	before := rssFileKB(t)
	a, _, err := f.Float32("a") // pages the tensor in
	require.NoError(t, err)
	touched := rssFileKB(t)
	require.Greater(t, touched-before, 24<<10, "reading 32 MB of a mapped file pages it in (RssFile %d → %d kB)", before, touched)
	f.Release("a")
	released := rssFileKB(t)
	require.Less(t, released, touched-24<<10, "Release drops the tensor's pages (RssFile %d → %d kB)", touched, released)

	b, _, err := f.Float32("b")
	require.NoError(t, err)
	require.Equal(t, []float32{1, 2, 3, 4}, b)
	again, _, err := f.Float32("a")
	require.NoError(t, err)
	require.Equal(t, a, again)
	f.Release("no such tensor") // a no-op

	r, err := Read(path)
	require.NoError(t, err)
	r.Release("a") // a no-op on a File held in memory
	got, _, err := r.Float32("a")
	require.NoError(t, err)
	require.Equal(t, a, got)
}
