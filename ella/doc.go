// Package ella implements ELLA, sequential LoRA with a penalty on each round's update along the
// earlier rounds' high-energy directions, as an accrete.Strategy.
//
// # Overview
//
// ELLA (Das Biswas et al., "ELLA: Efficient Lifelong Learning for Adapters in Large Language Models",
// EACL 2026, arXiv 2601.02232) keeps one aggregated matrix of the earlier rounds' updates per module,
// W_past = Σ_{j<t} ΔW_j, and adds to the task loss of round t
//
//	λ · Σ_modules ‖ΔW_t ⊙ W_past‖²_F,  ΔW_t = Scale·B·A
//
// Rather than forbidding any overlap with the past (O-LoRA, InfLoRA), it shrinks the new update
// hardest where the past updates were large, and leaves it free where they were small: an anisotropic
// weight decay whose per-entry strength is W_past². Memory and compute stay constant in the number
// of rounds (one [out, in] matrix per target module), and no data is kept.
//
// # Variant
//
// This package implements the penalty as the issue that asked for it states it, with W_past the plain
// sum of the earlier rounds' (folded) ΔW. By default (Config.Raw false) the weights W_past² are
// divided by their mean over every module before λ weighs them, so that λ is the weight decay of an
// entry of average past energy whatever the model and the size of the earlier updates (the raw
// W_past² entries of a LoRA round are of order 10⁻⁶, which would call for a λ in the millions); Raw
// keeps the unnormalised form. Round 1 has no past and trains as plain LoRA.
//
// # Not for
//
// Rounds whose earlier updates were not folded by this strategy: W_past holds only what it trained.
package ella
