// Package inflora implements InfLoRA, interference-free LoRA whose down-projection is designed, not
// trained, to lie outside the earlier rounds' input subspace, as an accrete.Strategy.
//
// # Overview
//
// InfLoRA (Liang & Li, "InfLoRA: Interference-Free Low-Rank Adaptation for Continual Learning",
// CVPR 2024, arXiv 2404.00228) reparameterises each round's update as ΔW = Scale·B·A with A fixed
// and only B trained, so that ΔW's row space is A's. A is built, before training, from the new task's
// inputs projected off a memory M of the earlier tasks' input subspaces:
//
//	A = top-r eigenvectors of (I − MᵀM)·C·(I − MᵀM),  C = Σ x·xᵀ over the round's tokens
//
// where x is the module's input. Then ΔW·x' = 0 for every input x' in the earlier tasks' subspace:
// the new round does not disturb what the model computes on the old tasks' inputs (to the degree
// that those inputs lie in M), while A still points at the directions the new task uses. After the
// round, M is extended, GPM-style (Saha et al., ICLR 2021), with the new task's input directions
// outside M until M holds a fraction Config.Threshold of the task's input energy.
//
// # Variant
//
// The paper approximates the new task's gradient subspace by its input subspace and keeps the
// memory with DualGPM (either M or its complement, whichever is smaller). This package keeps M
// itself (rows of an orthonormal basis per module), computes C from the inputs of every adapted
// linear layer, captured through the model's adapter hook in one forward pass over up to
// Config.Samples of the round's sequences (padding excluded), and takes A's rows as unit
// eigenvectors. Covariances, designs and memory updates are computed on the host in float64, each
// projected covariance decomposed in full by Householder tridiagonalisation and the implicit QL method
// (EISPACK's tred2 and tql2), about 10·d_in³ flops, twice per module per round (the design before
// training, the memory after it, on different covariances), the modules on GOMAXPROCS goroutines:
// about a second for d_in = 688 on one core, about 25 s for 2048, minutes from 4096 up. The data
// are dropped after the round; only M is kept.
//
// When M fills a module's input space, the projected covariance vanishes and the designed A is 0:
// that module stops learning, and the round logs a warning. A Threshold below 1 keeps room.
//
// # Not for
//
// Full fine-tuning, or a trained A (see orthlora, which trains A against a soft penalty instead).
package inflora
