package peakmem

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPeakSeesATransientAllocation checks that a 64 MB buffer that lives for a moment shows in the
// heap peak (and in the resident set where Linux lets the tracker reset it).
func TestPeakSeesATransientAllocation(t *testing.T) {
	p := Start()
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	runtime.KeepAlive(buf)
	buf = nil
	heapMB, rssMB := p.Done()
	require.GreaterOrEqual(t, heapMB, 64.0)
	if rssMB != 0 {
		require.GreaterOrEqual(t, rssMB, 64.0)
	}
}
