// Package merge combines LoRA adapters trained separately from one base model into one update, without
// any of their data: linear averaging, task arithmetic, TIES, DARE, DELLA, breadcrumbs, magnitude
// pruning, Model Stock, spherical interpolation (NuSLERP), the Karcher mean and exact concatenation,
// plus interference diagnostics and the semi-cooperative strategy that merges every round's adapter.
//
// # Overview
//
// Every method works on each module's full update ΔW = scale·B·A (lora.Adapter.DeltaW), never on A
// and B separately. That is deliberate: PEFT's add_weighted_adapter, for its non-SVD combinations,
// trims, drops and sign-elects the A and B matrices one at a time, and since (trim B)·(trim A) is
// not trim(B·A) — nor is a product of DARE-masked factors a DARE-masked product, nor do the signs of
// A and B say anything about the sign of their product — what PEFT calls TIES or DARE of LoRAs is
// not TIES or DARE of the task vectors the papers define. (The study this module reproduces,
// arXiv 2410.14753, merged through PEFT and so measured that variant.) Here, with τ_i = ΔW_i, w_i
// the weights and λ the Scale:
//
//   - Linear: λ·Σ w_i τ_i / Σ w_i, the uniform average with the default weights 1/N;
//   - TaskArithmetic: λ·Σ w_i τ_i (Ilharco et al., ICLR 2023, arXiv 2212.04089);
//   - TIES (Yadav et al., NeurIPS 2023, arXiv 2306.01708): trim each τ_i to its top-Density
//     fraction by magnitude, elect each entry's sign as sign(Σ w_i trim(τ_i)), and take the
//     disjoint mean over the adapters agreeing with it, weighted as mergekit does:
//     λ·Σ w_i m_i trim(τ_i) / Σ w_i m_i;
//   - DARE (Yu et al., ICML 2024, arXiv 2311.03099): drop each entry with probability p and rescale
//     the survivors by 1/(1−p), from a seed, then combine like Linear (DARELinear) or TIES
//     (DARETIES);
//   - Magnitude: keep each τ_i's top-Density fraction by magnitude, then combine like Linear;
//   - Concat: λ·Σ w_i τ_i in closed form as a LoRA of rank Σ r_i (Concatenate): A stacks the A's
//     and B concatenates the weighted, scaled B's, so B·A is the weighted sum exactly;
//   - DELLA (Deep et al., arXiv 2406.11617): MAGPRUNE drops each entry with a keep probability that
//     grows with its magnitude rank in its row (Density ± Epsilon) and rescales survivors by 1/q, then
//     TIES's election and disjoint mean (DELLA) or Linear's average (DELLALinear);
//   - Breadcrumbs (Davari & Belilovsky, arXiv 2312.06795): per module, drop both tails of each τ_i
//     (the Outliers fraction of largest magnitudes and the smallest, so Density remains), then sum;
//   - ModelStock (Jang et al., arXiv 2403.19522): the weighted average shrunk towards the base by
//     t = N·cosθ/(1+(N−1)·cosθ), θ the angle between the ΔW;
//   - NuSLERP: spherical interpolation of two ΔW, whole or row by row, at t = w_1/(w_0+w_1);
//   - Karcher: the weighted Riemannian mean of the normalised ΔW on the sphere, iterated to
//     tolerance, scaled by the weighted mean of their norms.
//
// A merge can be folded into weights (Merge with FoldInto), kept dense (Dense), or re-factored into a
// LoRA of a chosen rank by truncated SVD (Refactor), which reports each module's and the overall
// relative Frobenius error. The SVD is this package's own (TruncatedSVD): a randomized range finder
// with power iterations followed by one-sided Jacobi on the small projection, or one-sided Jacobi on
// the whole matrix when the rank asked for is close to full.
//
// # Interference
//
// Interference reports, before merging, how the adapters' updates of each module collide: the cosine
// of every pair's ΔW, the principal angles between their A row spaces (input subspaces), and the
// fraction of entries whose nonzero signs disagree (what TIES's sign election resolves), optionally
// after TIES's trim.
//
// # Invariants
//
// Merge streams: it computes one module's merged ΔW at a time and hands it to an Emit callback, so
// merging N adapters holds at most N deltas of one module (one for the averaging methods), never
// every ΔW of the model; BenchmarkMerge measures the peak heap against the all-at-once approach.
// One adapter with weight 1 is reproduced bit for bit by every method at Density 1 (and by Linear,
// TaskArithmetic, Concat, ModelStock, NuSLERP and Karcher at any density: with one adapter, Model
// Stock's cosθ is 1, and NuSLERP and Karcher return it).
//
// # Strategy
//
// New(Config) is an accrete.Strategy for the semi-cooperative setting of arXiv 2410.14753: each round
// trains an adapter from the base on that round's task, keeps it, and sets the effective model to
// base + merge(all adapters so far). It is Stateful (the adapters are saved in PEFT's layout) and a
// Namer ("merge-ties", ...).
//
// The package is not a general model-merging toolkit: it merges LoRA deltas of one base model only,
// not full fine-tuned checkpoints or models of different architectures.
package merge
