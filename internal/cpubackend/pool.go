package cpubackend

import "sync"

// Buffer reuse. A training step at the stories15M shape allocates gigabytes of float32
// intermediates that each live for a few ops; left to the garbage collector they cost a memclr per
// allocation plus a collection every few ops, and the heap grows to a multiple of what is live.
// Execute knows when each value dies (its last use), so it hands dead buffers back here and the ops
// take their outputs from here: after the first step every buffer is reused. The free lists are
// sync.Pools keyed by length, so buffers nobody asks for again are dropped by the garbage collector
// after two collections and an idle process does not keep them.

// minPooled is the length below which buffers are left to the garbage collector.
const minPooled = 1024

var f32Pools sync.Map // int (length) -> *sync.Pool of *[]float32

func f32PoolFor(n int) *sync.Pool {
	if p, ok := f32Pools.Load(n); ok {
		return p.(*sync.Pool)
	}
	p, _ := f32Pools.LoadOrStore(n, &sync.Pool{})
	return p.(*sync.Pool)
}

// getF32 returns a float32 slice of length n whose contents are undefined: callers must write
// every element.
func getF32(n int) []float32 {
	if n >= minPooled {
		if sp, ok := f32PoolFor(n).Get().(*[]float32); ok {
			s := *sp
			*sp = nil
			boxes.Put(sp)
			return s
		}
	}
	return make([]float32, n)
}

// getF32Zero returns a zeroed float32 slice of length n.
func getF32Zero(n int) []float32 {
	s := getF32(n)
	clear(s)
	return s
}

// boxes recycles the *[]float32 boxes the pools hold, so that putting a buffer back allocates nothing.
var boxes = sync.Pool{New: func() any { return new([]float32) }}

// putFlat hands a dead value back for reuse. Only float32 slices of at least minPooled elements are
// kept; anything else is left to the garbage collector. The caller must hold the only reference.
func putFlat(v any) {
	s, ok := v.([]float32)
	if !ok || len(s) < minPooled || cap(s) != len(s) {
		return
	}
	sp := boxes.Get().(*[]float32)
	*sp = s
	f32PoolFor(len(s)).Put(sp)
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
