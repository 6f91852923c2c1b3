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
// peak memory would be about twice what the computation needs. A large output of Execute stays in
// such memory too (a gradient, say): its Buffer hands it back here when finalized, so a trainer that
// finalizes each step's gradients reuses the same memory every step instead of leaving garbage for
// the collector (and a Buffer dropped without finalizing is unmapped when the collector frees it).
//
// The memory kept for reuse is sized from the run, not fixed: the free lists (keyed by length) hold
// at most the peak of the mapped memory in use so far (at least minKeepBytes), and when a new
// buffer must be mapped, free buffers of other lengths are unmapped first so that mapped memory stays
// within that peak. A run's steady state thus maps nothing new, however large its working set, and
// never holds more than its working set. Backend.Finalize and ReleaseMemory empty the free lists.

const (
	// minPooled is the length below which buffers are left to the garbage collector.
	minPooled = 64
	// minMapped is the length from which buffers are mapped outside the Go heap.
	minMapped = 16 << 10
)

// minKeepBytes is the least the free lists may keep, whatever the peak in use (a variable for tests).
var minKeepBytes = 256 << 20

var pool = struct {
	mu    sync.Mutex
	free  map[int][][]float32
	bytes int // in the free lists
	inUse int // mapped bytes handed out and not handed back
	peak  int // the largest inUse so far: the run's working set
}{free: map[int][][]float32{}}

// keepLocked is the most mapped memory (in use and free) the pool lets stand.
func keepLocked() int { return max(pool.peak, minKeepBytes) }

// evictLocked removes free buffers until inUse + free ≤ keep, returning them for unmapping.
func evictLocked() (out [][]float32) {
	for n, l := range pool.free {
		for len(l) > 0 && pool.inUse+pool.bytes > keepLocked() {
			out = append(out, l[len(l)-1])
			l[len(l)-1] = nil
			l = l[:len(l)-1]
			pool.bytes -= 4 * n
		}
		pool.free[n] = l
		if pool.inUse+pool.bytes <= keepLocked() {
			break
		}
	}
	return out
}

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
		if n >= minMapped {
			pool.inUse += 4 * n
			pool.peak = max(pool.peak, pool.inUse)
		}
		pool.mu.Unlock()
		return s
	}
	if n < minMapped {
		pool.mu.Unlock()
		return make([]float32, n)
	}
	pool.inUse += 4 * n
	pool.peak = max(pool.peak, pool.inUse)
	evict := evictLocked()
	pool.mu.Unlock()
	for _, s := range evict {
		unmapF32(s)
	}
	if s := mapF32(n); s != nil {
		return s
	}
	pool.mu.Lock()
	pool.inUse -= 4 * n
	pool.mu.Unlock()
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
	mapped := isMapped(s)
	pool.mu.Lock()
	if mapped {
		pool.inUse -= 4 * len(s)
	}
	if pool.bytes+4*len(s)+pool.inUse > keepLocked() {
		pool.mu.Unlock()
		unmapF32(s)
		return
	}
	pool.free[len(s)] = append(pool.free[len(s)], s)
	pool.bytes += 4 * len(s)
	pool.mu.Unlock()
}

// dropMapped forgets an in-use mapped buffer that is unmapped without passing through the free lists.
func dropMapped(s []float32) {
	pool.mu.Lock()
	pool.inUse -= 4 * len(s)
	pool.mu.Unlock()
	unmapF32(s)
}

// PoolStats reports the reuse pool: the mapped bytes in use now, their peak so far (the working set
// the free lists are sized from), and the bytes kept free for reuse.
func PoolStats() (inUse, peak, free int64) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return int64(pool.inUse), int64(pool.peak), int64(pool.bytes)
}

// ReleaseMemory empties the free lists of buffers kept for reuse (the memory maps outside the Go
// heap are returned to the system at once) and restarts the peak the pool is sized from. Later
// computations allocate afresh. Benchmarks call it so that one benchmark's peak memory does not
// include buffers another one left for reuse.
func ReleaseMemory() { releaseFree() }

// releaseFree empties the free lists, unmapping what lies outside the Go heap.
func releaseFree() {
	pool.mu.Lock()
	free := pool.free
	pool.free, pool.bytes, pool.peak = map[int][][]float32{}, 0, pool.inUse
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
