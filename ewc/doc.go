// Package ewc implements elastic weight consolidation (EWC) for sequential LoRA rounds, as an
// accrete.Strategy.
//
// # Overview
//
// EWC (Kirkpatrick et al., "Overcoming catastrophic forgetting in neural networks", PNAS 114(13),
// 2017, arXiv 1612.00796) keeps the weights that mattered for earlier tasks near their old values by
// adding to the task loss
//
//	λ/2 · Σ_i F_i · (θ_i − θ*_i)²
//
// where F is the diagonal of the Fisher information of the earlier tasks' data at their solution θ*.
// Here θ ranges over the weights the adapter can change (every target module's W [out, in]); each
// round trains a fresh LoRA adapter on the effective model and folds it in, so θ − θ* is exactly the
// round's update ΔW = Scale·B·A, and the penalty is λ/2 · Σ_modules Σ F ⊙ ΔW².
//
// # Variant
//
// The paper keeps one quadratic penalty per earlier task, each anchored at that task's θ*. This
// package implements the single-penalty ("online") form of Huszár ("Note on the quadratic penalties in
// elastic weight consolidation", PNAS 115(11), 2018) and Schwarz et al. (Progress & Compress, ICML
// 2018, arXiv 1805.06370): one running Fisher F ← γ·F + F_t, anchored at the weights at the start of
// the round. With γ = 1 (the default) it is Huszár's corrected form of EWC; memory stays one
// [out, in] matrix per target module however many rounds pass.
//
// F_t is the empirical diagonal Fisher of round t's own data, computed after the round's adapter is
// folded: for each of up to Config.Samples training sequences, the square of the gradient of the
// sequence's log-likelihood of its answer tokens (Σ log p(answer token | everything before it))
// with respect to each target weight, averaged over the sequences. Only the Fisher is kept after the
// round, never the data, so the strategy stays semi-cooperative.
//
// # λ on a known scale
//
// Raw Fisher entries of a language model are tiny and depend on the model, the data and the answer
// lengths, so the λ of one setting means nothing in another (EWC papers tune it over 10²–10⁴). By
// default (Config.Raw false) F is divided by the mean of its entries over every module before λ
// weighs it, so that the penalty is λ/2 · Σ (F/F̄) ⊙ ΔW²: weight decay of strength λ on ΔW for a
// weight of average importance, more for the important ones. Raw keeps the paper's unnormalised F.
//
// # Not for
//
// Full fine-tuning (the penalty is on LoRA rounds' ΔW), or the true Fisher with labels sampled from
// the model (this is the empirical Fisher on the round's answers, as most implementations use).
package ewc
