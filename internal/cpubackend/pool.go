package cpubackend

import "sync"

// Buffer reuse. A training step at the stories15M shape allocates gigabytes of float32
// intermediates that each live for a few ops. Execute knows when each value dies (its last use), so
// it hands dead buffers back here and the ops take their outputs from here: after the first run of a
// computation every intermediate buffer is reused, and a step allocates next to nothing.
//
// Large buffers live outside the Go heap (anonymous memory maps on Unix): left in the heap, the
// reused buffers would count as live data for the garbage collector's pacing, which lets the heap
// grow to twice the live data before collecting the host-side garbage of a step, and a process's
// peak memory would be about twice what the computation needs. Such buffers never leave the backend:
// Execute copies an output that lives there into Go memory, and parameters, constants and buffers
// made for the caller are ordinary Go slices.
//
// The free lists are keyed by length and hold at most maxFreeBytes; Backend.Finalize empties them.

const (
	// minPooled is the length below which buffers are left to the garbage collector.
	minPooled = 1024
	// minMapped is the length from which buffers are mapped outside the Go heap.
	minMapped = 16 << 10
	// maxFreeBytes bounds the memory the free lists keep for reuse.
	maxFreeBytes = 4 << 30
)

var pool = struct {
	mu    sync.Mutex
	free  map[int][][]float32
	bytes int
}{free: map[int][][]float32{}}

// getF32 returns a float32 slice of length n whose contents are undefined: callers must write
// every element. Only ops running inside Execute may call it (the buffer may be outside the Go heap).
func getF32(n int) []float32 {
	if n < minPooled {
		return make([]float32, n)
	}
	pool.mu.Lock()
	if l := pool.free[n]; len(l) > 0 {
		s := l[len(l)-1]
		l[len(l)-1] = nil
		pool.free[n] = l[:len(l)-1]
		pool.bytes -= 4 * n
		pool.mu.Unlock()
		return s
	}
	pool.mu.Unlock()
	if n >= minMapped {
		if s := mapF32(n); s != nil {
			return s
		}
	}
	return make([]float32, n)
}

// getF32Zero returns a zeroed float32 slice of length n (see getF32).
func getF32Zero(n int) []float32 {
	s := getF32(n)
	clear(s)
	return s
}

// putFlat hands a dead value back for reuse. Only float32 slices of at least minPooled elements are
// kept; anything else is left to the garbage collector. The caller must hold the only reference.
func putFlat(v any) {
	s, ok := v.([]float32)
	if !ok || len(s) < minPooled || cap(s) != len(s) {
		return
	}
	pool.mu.Lock()
	if pool.bytes+4*len(s) > maxFreeBytes {
		pool.mu.Unlock()
		unmapF32(s)
		return
	}
	pool.free[len(s)] = append(pool.free[len(s)], s)
	pool.bytes += 4 * len(s)
	pool.mu.Unlock()
}

// ReleaseMemory empties the free lists of buffers kept for reuse (the memory maps outside the Go
// heap are returned to the system at once). Later computations allocate afresh. Benchmarks call it
// so that one benchmark's peak memory does not include buffers another one left for reuse.
func ReleaseMemory() { releaseFree() }

// releaseFree empties the free lists, unmapping what lies outside the Go heap.
func releaseFree() {
	pool.mu.Lock()
	free := pool.free
	pool.free, pool.bytes = map[int][][]float32{}, 0
	pool.mu.Unlock()
	for _, l := range free {
		for _, s := range l {
			unmapF32(s)
		}
	}
}

// makeSlice returns a slice of n Ts for an op to fill completely (float32 ones come from the pool
// with undefined contents; other types are freshly allocated).
func makeSlice[T any](n int) []T {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(getF32(n)).([]T)
	}
	return make([]T, n)
}
