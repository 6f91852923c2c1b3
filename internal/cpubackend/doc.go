// Package cpubackend is accrete's own GoMLX CPU backend, registered as "accrete" (select it with
// GOMLX_BACKEND=accrete), built for the ops accrete's Llama graphs use and for speed on small CPUs.
//
// # Overview
//
// Importing the package registers the backend. It implements, for float32 (and float64, the integer
// types and bool where an op needs them: indices, masks, the RNG state), the GoMLX ops that model
// forward passes, KV-cache decoding and training steps (forward, graph.Gradient, AdamW) build:
// parameters and constants, element-wise unary and binary ops, comparisons and logical ops, Where,
// ConvertDType, Iota, Reshape, Transpose, BroadcastInDim, Slice, Concatenate, the reductions,
// ArgMinMax, Gather, ScatterSum/Max/Min, RNGBitGenerator and DotGeneral. Every other op returns an
// error that wraps notimplemented.NotImplementedError and names the op.
//
// DotGeneral groups each operand's axes into [batch, rows, contracting] matrices (reading them
// through strides, transposing only when the axes cannot be grouped in place) and runs an SGEMM laid
// out after Goto and van de Geijn ("Anatomy of high-performance matrix multiplication", ACM TOMS
// 2008) and BLIS: packed KC×NC panels of B and MC×KC panels of A feed a 6×16 register-blocked
// micro-kernel, written in Go assembly for AVX2/FMA with a portable Go fallback. Batch items and row
// blocks of large enough products are split among goroutines (one per CPU by default, or
// "accrete:workers=N").
//
// Computations run their ops one after another on the calling goroutine; executions share no
// mutable state, so any number may run concurrently. Values are plain Go slices freed by the garbage
// collector once no later op needs them; buffers are shared with the host (HasSharedBuffers).
//
// The backend serves accrete's reproduction of Lee & Wynter (arXiv 2410.14753) and O-LoRA (arXiv
// 2310.14152) on laptops and CI machines. It is not a general GoMLX backend: no convolutions, no
// complex or half-precision types, no distributed execution.
package cpubackend
