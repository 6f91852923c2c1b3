package accrete

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMemoComputesOnceForConcurrentCallers: of many callers that look a key up at once, one computes
// it and the others wait and get its value; when the computing caller fails, a waiting one claims the
// key in its turn; a wait ends with its context.
func TestMemoComputesOnceForConcurrentCallers(t *testing.T) {
	var m memo[int]
	var computed atomic.Int32
	var wg sync.WaitGroup
	got := make([]int, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, ok, err := m.lookup(context.Background(), "k")
			require.NoError(t, err)
			if !ok {
				computed.Add(1)
				time.Sleep(20 * time.Millisecond) // the others arrive meanwhile
				v = 42
				m.done("k", v, true)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	require.EqualValues(t, 1, computed.Load())
	require.Equal(t, []int{42, 42, 42, 42, 42, 42, 42, 42}, got)
	require.Equal(t, CacheStats{Hits: 7, Misses: 1, Entries: 1}, m.stats())

	// A failed computation stores nothing; the waiter claims the key and computes it.
	_, ok, err := m.lookup(context.Background(), "f")
	require.NoError(t, err)
	require.False(t, ok)
	second := make(chan bool)
	go func() {
		_, ok, err := m.lookup(context.Background(), "f")
		require.NoError(t, err)
		second <- ok
	}()
	time.Sleep(20 * time.Millisecond)
	m.done("f", 0, false)
	require.False(t, <-second, "the waiter claims the key after the failure")
	m.done("f", 7, true)
	v, ok, err := m.lookup(context.Background(), "f")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 7, v)

	// A wait ends with its context.
	_, ok, err = m.lookup(context.Background(), "c")
	require.NoError(t, err)
	require.False(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err = m.lookup(ctx, "c")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	m.done("c", 1, true)
}
