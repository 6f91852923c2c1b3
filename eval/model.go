package eval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Model is what Score needs from a language model; package model (with or without adapters) implements
// it. Implementations:
//   - return exactly one result per input, in input order;
//   - are deterministic: Generate decodes greedily;
//   - must not keep or modify the slices they are given;
//   - should return ctx.Err() promptly once ctx is done.
//
// Score calls them with at most Options.BatchSize inputs at a time; an implementation may split a call
// further to fit memory.
type Model interface {
	// Generate returns the greedy completion of each prompt, stopping after a newline (which is not
	// included) or end of sequence, or after maxTokens tokens. The prompt is not included.
	Generate(ctx context.Context, prompts []string, maxTokens int) ([]string, error)

	// LogLikelihood returns, for each (context, continuation) pair, the sum of the natural-log
	// probabilities of the continuation's tokens given the context, and the number of continuation
	// tokens. The pair is tokenised as lm-eval-harness does: context and context+continuation are
	// encoded whole and the continuation is what the second adds after the first. An empty context
	// scores the continuation as the start of a text: every one of its tokens, the first included
	// (given the beginning-of-sequence token, where the tokenizer has one).
	LogLikelihood(ctx context.Context, pairs [][2]string) (logLiks []float64, nTokens []int, err error)
}

// EOSGenerator is a Model that can also generate until the end-of-sequence token, across newlines.
// Score uses it for a Template with EOS set; with a Model that is not one, such a template's answers
// are generated up to their first newline only.
type EOSGenerator interface {
	// GenerateUntilEOS is Generate stopping only at end of sequence (not included) or after
	// maxTokens tokens.
	GenerateUntilEOS(ctx context.Context, prompts []string, maxTokens int) ([]string, error)
}

// DraftGenerator is a Model that generates faster when told what each completion probably is. Score
// uses it for generative tasks, with each item's reference answer in the template
// (Template.FormatAnswer, stop text included) as the draft: a model that has learnt an item then
// needs only the pass over its prompt and draft, not one decoding step per token. Score drafts a
// task's first batch of prompts, and each later one when at least half the completions of the batch
// before it began their drafts (a model that has not learnt the task gets empty drafts).
type DraftGenerator interface {
	// GenerateDraft returns what Generate (GenerateUntilEOS when untilEOS) returns for prompts and
	// maxTokens; drafts[i], a guess at the completion of prompts[i], changes only the work done (the
	// completions may differ from Generate's only where float rounding moves a greedy choice).
	GenerateDraft(ctx context.Context, prompts, drafts []string, maxTokens int, untilEOS bool) ([]string, error)
}

// Template turns an item's prompt and answer into model text. The trainer and Score must use the same
// one, so that a model is scored in the phrasing it was trained in: it trains on Format(prompt) followed
// by FormatAnswer(answer) (loss on the answer only), and is scored on completions of Format(prompt).
type Template struct {
	// Prompt is the text given to the model, with "{prompt}" standing for the item's prompt.
	// Zero means DefaultTemplate's: "Q: {prompt}\nA:".
	Prompt string `json:"prompt,omitempty"`
	// Answer is the text the model learns to continue with, with "{answer}" standing for the answer;
	// what follows "{answer}" is the stop text (Model.Generate stops at a newline). Zero means
	// DefaultTemplate's: " {answer}\n".
	Answer string `json:"answer,omitempty"`
	// EOS puts the end-of-sequence token after the answer: a trainer appends it to the tokens of
	// FormatAnswer's text, and Score generates until it (across newlines, where the Model is an
	// EOSGenerator) instead of stopping at the first newline. For answers that span lines (the
	// paper's summaries, code and worked solutions). Zero: off, the answer ends with its stop text.
	EOS bool `json:"eos,omitempty"`
	// ChoiceDelimiter is put between the prompt and a multiple-choice continuation (Continuation).
	// Zero means the text before "{answer}" in Answer (a space for DefaultTemplate), which is
	// lm-eval-harness's target delimiter for it.
	ChoiceDelimiter string `json:"choice_delimiter,omitempty"`
}

// DefaultTemplate is the template used when none is given.
var DefaultTemplate = Template{Prompt: "Q: {prompt}\nA:", Answer: " {answer}\n"}

func (t Template) orDefault() Template {
	if t.Prompt == "" {
		t.Prompt = DefaultTemplate.Prompt
	}
	if t.Answer == "" {
		t.Answer = DefaultTemplate.Answer
	}
	return t
}

// Validate reports a template whose non-empty Prompt lacks "{prompt}" or whose non-empty Answer lacks
// "{answer}".
func (t Template) Validate() error {
	if t.Prompt != "" && !strings.Contains(t.Prompt, "{prompt}") {
		return fmt.Errorf("eval: Template.Prompt %q has no {prompt}", t.Prompt)
	}
	if t.Answer != "" && !strings.Contains(t.Answer, "{answer}") {
		return fmt.Errorf("eval: Template.Answer %q has no {answer}", t.Answer)
	}
	return nil
}

// Format is the model's input for prompt: t.Prompt with "{prompt}" replaced.
func (t Template) Format(prompt string) string {
	return strings.ReplaceAll(t.orDefault().Prompt, "{prompt}", prompt)
}

// FormatAnswer is the training target for answer, stop text included: t.Answer with "{answer}" replaced.
func (t Template) FormatAnswer(answer string) string {
	return strings.ReplaceAll(t.orDefault().Answer, "{answer}", answer)
}

// Continuation is the continuation whose log-likelihood scores a multiple-choice choice: FormatAnswer
// without the stop text (for the default template, " " + choice, as lm-eval-harness's target delimiter),
// or ChoiceDelimiter + choice when the template sets one.
func (t Template) Continuation(choice string) string {
	if t.ChoiceDelimiter != "" {
		return t.ChoiceDelimiter + choice
	}
	a := t.orDefault().Answer
	if i := strings.LastIndex(a, "{answer}"); i >= 0 {
		a = a[:i+len("{answer}")]
	}
	return strings.ReplaceAll(a, "{answer}", choice)
}

// Format is DefaultTemplate.Format(prompt).
func Format(prompt string) string { return DefaultTemplate.Format(prompt) }

// FormatAnswer is DefaultTemplate.FormatAnswer(answer).
func FormatAnswer(answer string) string { return DefaultTemplate.FormatAnswer(answer) }

// Options configures Score. The zero value is ready to use.
type Options struct {
	// Template formats prompts and choices, for tasks that set none (Task.Template). Zero means
	// DefaultTemplate.
	Template Template
	// BatchSize is the most prompts (Generate) or pairs (LogLikelihood) per Model call. Zero means 16.
	BatchSize int
	// MaxTokens bounds each generation. Zero means the longest test answer's length in bytes plus 2
	// (the template's space and newline): a byte-level or byte-fallback tokenizer never needs more
	// tokens than bytes, and generation stops at the newline anyway.
	MaxTokens int
	// Details keeps one ItemScore per scored prompt in TaskScore.Items. Zero means off.
	Details bool
	// HeadlineOnly scores only the phrasings TaskScore.Headline is computed from: the held-out ones
	// when the task has any, leaving Trained (and AccNorm) NaN, for a caller that reads only the
	// headline (Run's retention on the knowledge tasks). Zero means off: every phrasing is scored.
	HeadlineOnly bool
}

// Validate names the first negative field.
func (o Options) Validate() error {
	if o.BatchSize < 0 {
		return fmt.Errorf("eval: Options.BatchSize %d is negative", o.BatchSize)
	}
	if o.MaxTokens < 0 {
		return fmt.Errorf("eval: Options.MaxTokens %d is negative", o.MaxTokens)
	}
	return o.Template.Validate()
}

// TaskScore is one task's score after one round. Means are over test items' phrasings: the trained
// one (Prompt) and the held-out ones (Paraphrases and Novel; see Example). A mean over no phrasings
// (a task without paraphrases, say) is NaN, encoded as null in JSON.
type TaskScore struct {
	Task   string `json:"task"`
	Metric Metric `json:"metric"`
	// N is the number of test items; NParaphrases and NNovel the numbers of paraphrased and novel
	// prompts scored.
	N            int `json:"n"`
	NParaphrases int `json:"n_paraphrases"`
	NNovel       int `json:"n_novel"`
	// Trained is the mean score on the trained phrasing, Prompt (acc for MultipleChoice).
	Trained float64 `json:"trained"`
	// Paraphrase is the mean over all paraphrased prompts of all items (each paraphrase counts once).
	Paraphrase float64 `json:"paraphrase"`
	// Novel is the mean over all novel prompts of all items (each counts once).
	Novel float64 `json:"novel"`
	// HeldOut is the mean over all held-out prompts, paraphrased and novel together (each counts
	// once): knowledge that generalises beyond the phrasings it was trained in.
	HeldOut float64 `json:"held_out"`
	// AccNorm, ParaphraseAccNorm, NovelAccNorm and HeldOutAccNorm are lm-eval-harness's acc_norm on
	// the trained, paraphrased, novel and all held-out prompts, for MultipleChoice; NaN for other
	// metrics.
	AccNorm           float64 `json:"acc_norm"`
	ParaphraseAccNorm float64 `json:"paraphrase_acc_norm"`
	NovelAccNorm      float64 `json:"novel_acc_norm"`
	HeldOutAccNorm    float64 `json:"held_out_acc_norm"`
	// Items holds per-prompt results when Options.Details is set.
	Items []ItemScore `json:"items,omitempty"`
}

// Headline is the one number a task contributes to an accuracy matrix: knowledge that generalises,
// the score on the held-out phrasings (HeldOut) when the task has any, else the score on the trained
// phrasing (Trained); for multiple choice the matching acc_norm (HeldOutAccNorm, else AccNorm) — the
// paper's "acc_norm where present, else acc, else exact match".
func (s TaskScore) Headline() float64 {
	held := s.NParaphrases+s.NNovel > 0
	switch {
	case s.Metric == MultipleChoice && held:
		return s.HeldOutAccNorm
	case s.Metric == MultipleChoice:
		return s.AccNorm
	case held:
		return s.HeldOut
	}
	return s.Trained
}

// PhrasingKind tells which phrasing of an item an ItemScore scored.
type PhrasingKind string

// The kinds of phrasing (see Example).
const (
	TrainedPhrasing    PhrasingKind = "trained"    // the item's Prompt
	ParaphrasePhrasing PhrasingKind = "paraphrase" // one of its Paraphrases
	NovelPhrasing      PhrasingKind = "novel"      // one of its Novel phrasings
)

// ItemScore is the result of one scored prompt.
type ItemScore struct {
	ID string `json:"id"`
	// Kind is the kind of phrasing scored.
	Kind PhrasingKind `json:"kind"`
	// Paraphrase is −1 for the trained prompt, else the index into the item's Paraphrases or Novel,
	// as Kind says.
	Paraphrase int    `json:"paraphrase"`
	Prompt     string `json:"prompt"`
	// Output is the generation, or for multiple choice the choice acc picked.
	Output string  `json:"output"`
	Score  float64 `json:"score"`
	// AccNorm is acc_norm for multiple choice, zero otherwise.
	AccNorm float64 `json:"acc_norm,omitempty"`
}

// ErrNoTestItems is returned by Score for a task without test items.
var ErrNoTestItems = errors.New("eval: task has no test items")

// query is one prompt to score: an item's trained prompt or one of its held-out phrasings.
type query struct {
	item   int
	kind   PhrasingKind
	para   int
	prompt string
}

// Score scores model m on every test item of task t, on the trained prompt and, separately, on each
// held-out phrasing (paraphrases and novel phrasings); the further trained Phrasings are not scored.
// Generative metrics call m.Generate (GenerateDraft, drafting each item's answer, when m is a
// DraftGenerator; GenerateUntilEOS for an EOS template when m is an EOSGenerator); MultipleChoice calls m.LogLikelihood with one
// (Format(prompt), Continuation(choice)) pair per choice. The template is t.Template when the task
// sets one, else o.Template.
func Score(ctx context.Context, m Model, t Task, o Options) (TaskScore, error) {
	if t.Template != (Template{}) {
		o.Template = t.Template
	}
	if err := o.Validate(); err != nil {
		return TaskScore{}, err
	}
	if !t.Metric.Valid() {
		return TaskScore{}, fmt.Errorf("eval: task %q: %w %q", t.Name, ErrUnknownMetric, t.Metric)
	}
	if len(t.Test) == 0 {
		return TaskScore{}, fmt.Errorf("%w: %q", ErrNoTestItems, t.Name)
	}
	if err := validateExamples(t.Test, t.Metric, fmt.Sprintf("task %q test", t.Name)); err != nil {
		return TaskScore{}, err
	}
	o.Template = o.Template.orDefault()
	o.BatchSize = cmp.Or(o.BatchSize, 16)
	if o.MaxTokens == 0 {
		for _, e := range t.Test {
			o.MaxTokens = max(o.MaxTokens, len(e.Answer)+2)
		}
	}

	heldOut := false
	for _, e := range t.Test {
		heldOut = heldOut || len(e.Paraphrases)+len(e.Novel) > 0
	}
	var qs []query
	for i, e := range t.Test {
		if !o.HeadlineOnly || !heldOut {
			qs = append(qs, query{i, TrainedPhrasing, -1, e.Prompt})
		}
		for k, p := range e.Paraphrases {
			qs = append(qs, query{i, ParaphrasePhrasing, k, p})
		}
		for k, p := range e.Novel {
			qs = append(qs, query{i, NovelPhrasing, k, p})
		}
	}
	var items []ItemScore
	var err error
	if t.Metric == MultipleChoice {
		items, err = scoreChoices(ctx, m, t, qs, o)
	} else {
		items, err = scoreGenerations(ctx, m, t, qs, o)
	}
	if err != nil {
		return TaskScore{}, fmt.Errorf("eval: scoring task %q: %w", t.Name, err)
	}

	s := TaskScore{Task: t.Name, Metric: t.Metric, N: len(t.Test)}
	var sum, sumN [3]float64 // trained, paraphrase, novel
	var count [3]int
	for _, it := range items {
		k := 0
		switch it.Kind {
		case ParaphrasePhrasing:
			k = 1
		case NovelPhrasing:
			k = 2
		}
		sum[k] += it.Score
		sumN[k] += it.AccNorm
		count[k]++
	}
	s.NParaphrases, s.NNovel = count[1], count[2]
	mean := func(x float64, n int) float64 {
		if n == 0 {
			return math.NaN()
		}
		return x / float64(n)
	}
	s.Trained = mean(sum[0], count[0])
	s.Paraphrase = mean(sum[1], count[1])
	s.Novel = mean(sum[2], count[2])
	s.HeldOut = mean(sum[1]+sum[2], count[1]+count[2])
	s.AccNorm, s.ParaphraseAccNorm, s.NovelAccNorm, s.HeldOutAccNorm = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if t.Metric == MultipleChoice {
		s.AccNorm = mean(sumN[0], count[0])
		s.ParaphraseAccNorm = mean(sumN[1], count[1])
		s.NovelAccNorm = mean(sumN[2], count[2])
		s.HeldOutAccNorm = mean(sumN[1]+sumN[2], count[1]+count[2])
	}
	if o.Details {
		s.Items = items
	}
	return s, nil
}

func scoreGenerations(ctx context.Context, m Model, t Task, qs []query, o Options) ([]ItemScore, error) {
	eos, untilEOS := m.(EOSGenerator)
	untilEOS = untilEOS && o.Template.EOS
	generate := m.Generate
	if untilEOS {
		generate = eos.GenerateUntilEOS
	}
	prompts := make([]string, len(qs))
	drafts := make([]string, len(qs))
	for i, q := range qs {
		prompts[i] = o.Template.Format(q.prompt)
		drafts[i] = o.Template.FormatAnswer(t.Test[q.item].Answer)
	}
	d, drafting := m.(DraftGenerator)
	order := byLength(len(qs), func(i int) int {
		if drafting {
			return len(prompts[i]) + len(drafts[i])
		}
		return len(prompts[i])
	})
	items := make([]ItemScore, len(qs))
	draftNext := true
	batchPrompts := make([]string, 0, o.BatchSize)
	batchDrafts := make([]string, 0, o.BatchSize)
	for start := 0; start < len(order); start += o.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := order[start:min(start+o.BatchSize, len(order))]
		batchPrompts, batchDrafts = batchPrompts[:0], batchDrafts[:0]
		for _, qi := range batch {
			batchPrompts = append(batchPrompts, prompts[qi])
			batchDrafts = append(batchDrafts, drafts[qi])
		}
		var outs []string
		var err error
		switch {
		case drafting && draftNext:
			outs, err = d.GenerateDraft(ctx, batchPrompts, batchDrafts, o.MaxTokens, untilEOS)
		case drafting: // empty drafts: a DraftGenerator may generate better than Generate all the same
			outs, err = d.GenerateDraft(ctx, batchPrompts, make([]string, len(batchPrompts)), o.MaxTokens, untilEOS)
		default:
			outs, err = generate(ctx, batchPrompts, o.MaxTokens)
		}
		if err != nil {
			return nil, err
		}
		if len(outs) != len(batch) {
			return nil, fmt.Errorf("Generate returned %d completions for %d prompts", len(outs), len(batch))
		}
		// A draft saves decoding only where the completion follows it; where most of a batch's do
		// not (a task the model has not learnt), drafting the next batch would only lengthen its
		// prefill.
		followed := 0
		for i, out := range outs {
			if out != "" && strings.HasPrefix(batchDrafts[i], out) {
				followed++
			}
		}
		draftNext = 2*followed >= len(outs)
		for i, qi := range batch {
			q, e := qs[qi], t.Test[qs[qi].item]
			items[qi] = ItemScore{ID: e.ID, Kind: q.kind, Paraphrase: q.para, Prompt: q.prompt, Output: outs[i],
				Score: t.Metric.ScoreSource(outs[i], e.Answer, q.prompt)}
		}
	}
	return items, nil
}

// byLength returns the indices 0..n-1 ordered by length(i), stably. Score batches prompts in this
// order, so that a batch's padded length (its longest prompt's) wastes little on its shorter ones;
// a prompt's result does not depend on the others in its batch (beyond float rounding), so the order
// changes only the time taken.
func byLength(n int, length func(i int) int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(length(a), length(b)) })
	return order
}

func scoreChoices(ctx context.Context, m Model, t Task, qs []query, o Options) ([]ItemScore, error) {
	// Flatten every (query, choice) pair, then batch the pairs.
	type ref struct{ q, c int }
	var pairs [][2]string
	var refs []ref
	for qi, q := range qs {
		ctxText := o.Template.Format(q.prompt)
		for ci, c := range t.Test[q.item].Choices {
			pairs = append(pairs, [2]string{ctxText, o.Template.Continuation(c)})
			refs = append(refs, ref{qi, ci})
		}
	}
	lls := make([][]float64, len(qs))
	for qi, q := range qs {
		lls[qi] = make([]float64, len(t.Test[q.item].Choices))
	}
	order := byLength(len(pairs), func(i int) int { return len(pairs[i][0]) + len(pairs[i][1]) })
	batch := make([][2]string, 0, o.BatchSize)
	for start := 0; start < len(order); start += o.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		idx := order[start:min(start+o.BatchSize, len(order))]
		batch = batch[:0]
		for _, pi := range idx {
			batch = append(batch, pairs[pi])
		}
		out, _, err := m.LogLikelihood(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(out) != len(batch) {
			return nil, fmt.Errorf("LogLikelihood returned %d values for %d pairs", len(out), len(batch))
		}
		for i, ll := range out {
			r := refs[idx[i]]
			lls[r.q][r.c] = ll
		}
	}
	items := make([]ItemScore, len(qs))
	for qi, q := range qs {
		e := t.Test[q.item]
		gold := indexOf(e.Choices, e.Answer)
		pick := Argmax(lls[qi])
		acc, accNorm := ChoiceAccuracy(lls[qi], e.Choices, gold)
		out := ""
		if pick >= 0 {
			out = e.Choices[pick]
		}
		items[qi] = ItemScore{ID: e.ID, Kind: q.kind, Paraphrase: q.para, Prompt: q.prompt, Output: out, Score: acc, AccNorm: accNorm}
	}
	return items, nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
