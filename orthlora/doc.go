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
// # λ guidance
//
// O-LoRA's authors warn that the orthogonality term can be thousands of times the task loss: it is a
// sum over every adapted module of r·Σr absolute inner products. They tune λ1 in 0–5 and λ2 in 0–0.5.
// Strategy logs, for every round, the task loss, the penalty and their ratio (RoundLog), so the scale
// can be checked before a long run. A λ that is too large keeps the adapter orthogonal but stops it
// from learning; λ = 0 is plain sequential LoRA.
//
// # Not for
//
// Fully-cooperative training (O-LoRA never sees earlier rounds' data: it uses only Round.Task), or
// constraining B or ΔW = B·A (see merge and moe for other ways of combining adapters).
package orthlora
