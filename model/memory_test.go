package model

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/stretchr/testify/require"
)

// liveHeap returns the Go heap's live bytes after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestWeightsHeldOnce checks that a model on the accrete backend holds its weights once: the backend's
// buffers borrow the host tensors (Model.ParamTensors) instead of copying them, so after a forward
// pass the memory the model keeps is its weights plus at most weightsOverhead of them (the compiled
// graphs and bookkeeping), not the two copies (host tensors and device buffers) it held before.
func TestWeightsHeldOnce(t *testing.T) {
	b, err := Backend()
	require.NoError(t, err)
	if _, ok := b.(borrower); !ok {
		t.Skipf("backend %s copies host tensors into its buffers; only the accrete backend borrows them", b.Name())
	}
	cfg := Config{HiddenSize: 256, IntermediateSize: 688, NumHiddenLayers: 6, NumAttentionHeads: 8, NumKeyValueHeads: 4, VocabSize: 8192}
	for _, bf16 := range []bool{false, true} {
		heldOnce(t, b, cfg, bf16)
	}
}

func heldOnce(t *testing.T, b backends.Backend, cfg Config, bf16 bool) {
	w := RandomWeights(cfg, rand.New(rand.NewPCG(1, 2)), 0.02, 0)
	if bf16 {
		require.NoError(t, w.ToBF16())
	}
	before := liveHeap()
	m, err := New(b, cfg, w)
	require.NoError(t, err)
	w = nil
	var weights uint64
	for _, w := range m.Weights {
		weights += 4*uint64(len(w.Data)) + 2*uint64(len(w.BF16))
	}
	before -= weights // the weights were made before the count started
	seqs := [][]int{make([]int, 64), make([]int, 64)}
	for _, s := range seqs {
		for i := range s {
			s[i] = i % cfg.VocabSize
		}
	}
	for range 2 {
		_, err = m.Logits(seqs)
		require.NoError(t, err)
	}
	after := liveHeap()
	held := int64(after) - int64(before)
	t.Logf("bf16 storage %v: weights %.1f MB, held after two forward passes %.1f MB (%.3f×)", bf16, float64(weights)/1e6, float64(held)/1e6, float64(held)/float64(weights))
	require.LessOrEqual(t, float64(held), (1+weightsOverhead)*float64(weights),
		"the model holds %.1f MB for %.1f MB of weights: more than one copy", float64(held)/1e6, float64(weights)/1e6)
	runtime.KeepAlive(m)
}
