// Package packs embeds the knowledge packs of the study: the new-knowledge dataset-tasks added one per
// round, and the base pack (old facts plus general text) the base model is pretrained on.
//
// It reproduces in miniature the task mix of "Collaboratively adding new knowledge to an LLM" (Lee &
// Wynter, arXiv 2410.14753): short-answer questions scored by exact match, classification scored by
// multiple-choice log-likelihood or by the first character (a choice letter), completions scored by
// ROUGE-L, and structured strings scored by edit similarity. All facts are real, short enough for a
// tiny model, and taken from permissively licensed Debian and npm packages (data/*/PROVENANCE.md).
//
// # Overview
//
// [Names] lists the new-knowledge tasks in the default round order; [Load] returns one as an
// [eval.Task] whose Train and Test hold the same facts: every item is trained in several phrasings
// (Prompt and Phrasings, drawn from its relation's pool of 8 templates) and scored on a held-out one
// (Paraphrases; for base facts also Novel, from templates no item trains on). [Base] returns the base
// facts, [GeneralText] the pretraining text and [HeldOutText] the held-out text that bits per byte are
// measured on.
//
// # Files
//
// data/tasks.json is the manifest:
//
//	{"seed": N,
//	 "tasks": [{"name","metric","file","items","phrasings","paraphrases","novel","templates","choices",
//	            "description","source","licence"}, ...],
//	 "base": {same fields, file "base/facts.jsonl"},
//	 "general": {"files":["base/general-01.txt",...],"bytes","documents","held_out":"base/heldout.txt",
//	             "held_out_bytes","held_out_documents","description","source","licence"}}
//
// tasks is in the default round order; file is relative to data/. Each .jsonl file holds one
// [eval.Example] per line. For first_char tasks the options "A) … D) …" end every prompt and
// paraphrase and the answer is the letter; multiple_choice items carry their choices.
//
// # Invariants
//
// Every task has at least 100 items with unique ids; every item has at least 3 trained phrasings and one
// held-out phrasing, all different. No phrasing occurs both in the base pack and in a new task, and no
// phrasing of a new task and no held-out phrasing of a base fact occurs in the pretraining text
// (TestNoLeak); the general text names no new fact's subject with its answer, so a base model scores
// near chance on the new tasks.
//
// The data is generated, byte for byte reproducibly, by internal/packgen; do not edit it by hand.
// This package does not score or format prompts: that is package eval's and the trainer's job.
package packs
