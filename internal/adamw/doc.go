// Package adamw implements the element-wise AdamW parameter update and the float64 sum of squares
// used for gradient-norm clipping, with AVX-512 and AVX2 kernels on amd64 and portable Go
// elsewhere.
//
// # Overview
//
// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization", ICLR 2019, arXiv:1711.05101): the decay multiplies the parameters directly
// instead of being added to the gradient. [Update] applies one step to a slice of parameters, their
// gradients and both moment estimates, with the scalar coefficients (bias corrections, learning
// rate, clipping factor) computed by the caller and passed in a [Hyper].
//
// Every kernel evaluates exactly the float32 expression documented on [Update], in the same order,
// with separate multiplications and additions (no fused multiply-add) and a correctly rounded
// square root, so all paths — AVX-512, AVX2 and Go, on any architecture — produce bit-identical
// results (NaN payloads aside).
//
// [SumSquares] accumulates in float64 over a fixed structure of 32 interleaved partial sums folded
// pairwise; its result depends only on the input, not on the kernel or the CPU, and differs from a
// sequential sum only by reassociation (each squared term is exact in float64).
//
// The kernel level is chosen once at init from the CPU features reported by golang.org/x/sys/cpu.
package adamw
