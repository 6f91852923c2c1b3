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
// It implements the methods of "Collaboratively adding new knowledge to an LLM" (Lee & Wynter,
// arXiv 2410.14753) and O-LoRA (Wang et al., EMNLP 2023, arXiv 2310.14152).
package accrete
