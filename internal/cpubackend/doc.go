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
// ArgMinMax, Gather, ScatterSum/Max/Min, RNGBitGenerator, DynamicUpdateSlice and DotGeneral. Every
// other op returns an error that wraps notimplemented.NotImplementedError and names the op.
//
// DotGeneral groups each operand's axes into [batch, rows, contracting] matrices (reading them
// through strides, transposing only when the axes cannot be grouped in place) and runs an SGEMM laid
// out after Goto and van de Geijn ("Anatomy of high-performance matrix multiplication", ACM TOMS
// 2008) and BLIS: packed panels of B and A feed a register-blocked micro-kernel written in Go
// assembly — 14×32 with AVX-512 where the CPU has it, else 6×16 with AVX2/FMA, else portable Go.
// Products with few rows (decoding) skip packing: dedicated kernels dot 1, 2 or 4 rows of A against
// contiguous columns of B, or sum rows of B into a row of C held in registers. Batch items, or row or
// column blocks (of whichever operand is larger) of big enough products are split among goroutines
// (one per CPU by default, or "accrete:workers=N"). Exp, Logistic, the float32 arithmetic ops and
// row sums and maxima run SIMD kernels too.
//
// Computations run their ops one after another on the calling goroutine; executions share no
// mutable state beyond a locked pool of free buffers, so any number may run concurrently. Execute
// knows each value's last use: dead float32 buffers go back to the pool, later ops take theirs from
// it, and an element-wise op, a scatter or a DynamicUpdateSlice writes into an operand whose storage
// dies at it (an intermediate, or an input the caller donated: a decode step's KV cache is updated in
// place that way). Pooled buffers of 16K floats and more live in anonymous memory maps outside the
// Go heap, so the garbage collector does not pace on them and a process's peak memory stays near what
// the computation needs; the free lists keep at most the peak of mapped memory in use so far (at least
// 256 MiB) and Backend.Finalize empties them.
// Outputs, constants and the buffers exchanged with the host are ordinary Go slices
// (HasSharedBuffers).
//
// A few patterns are fused as the graph is built: a broadcast feeding an element-wise op along one
// run of axes (a softmax's row maximum, a norm's weight) is read in place instead of expanded; an op
// on two operands broadcast alike runs on the small ones and is expanded once; and x + ScatterSum of
// zeros (a Gather's gradient added to another gradient) scatters straight into x.
//
// The backend serves accrete's reproduction of Lee & Wynter (arXiv 2410.14753) and O-LoRA (arXiv
// 2310.14152) on laptops and CI machines. It is not a general GoMLX backend: no convolutions, no
// complex or half-precision types, no distributed execution.
package cpubackend
