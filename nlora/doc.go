// Package nlora implements N-LoRA, sequential LoRA with an L1 penalty on each round's update against
// parameter collisions, as an accrete.Strategy.
//
// # Overview
//
// N-LoRA (Yang et al., "Is Parameter Collision Hindering Continual Learning in LLMs?", COLING 2025,
// arXiv 2410.10179) observes that O-LoRA's orthogonal subspaces still collide: two tasks' updates
// share nonzero entries of the weights. Making each task's update sparse makes collisions rare, and
// sparse updates are also nearly orthogonal, without storing any earlier adapter. Each round trains a
// fresh LoRA adapter with
//
//	λ · Σ_modules ‖ΔW‖₁,  ΔW = Scale·B·A [out, in]
//
// added to the task loss, then folds it into the weights as sequential LoRA does.
//
// # Variant
//
// The paper states the penalty on the update ΔW of the current task, which is what this package
// implements by default: ΔW is formed in the graph for every target module, so the penalty costs one
// [out, in] product per module and step. Config.Factors applies the L1 norm to the adapter's factors
// instead, λ·Σ (‖A‖₁ + ‖B‖₁), which is cheaper and also sparsifies ΔW (the form O-LoRA's trainer uses
// for its own L2 term); the two differ in scale, so λ must be tuned per form. The subgradient of |x|
// at 0 is taken as 0, so B's zero initialisation receives the task gradient only.
//
// No state crosses rounds except the history (RoundLog): N-LoRA's penalty needs no earlier adapter.
//
// # λ
//
// The term is a raw sum over every entry of every adapted module, so it grows with the model and the
// rank. Strategy logs, per round, the L1 norm of the trained update, the penalty and its ratio to the
// task loss, so λ can be set against the task loss (a penalty of a tenth of the task loss is a
// reasonable start). λ = 0 is plain sequential LoRA.
//
// # Not for
//
// Constraining the new adapter against earlier ones (see orthlora, or ella for a penalty weighted by
// the earlier updates).
package nlora
