// Package osf implements orthogonal-subspace fine-tuning (OSF) for sequential LoRA rounds: each
// round's update is confined to the complement of the leading singular subspaces of the current
// weights, as an accrete.Strategy.
//
// # Overview
//
// OSF (Nayak et al., "Sculpting Subspaces: Constrained Full Fine-Tuning in LLMs for Continual
// Learning", arXiv 2504.07097; PEFT's OSF) splits every weight by its SVD, W = U·Σ·Vᵀ, into the
// leading ("high-rank") singular directions, which carry what the model already knows (the
// pretraining and every earlier task, whose updates were folded into W), and the rest. Updates are
// projected to be orthogonal to the leading directions, so the new task cannot move what W does
// along them. This package applies that projection to each round's LoRA update:
//
//	ΔW = (I − U_k·U_kᵀ) · Scale·B·A · (I − V_k·V_kᵀ)
//
// where U_k [out, k] and V_k [in, k] are W's k leading left and right singular vectors at the start
// of the round, k = ⌈Keep·min(out, in)⌉. The projection is part of the forward pass (the adapter's
// input is projected off V_k, its output off U_k), so the gradients reaching A and B are the projected
// gradients of OSF; after training it is folded into the factors exactly, A ← A·(I − V_kV_kᵀ) and
// B ← (I − U_kU_kᵀ)·B, so the stored adapter, the folded weights and the trained forward agree.
//
// # Variant, and why OSF rather than GORP
//
// The paper fine-tunes the full low-singular part of W and chooses k per layer from an importance
// score; this package keeps LoRA's factors (so it runs wherever sequential LoRA does, at LoRA's
// memory) and a fixed fraction Keep for every module (PEFT's default is half). The subspace is
// recomputed from the current weights every round, which is how the preserved subspace grows with
// the tasks: it needs no state beyond the weights, so resuming a run needs only the history.
//
// OSF was chosen over GORP (arXiv 2507.02503, gradients projected off an SVD of Adam's first moment)
// because GORP needs the optimizer's state inside every step, which lora.Train keeps to itself, while
// OSF's projection depends only on the weights at the start of the round and can be expressed as a
// reparameterisation of the adapter, with no change to the trainer; users have also asked for OSF
// (LlamaFactory #9712) as the baseline PEFT ships.
//
// Dropout on the adapter's input (lora.Config.Dropout) is not applied under OSF: the trainer applies
// it only to a plain *lora.Adapter.
//
// # Not for
//
// Full fine-tuning of the low-singular part (the paper's own setting), or per-layer ranks.
package osf
