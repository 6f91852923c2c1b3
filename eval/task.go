package eval

// Metric names how a task's items are scored.
type Metric string

// The metrics of the study (arXiv 2410.14753, PAPER.md): each task names one.
const (
	ExactMatch     Metric = "exact_match"     // normalised exact match of the generated answer
	FirstChar      Metric = "first_char"      // first non-space character of the generation vs the answer's (choice letters)
	MultipleChoice Metric = "multiple_choice" // log-likelihood over Choices: acc and acc_norm (lm-eval)
	RougeL         Metric = "rouge_l"         // ROUGE-L F1 of the generation against the answer
	EditSim        Metric = "edit_sim"        // 1 − Levenshtein(gen, answer)/max(len): structured strings
)

// Example is one item of a dataset-task, one JSON object per line of a task's .jsonl file:
//
//	{"id":"capitals-0001","prompt":"What is the capital of France?","answer":"Paris",
//	 "paraphrases":["France's capital city is called what?"],"choices":["Paris","Lyon","Nice","Lille"]}
//
// Prompt is the phrasing the item is trained with; Paraphrases are held-out phrasings of the same
// question, only ever used for scoring, so that acquired knowledge is told apart from a memorised string.
// Choices is set for multiple-choice items and then contains Answer.
type Example struct {
	ID          string   `json:"id"`
	Prompt      string   `json:"prompt"`
	Answer      string   `json:"answer"`
	Paraphrases []string `json:"paraphrases,omitempty"`
	Choices     []string `json:"choices,omitempty"`
}

// Task is one dataset-task: a name, how it is scored, and its items. Train items are what a round
// trains on; Test items are scored (for knowledge tasks they are usually the same facts, scored on the
// trained prompt and on the held-out paraphrases).
type Task struct {
	Name   string    `json:"name"`
	Metric Metric    `json:"metric"`
	Train  []Example `json:"-"`
	Test   []Example `json:"-"`
}
