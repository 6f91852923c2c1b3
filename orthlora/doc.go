// Package orthlora implements O-LoRA, orthogonal-subspace sequential LoRA, as an accrete.Strategy.
//
// # Overview
//
// O-LoRA (Wang et al., "Orthogonal Subspace Learning for Language Model Continual Learning",
// Findings of EMNLP 2023, arXiv 2310.14152) trains one fresh LoRA adapter per round and keeps the new
// adapter's input subspace away from the subspaces of the earlier rounds' adapters by adding to the
// task loss
//
//	λ · Σ_modules Σ_{j,k} |(A_new · A_pastᵀ)_{jk}|
//
// where A_new [r, d_in] is the new adapter's lora_A of a module and A_past [Σr, d_in] stacks every
// earlier round's lora_A of that module. This is the form used by the code of "Collaboratively adding
// new knowledge to an LLM" (Lee & Wynter, arXiv 2410.14753), with λ ∈ {0.5, 5} and no other term, and
// it equals olora_orth_loss of the project's PyTorch reference llama_ref.py (a golden test checks it).
// Only A is constrained; B is free.
//
// The original O-LoRA also adds λ2 · Σ ‖P‖ over the new adapter's parameter tensors P (every lora_A
// and lora_B), where ‖·‖ is the Frobenius norm, not squared — torch.norm(param, p=2) summed per
// tensor, as in the authors' trainer. Config.Lambda2 enables it (default 0, as in arXiv 2410.14753).
// Its gradient at P = 0 (B at initialisation) is taken as 0, as PyTorch does.
//
// The original keeps past adapters as frozen branches concatenated beside the new one; their forward
// equals folding them into the weights, which is what Strategy does after each round (PEFT's
// merge_and_unload). It keeps only the past A matrices, which are all the penalty needs.
//
// # λ on a known scale
//
// The raw term is a sum over every adapted module of r·Σr absolute inner products, so its size grows
// with the number of target modules, the rank, the model width (through A's initial scale) and every
// round (Σr grows): O-LoRA's authors warn it can be thousands of times the task loss, and with the
// paper's λ = 0.5 on five small tasks it reached 2.4–2.8 times the task loss and stopped later rounds
// from learning. Config.Scale divides the term before λ weighs it:
//
//   - Initial (the default) divides by the term's value for the round's freshly initialised A_new, so
//     the penalty starts every round at exactly λ, in the task loss's unit (nats per token), and falls
//     as A_new turns away from the past subspace. λ then reads the same on any model, rank, set of
//     target modules and round: λ = 0.5 starts each round with half a nat of penalty beside a task
//     loss of a few nats. It is the default because it is the only one of the three whose starting
//     value does not depend on the model, the adapter or the round.
//   - Mean divides by the number of entries of A_new·A_pastᵀ (Σ_modules r·Σr): λ weighs the mean
//     absolute inner product of a new and a past row of A, which is independent of the number of
//     modules, rank and rounds but still of order 1/√d_in at initialisation.
//   - Sum is the raw sum of O-LoRA's and arXiv 2410.14753's code; choose it to reproduce their λ's.
//
// Strategy logs, for every round, the task loss, the penalty, their ratio, the raw overlap and the
// divisor (RoundLog), so the scale can be checked before a long run. A λ that is too large keeps the
// adapter orthogonal but stops it from learning; λ = 0 is plain sequential LoRA.
//
// # Not for
//
// Fully-cooperative training (O-LoRA never sees earlier rounds' data: it uses only Round.Task), or
// constraining B or ΔW = B·A (see merge and moe for other ways of combining adapters).
package orthlora
