// Package eval scores language models on dataset-tasks and turns the scores of a continual-learning run
// into the accuracy matrix, its metrics and reports; package eval/plot draws them.
//
// # Overview
//
// A Task (read from a task directory with ReadTasks) names a Metric and holds train and test Examples.
// Score runs a Model — anything with greedy Generate and LogLikelihood, implemented by package model —
// over a task's test items, once on each trained prompt and once on each held-out phrasing (paraphrases,
// whose templates other items train with, and novel phrasings, whose templates no item trains with),
// and returns a TaskScore; its Headline, the held-out score, is the knowledge that generalises.
// BitsPerByte measures a Model on general text, tokenizer-independently. The scorers are also plain
// functions:
//
//   - ExactMatchScore after SQuAD's Normalize (lower case, no punctuation, no a/an/the);
//   - FirstCharScore, the first non-space character, for choice-letter tasks;
//   - RougeLF1, ROUGE-L F1 over white-space tokens (Lin 2004, "ROUGE: A Package for Automatic
//     Evaluation of Summaries");
//   - EditSimilarity, 1 − Levenshtein/max length, over runes;
//   - SARIScore, SARI of a simplification against its source and references (Xu et al., TACL 2016), as
//     Hugging Face evaluate computes one sentence;
//   - NumericMatchScore, GSM8K's exact match of the final number, extracted by ExtractNumber as
//     lm-eval-harness's gsm8k task does;
//   - Argmax and ArgmaxNorm, lm-eval-harness's acc and acc_norm (summed log-likelihood, and the same
//     divided by the choice's length in characters);
//   - Perplexity and PerplexityFromSum.
//
// Template fixes the prompt format ("Q: {prompt}\nA:" and " {answer}\n" by default); the trainer uses
// the same Format and FormatAnswer so that a model is scored in the phrasing it learnt.
// PaperTemplate and AlpacaTemplate are the paper's (arXiv 2410.14753, github.com/RhuiDih/cl): the
// answer right after the prompt and the end-of-sequence token after it (Template.EOS), with Alpaca's
// "### Instruction / ### Response" prompt built by AlpacaPrompt or AlpacaQuery; Truncate shortens a
// training sequence as that code does (the prompt keeps head and tail, the answer its head).
//
// A Matrix holds R[i][j], the headline score on task j after round i, the base model's scores b[j], the
// same on the trained phrasings (Trained, TrainedMatrix), and two retention measures after each round:
// the score on the base model's own knowledge and bits per byte on held-out general text (DeltaBPB).
// Its methods are the standard continual-learning metrics:
//
//   - ACC, BWT and FWT of GEM (Lopez-Paz & Ranzato, "Gradient Episodic Memory for Continual Learning",
//     NeurIPS 2017, arXiv 1706.08840); BWT and FWT divide by T−1;
//   - Forgetting, max-based, of Chaudhry et al. ("Riemannian Walk for Incremental Learning", ECCV 2018,
//     arXiv 1801.10112) — not Avalanche's first-minus-last;
//   - AvgIncrementalAccuracy of iCaRL (Rebuffi et al., CVPR 2017, arXiv 1611.07725);
//   - OP and TraceBWT of TRACE (Wang et al. 2023, arXiv 2310.06762), whose BWT divides by t, not t−1.
//
// A Report gathers MethodResults and writes them as Markdown, CSV and JSON. The figures — a grouped bar
// chart of acquisition (held-out and trained phrasings) and retention per method (those of arXiv
// 2410.14753), a heat map of each matrix and the acquisition-retention frontier — are drawn by package
// eval/plot, so that a program that scores and reports does not link a plotting library, its fonts and
// its LaTeX renderer.
//
// # Invariants
//
// Scores are in [0, 1]. NaN means "not measured" or "undefined" (BWT after one round, a paraphrase mean
// without paraphrases); it propagates through the metrics, is written as null in JSON, an empty field in
// CSV and "–" in Markdown, and is read back as NaN. Files are written atomically: a temporary file in
// the same directory, synced and renamed.
//
// # Task directories
//
// A task directory holds a manifest, tasks.json, listing the tasks in training order with their
// metric and JSON Lines files, one Example per line; see ReadManifest and Example. Without a manifest,
// ReadTaskDir (and ReadTasks) reads the paper's data as distributed: TRACE's dataset folders,
// MetaMathQA, GSM8K and lm-eval-harness's multiple-choice suites, each task with the paper's metric
// (PaperMetric) unless ReadOptions overrides it. Bad lines are reported as ExampleErrors naming file,
// line (or array position) and field.
//
// Package eval knows nothing of adapters or strategies; it is not a training package.
package eval
