package eval

// Metric names how a task's items are scored.
type Metric string

// The metrics of the study (arXiv 2410.14753, section 4): each task names one.
const (
	ExactMatch     Metric = "exact_match"     // normalised exact match of the generated answer
	FirstChar      Metric = "first_char"      // first non-space character of the generation vs the answer's (choice letters)
	MultipleChoice Metric = "multiple_choice" // log-likelihood over Choices: acc and acc_norm (lm-eval)
	RougeL         Metric = "rouge_l"         // ROUGE-L F1 of the generation against the answer
	EditSim        Metric = "edit_sim"        // 1 − Levenshtein(gen, answer)/max(len): structured strings
	SARI           Metric = "sari"            // SARI of the generation against the answer, the prompt as source: simplification
	NumericMatch   Metric = "numeric_match"   // GSM8K's exact match of the final number (ExtractNumber)
)

// Example is one item of a dataset-task, one JSON object per line of a task's .jsonl file:
//
//	{"id":"capitals-0001","prompt":"What is the capital of France?","answer":"Paris",
//	 "phrasings":["Name the capital of France.","France's capital is which city?"],
//	 "paraphrases":["Which city is the capital of France?"],"novel":["If you fly to France's capital, where do you land?"],
//	 "choices":["Paris","Lyon","Nice","Lille"]}
//
// An item's question comes in several phrasings, trained and held out, so that acquired knowledge is
// told apart from a memorised string:
//   - Prompt and Phrasings are the trained phrasings: a training round sees every one of them, with
//     the answer (Prompt first); scoring uses Prompt (TaskScore.Trained).
//   - Paraphrases are held-out phrasings, only ever scored, made from templates that other items
//     train with but this one does not (TaskScore.Paraphrase).
//   - Novel are held-out phrasings made from templates that no training item uses at all, never seen
//     in training in any form (TaskScore.Novel).
//
// Choices is set for multiple-choice items and then contains Answer.
type Example struct {
	ID     string `json:"id"`
	Prompt string `json:"prompt"`
	Answer string `json:"answer"`
	// Phrasings are further trained phrasings of the question, beside Prompt.
	Phrasings []string `json:"phrasings,omitempty"`
	// Paraphrases are held-out phrasings whose templates other items train with.
	Paraphrases []string `json:"paraphrases,omitempty"`
	// Novel are held-out phrasings whose templates no training item uses.
	Novel   []string `json:"novel,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// Task is one dataset-task: a name, how it is scored, and its items. Train items are what a round
// trains on; Test items are scored (for knowledge tasks they are usually the same facts, scored on the
// trained prompt and on the held-out paraphrases).
type Task struct {
	Name   string    `json:"name"`
	Metric Metric    `json:"metric"`
	Train  []Example `json:"-"`
	Test   []Example `json:"-"`
	// Template, when set, is the template the task's items are meant for, and Score uses it in place
	// of Options.Template: a run that trains on the paper's data in Alpaca's prompt still scores the
	// base model's own facts in the "Q:/A:" template it learnt them in. A tasks.json manifest carries it
	// as "template" (ReadManifest, WriteTasks). Zero: Options.Template.
	Template Template `json:"template,omitzero"`
}
