// Package gradfix registers correct, fast gradient rules for the GoMLX v0.26.0 ops whose stock rules
// are wrong or unusable on the pure-Go backend (DotGeneral, Slice, Rsqrt). Importing it for its side
// effects is enough; package model does so.
//
// # Overview
//
// At init the package overwrites these entries of graph.VJPRegistration (see Rules):
//
//   - DotGeneral and Dot: each operand's gradient is one DotGeneral of the incoming gradient with the
//     other operand, plus a Transpose when the axis order differs. The stock rule broadcasts and
//     reduces instead, materialising a batch·lhsFree·rhsFree·contracted tensor: for a
//     [512,128]x[128,384] float32 matmul that is 100 MB per operand and about 10x the time.
//   - Slice: the stock rule uses Pad, which the pure-Go backend does not implement; this one uses
//     Concatenate with zero blocks, and interleaves zeros through a Reshape for strides > 1.
//   - Rsqrt: v0.26.0 has no rule; d/dx x^(-1/2) = -½·rsqrt(x)³.
//   - Expm1 and plain Identity, which also have no rule.
//
// The other ops a Llama-style model differentiates through (Gather, Concatenate, Transpose, Reshape,
// BroadcastInDim, ReduceMax, ReduceSum, Exp, Log, Logistic, Where, the Softmax chain, Sqrt, broadcast
// Add/Mul/Div, ConvertDType, Max) keep their stock rules, which the tests check on the pure-Go backend.
//
// # Invariants
//
// GoMLX v0.26.0 keeps DotGeneral's axes and Slice's starts/limits/strides in an unexported field and
// has no accessor for them; the only exported view is Node.String(). The rules parse that text and
// then check the parsed parameters against the shapes of the node and its inputs, panicking with the
// node's description if they disagree, so a format change in a later GoMLX fails when the gradient
// graph is built rather than producing a wrong gradient. Stock returns the replaced rules, for
// comparison.
//
// The package is not a general autodiff extension mechanism and is meant to be deleted once the
// project moves to a GoMLX release with these fixes.
package gradfix
