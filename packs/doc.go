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
// [eval.Task] whose Train and Test hold the same facts (Test is scored on the trained prompt and on
// the held-out paraphrases). [Base] returns the base facts and [GeneralText] the pretraining text.
//
// # Files
//
// data/tasks.json is the manifest:
//
//	{"seed": N,
//	 "tasks": [{"name","metric","file","items","paraphrases","choices","description","source","licence"}, ...],
//	 "base": {same fields, file "base/facts.jsonl"},
//	 "general": {"file":"base/general.txt","bytes","description","source","licence"}}
//
// tasks is in the default round order; file is relative to data/. Each .jsonl file holds one
// [eval.Example] per line. For first_char tasks the options "A) … D) …" end every prompt and
// paraphrase and the answer is the letter; multiple_choice items carry their choices.
//
// # Invariants
//
// Every task has at least 100 items with unique ids, and every item at least one paraphrase that
// differs from its prompt. No phrasing occurs both in the base pack and in a new task, and general.txt
// quotes no new fact, so a base model scores near chance on the new tasks.
//
// The data is generated, byte for byte reproducibly, by internal/packgen; do not edit it by hand.
// This package does not score or format prompts: that is package eval's and the trainer's job.
package packs
