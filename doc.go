// Package accrete adds new knowledge to a Llama-family language model round after round with adapters,
// and measures what it gains and what it forgets.
//
// # Overview
//
// One round adds one dataset-task. A Strategy decides how: sequential LoRA or full fine-tuning,
// O-LoRA (package orthlora), adapter merging (package merge), a mixture of LoRA experts (package moe),
// joint training, or sequential training with replay (package replay). Run drives a strategy over a
// task sequence and scores the model after every round on every task and on the base model's own
// knowledge, giving the accuracy matrix and the continual-learning metrics of package eval.
//
// # Building a strategy
//
// Every strategy is configured by a plain struct whose zero value means the documented defaults, and
// is built in one of two ways, decided by whether it keeps anything between rounds:
//
//   - A strategy that keeps nothing between rounds is its configuration: a struct used as a literal,
//     whose zero value works (Sequential{}, Joint{Upsample: true}).
//   - A strategy that keeps state between rounds (adapters, subspaces, a router, a replay buffer) is
//     its package's *Strategy, built by New(cfg Config), or by Wrap(base, cfg Config) when it wraps
//     another strategy (replay.Wrap). The constructor returns the concrete type, never an interface,
//     so that its methods (History, Past, Adapters, SaveState) need no type assertion; it never
//     fails and does not validate, so that it can be written inline.
//
// Every strategy of this module implements Validator, which names the bad field and its value. Run
// calls it before it scores anything, so that a bad configuration fails at once rather than after
// the base model's evaluation; Learn checks it too. A strategy of your own can be a StrategyFunc or
// any type with Learn, with Validate, Name (Namer), SaveState/LoadState (Stateful) and
// FullyCooperative as it needs them.
//
// It implements the methods of "Collaboratively adding new knowledge to an LLM" (Lee & Wynter,
// arXiv 2410.14753) and O-LoRA (Wang et al., EMNLP 2023, arXiv 2310.14152).
package accrete
