package lora

import (
	"math"
	"sync"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/safetensors"
)

// Full fine-tuning of weights stored as bfloat16 (master weights, as DeepSpeed's and Megatron's bf16
// optimizers keep them): the forward and backward passes read the bfloat16 weights, AdamW updates a
// float32 master copy of each with float32 moments, and after every step the stored weight becomes
// its master rounded to the nearest bfloat16, ties to even (safetensors.Float32ToBF16, as
// Weights.ToBF16 and torch's .bfloat16() round). An update smaller than half a bfloat16 ulp leaves the
// stored weight as it is but stays in the master, so that many small steps still move it. The
// master lives for one Train call and starts from the stored bfloat16 values.

// masterValues returns the float32 values AdamW updates for the trained tensors of host, in names
// order: a float32 tensor's Data itself, and for a bfloat16 tensor a master widened from its BF16
// (exactly). bf16 lists the indices of the bfloat16 tensors.
func masterValues(names []string, host map[string]*model.Tensor) (vals [][]float32, bf16 []int) {
	vals = make([][]float32, len(names))
	for i, n := range names {
		t := host[n]
		vals[i] = t.Float32()
		if t.IsBF16() {
			bf16 = append(bf16, i)
		}
	}
	return vals, bf16
}

// roundMasters stores each master of vals (the indices bf16) into its tensor's BF16, rounded to
// nearest even, spread over the cores.
func roundMasters(names []string, host map[string]*model.Tensor, vals [][]float32, bf16 []int) {
	type chunk struct{ i, lo, hi int }
	var chunks []chunk
	for _, i := range bf16 {
		for lo := 0; lo < len(vals[i]); lo += adamChunk {
			chunks = append(chunks, chunk{i, lo, min(len(vals[i]), lo+adamChunk)})
		}
	}
	parallelChunks(len(chunks), func(k int) {
		ch := chunks[k]
		dst := host[names[ch.i]].BF16[ch.lo:ch.hi]
		for j, v := range vals[ch.i][ch.lo:ch.hi] {
			dst[j] = safetensors.Float32ToBF16(v)
		}
	})
}

// bf16Flat is t's BF16 as the flat slice GoMLX's bfloat16 buffers read and write.
func bf16Flat(t *model.Tensor) []bfloat16.BFloat16 {
	return unsafe.Slice((*bfloat16.BFloat16)(unsafe.Pointer(unsafe.SliceData(t.BF16))), len(t.BF16))
}

// roundsToNearestEven caches, per backend, whether its ConvertDType from float32 to bfloat16 rounds
// to nearest even (XLA and the accrete backend do; GoMLX's stock pure-Go backend truncates).
var roundsToNearestEven sync.Map // backends.Backend → bool

// convertRoundsToNearestEven reports whether b's ConvertDType from float32 to bfloat16 gives the
// bits of safetensors.Float32ToBF16 on values that tell rounding to nearest even from truncation and
// from ties away from zero.
func convertRoundsToNearestEven(b backends.Backend) bool {
	if v, ok := roundsToNearestEven.Load(b); ok {
		return v.(bool)
	}
	probe := []float32{
		1 + 0x1p-8 + 0x1p-9,    // above half an ulp: up
		1 + 0x1p-8,             // a tie, the lower neighbour even: down
		1 + 0x1p-7 + 0x1p-8,    // a tie, the lower neighbour odd: up
		-(1 + 0x1p-8 + 0x1p-9), // negative, above half: away from zero
		0.1, -3.14159, 65504.5,
	}
	ok := false
	if e, err := graph.NewExec(b, func(x *graph.Node) *graph.Node { return graph.ConvertDType(x, dtypes.BFloat16) }); err == nil {
		defer e.Finalize()
		if out, err := e.Exec(tensors.FromFlatDataAndDimensions(probe, len(probe))); err == nil {
			ok = true
			tensors.ConstFlatData(out[0], func(f []bfloat16.BFloat16) {
				for i, v := range probe {
					ok = ok && uint16(f[i]) == safetensors.Float32ToBF16(v)
				}
			})
			finalize(out)
		}
	}
	roundsToNearestEven.Store(b, ok)
	return ok
}

// bf16Rounder returns the graph function that rounds a float32 node to bfloat16, ties to even, on b:
// ConvertDType where b's conversion rounds so, else nearestBF16 first, whose result any conversion
// keeps exactly.
func bf16Rounder(b backends.Backend) func(x *graph.Node) *graph.Node {
	if convertRoundsToNearestEven(b) {
		return func(x *graph.Node) *graph.Node { return graph.ConvertDType(x, dtypes.BFloat16) }
	}
	return func(x *graph.Node) *graph.Node { return graph.ConvertDType(nearestBF16(x), dtypes.BFloat16) }
}

// nearestBF16 rounds a float32 node to the nearest bfloat16 value, ties to even, in float32
// arithmetic (for backends without bit casts): with 2^e the leading power of two of |x|, found by
// exact power-of-two scalings, σ = 1.5·2^(e+16) has float32 ulp 2^(e−7), bfloat16's ulp at x, so
// (x + σ) − σ is x rounded to that ulp by the float32 addition's own rounding, ties to even. Values
// from 2^64 up are scaled down by 2^64 first (exactly), so that σ stays finite. Zeros and infinities
// are returned as they are, NaNs as a quiet NaN.
func nearestBF16(x *graph.Node) *graph.Node {
	g := x.Graph()
	c := func(v float64) *graph.Node { return graph.Scalar(g, dtypes.Float32, v) }
	big := graph.GreaterOrEqual(graph.Abs(x), c(0x1p64))
	xs := graph.Where(big, graph.Mul(x, c(0x1p-64)), x)
	a := graph.Abs(xs)
	ufp := graph.OnesLike(x)
	for k := 32; k >= 1; k /= 2 {
		up := graph.GreaterOrEqual(a, c(math.Ldexp(1, k)))
		a = graph.Where(up, graph.Mul(a, c(math.Ldexp(1, -k))), a)
		ufp = graph.Where(up, graph.Mul(ufp, c(math.Ldexp(1, k))), ufp)
	}
	for k := 64; k >= 1; k /= 2 {
		down := graph.LessThan(graph.Mul(a, c(math.Ldexp(1, k))), c(2))
		a = graph.Where(down, graph.Mul(a, c(math.Ldexp(1, k))), a)
		ufp = graph.Where(down, graph.Mul(ufp, c(math.Ldexp(1, -k))), ufp)
	}
	ufp = graph.Max(ufp, c(0x1p-126)) // subnormals share the smallest normal binade's ulp
	sigma := graph.Mul(ufp, c(0x1p16+0x1p15))
	r := graph.Sub(graph.Add(xs, sigma), sigma)
	r = graph.Where(big, graph.Mul(r, c(0x1p64)), r)
	r = graph.Where(graph.LogicalAnd(graph.NotEqual(x, c(0)), graph.IsFinite(x)), r, x)
	return graph.Where(graph.IsNaN(x), graph.BroadcastToShape(c(math.NaN()), x.Shape()), r) // a truncated payload could read as ±Inf
}
