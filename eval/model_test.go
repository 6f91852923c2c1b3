package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oracle is a map-based fake Model: Generate answers from a table keyed by the formatted prompt (and
// "wrong" otherwise); LogLikelihood looks up context+continuation (and −100 otherwise). It records the
// size of every call and the maxTokens it was given.
type oracle struct {
	gen       map[string]string
	ll        map[string]float64
	calls     []int
	maxTokens int
	err       error
	short     bool // return one result too few
}

func (o *oracle) Generate(_ context.Context, prompts []string, maxTokens int) ([]string, error) {
	o.calls = append(o.calls, len(prompts))
	o.maxTokens = maxTokens
	if o.err != nil {
		return nil, o.err
	}
	out := make([]string, 0, len(prompts))
	for _, p := range prompts {
		a, ok := o.gen[p]
		if !ok {
			a = " wrong"
		}
		out = append(out, a)
	}
	if o.short {
		out = out[1:]
	}
	return out, nil
}

func (o *oracle) LogLikelihood(_ context.Context, pairs [][2]string) ([]float64, []int, error) {
	o.calls = append(o.calls, len(pairs))
	if o.err != nil {
		return nil, nil, o.err
	}
	lls := make([]float64, len(pairs))
	ns := make([]int, len(pairs))
	for i, p := range pairs {
		v, ok := o.ll[p[0]+p[1]]
		if !ok {
			v = -100
		}
		lls[i], ns[i] = v, 1
	}
	if o.short {
		lls = lls[1:]
	}
	return lls, ns, nil
}

func capitals() Task {
	return Task{Name: "capitals", Metric: ExactMatch, Test: []Example{
		{ID: "fr", Prompt: "Capital of France?", Answer: "Paris", Paraphrases: []string{"France's capital?", "Which city is France's capital?"}},
		{ID: "it", Prompt: "Capital of Italy?", Answer: "Rome", Paraphrases: []string{"Italy's capital?"}},
		{ID: "es", Prompt: "Capital of Spain?", Answer: "Madrid"},
	}}
}

// trainedOnly answers every trained prompt correctly and nothing else.
func trainedOnly(t Task) *oracle {
	o := &oracle{gen: map[string]string{}}
	for _, e := range t.Test {
		o.gen[Format(e.Prompt)] = " " + e.Answer
	}
	return o
}

func TestScoreTrainedVersusParaphrase(t *testing.T) {
	task := capitals()
	s, err := Score(context.Background(), trainedOnly(task), task, Options{Details: true})
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Trained)
	assert.Equal(t, 0.0, s.Paraphrase)
	assert.Equal(t, 3, s.N)
	assert.Equal(t, 3, s.NParaphrases)
	assert.True(t, math.IsNaN(s.AccNorm))
	assert.Equal(t, 0, s.NNovel)
	assert.True(t, math.IsNaN(s.Novel))
	assert.Equal(t, 0.0, s.HeldOut)
	assert.Equal(t, 0.0, s.Headline(), "the headline is the held-out score")
	require.Len(t, s.Items, 6)
	assert.Equal(t, ItemScore{ID: "fr", Kind: TrainedPhrasing, Paraphrase: -1, Prompt: "Capital of France?", Output: " Paris", Score: 1}, s.Items[0])
	assert.Equal(t, ItemScore{ID: "fr", Kind: ParaphrasePhrasing, Paraphrase: 1, Prompt: "Which city is France's capital?", Output: " wrong"}, s.Items[2])
}

func TestScoreNovelAndHeldOut(t *testing.T) {
	task := capitals()
	task.Test[0].Phrasings = []string{"Name France's capital."} // trained: not scored
	task.Test[0].Novel = []string{"Flying to France's capital, you land where?"}
	task.Test[2].Novel = []string{"Spain is governed from which city?", "Madrid or Seville: Spain's capital?"}
	o := trainedOnly(task)
	o.gen[Format("Italy's capital?")] = " Rome"                     // 1 of 3 paraphrases
	o.gen[Format("Spain is governed from which city?")] = " Madrid" // 1 of 3 novel
	o.gen[Format("Name France's capital.")] = " Paris"              // never asked
	s, err := Score(context.Background(), o, task, Options{Details: true})
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Trained)
	assert.Equal(t, 3, s.NParaphrases)
	assert.Equal(t, 3, s.NNovel)
	assert.InDelta(t, 1.0/3, s.Paraphrase, tol)
	assert.InDelta(t, 1.0/3, s.Novel, tol)
	assert.InDelta(t, 2.0/6, s.HeldOut, tol) // each held-out phrasing counts once
	assert.InDelta(t, 2.0/6, s.Headline(), tol)
	assert.True(t, math.IsNaN(s.NovelAccNorm))
	assert.True(t, math.IsNaN(s.HeldOutAccNorm))
	require.Len(t, s.Items, 3+3+3)
	var kinds []PhrasingKind
	for _, it := range s.Items {
		kinds = append(kinds, it.Kind)
		assert.NotEqual(t, "Name France's capital.", it.Prompt, "trained phrasings beside Prompt are not scored")
	}
	assert.Equal(t, []PhrasingKind{TrainedPhrasing, ParaphrasePhrasing, ParaphrasePhrasing, NovelPhrasing,
		TrainedPhrasing, ParaphrasePhrasing, TrainedPhrasing, NovelPhrasing, NovelPhrasing}, kinds)
	assert.Equal(t, ItemScore{ID: "es", Kind: NovelPhrasing, Paraphrase: 1, Prompt: "Madrid or Seville: Spain's capital?", Output: " wrong"}, s.Items[8])

	// Novel phrasings only: HeldOut is the novel score; Paraphrase is NaN.
	for i := range task.Test {
		task.Test[i].Paraphrases = nil
	}
	s, err = Score(context.Background(), o, task, Options{})
	require.NoError(t, err)
	assert.True(t, math.IsNaN(s.Paraphrase))
	assert.InDelta(t, 1.0/3, s.HeldOut, tol)
	assert.InDelta(t, 1.0/3, s.Headline(), tol)

	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"n_novel":3`)
	assert.Contains(t, string(b), `"paraphrase":null`)
	var back TaskScore
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, 3, back.NNovel)
	assert.InDelta(t, 1.0/3, back.Novel, tol)
	assert.InDelta(t, 1.0/3, back.HeldOut, tol)
	assert.True(t, math.IsNaN(back.Paraphrase))
	assert.True(t, math.IsNaN(back.NovelAccNorm))

	// A score written before novel phrasings existed: the new fields are NaN, not 0.
	require.NoError(t, json.Unmarshal([]byte(`{"task":"x","metric":"exact_match","n":1,"n_paraphrases":0,"trained":1,"paraphrase":null,"acc_norm":null,"paraphrase_acc_norm":null}`), &back))
	assert.True(t, math.IsNaN(back.Novel))
	assert.True(t, math.IsNaN(back.HeldOut))
	assert.Equal(t, 1.0, back.Headline())
}

func TestScoreParaphraseMeanIsOverParaphrases(t *testing.T) {
	task := capitals()
	o := trainedOnly(task)
	o.gen[Format("Italy's capital?")] = " Rome"
	s, err := Score(context.Background(), o, task, Options{})
	require.NoError(t, err)
	assert.InDelta(t, 1.0/3, s.Paraphrase, tol) // 1 right of 3 paraphrases, not the mean of item means (1/4)
	assert.Nil(t, s.Items)
}

func TestScoreNoParaphrases(t *testing.T) {
	task := capitals()
	for i := range task.Test {
		task.Test[i].Paraphrases = nil
	}
	s, err := Score(context.Background(), trainedOnly(task), task, Options{})
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Trained)
	assert.True(t, math.IsNaN(s.Paraphrase))
	assert.Equal(t, 0, s.NParaphrases)
	assert.True(t, math.IsNaN(s.HeldOut))
	assert.Equal(t, 1.0, s.Headline(), "without held-out phrasings the headline is the trained score")

	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"paraphrase":null`)
	var back TaskScore
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, math.IsNaN(back.Paraphrase))
	assert.Equal(t, 1.0, back.Trained)
}

func TestScoreBatchingAndMaxTokens(t *testing.T) {
	task := capitals() // 6 prompts; longest answer "Madrid", 6 bytes
	o := trainedOnly(task)
	_, err := Score(context.Background(), o, task, Options{BatchSize: 4})
	require.NoError(t, err)
	assert.Equal(t, []int{4, 2}, o.calls)
	assert.Equal(t, 8, o.maxTokens)

	o = trainedOnly(task)
	_, err = Score(context.Background(), o, task, Options{MaxTokens: 3})
	require.NoError(t, err)
	assert.Equal(t, []int{6}, o.calls) // default batch 16
	assert.Equal(t, 3, o.maxTokens)
}

func TestScoreCustomTemplate(t *testing.T) {
	task := capitals()
	tmpl := Template{Prompt: "### Instruction:\n{prompt}\n\n### Response:"}
	o := &oracle{gen: map[string]string{"### Instruction:\nCapital of France?\n\n### Response:": " Paris"}}
	s, err := Score(context.Background(), o, task, Options{Template: tmpl})
	require.NoError(t, err)
	assert.InDelta(t, 1.0/3, s.Trained, tol)
}

// TestScoreTaskTemplate: a task's own template wins over Options.Template (the base model's facts
// keep "Q:/A:" in a run prompted with Alpaca's), a task without one gets Options.Template, and a bad
// task template is refused like a bad option.
func TestScoreTaskTemplate(t *testing.T) {
	ctx := context.Background()
	task := capitals()
	o := &oracle{gen: map[string]string{"Q: Capital of France?\nA:": " Paris"}}
	s, err := Score(ctx, o, task, Options{Template: AlpacaTemplate})
	require.NoError(t, err)
	assert.Equal(t, 0.0, s.Trained, "Alpaca's prompt is not the oracle's")

	task.Template = DefaultTemplate
	s, err = Score(ctx, o, task, Options{Template: AlpacaTemplate})
	require.NoError(t, err)
	assert.InDelta(t, 1.0/3, s.Trained, tol, "the task's Q:/A: template wins")

	task.Template = Template{Prompt: "no placeholder"}
	_, err = Score(ctx, o, task, Options{})
	assert.ErrorContains(t, err, "has no {prompt}")
}

func TestScoreMultipleChoice(t *testing.T) {
	task := Task{Name: "mc", Metric: MultipleChoice, Test: []Example{
		{ID: "q1", Prompt: "Color of the sky?", Answer: "blue", Choices: []string{"blue", "green"}, Paraphrases: []string{"The sky is which color?"}},
		{ID: "q2", Prompt: "A long word?", Answer: "antidisestablishment", Choices: []string{"no", "antidisestablishment"}},
	}}
	o := &oracle{ll: map[string]float64{
		"Q: Color of the sky?\nA: blue":        -1,
		"Q: Color of the sky?\nA: green":       -5,
		"Q: The sky is which color?\nA: blue":  -9,
		"Q: The sky is which color?\nA: green": -2,
		// Sum prefers "no"; per character (−2/2 = −1 < −10/20 = −0.5) prefers the long answer.
		"Q: A long word?\nA: no":                   -2,
		"Q: A long word?\nA: antidisestablishment": -10,
	}}
	s, err := Score(context.Background(), o, task, Options{BatchSize: 4, Details: true})
	require.NoError(t, err)
	assert.Equal(t, 0.5, s.Trained) // acc: q1 right, q2 wrong
	assert.Equal(t, 1.0, s.AccNorm) // acc_norm: both right
	assert.Equal(t, 0.0, s.Paraphrase)
	assert.Equal(t, 0.0, s.ParaphraseAccNorm)
	assert.Equal(t, 0.0, s.HeldOutAccNorm)
	assert.Equal(t, 0.0, s.Headline())    // acc_norm on the held-out phrasings
	assert.Equal(t, []int{4, 2}, o.calls) // 6 pairs in batches of 4
	require.Len(t, s.Items, 3)
	assert.Equal(t, "no", s.Items[2].Output)
	assert.Equal(t, 1.0, s.Items[2].AccNorm)

	// Novel phrasings: acc and acc_norm per kind, and held out over both kinds.
	task.Test[1].Novel = []string{"Longest word?"}
	o.ll["Q: Longest word?\nA: no"] = -20
	o.ll["Q: Longest word?\nA: antidisestablishment"] = -1
	s, err = Score(context.Background(), o, task, Options{})
	require.NoError(t, err)
	assert.Equal(t, 1, s.NNovel)
	assert.Equal(t, 1.0, s.Novel)
	assert.Equal(t, 1.0, s.NovelAccNorm)
	assert.Equal(t, 0.5, s.HeldOut)
	assert.Equal(t, 0.5, s.HeldOutAccNorm)
	assert.Equal(t, 0.5, s.Headline())

	// Without held-out phrasings the headline is acc_norm on the trained phrasing.
	task.Test[0].Paraphrases, task.Test[1].Novel = nil, nil
	s, err = Score(context.Background(), o, task, Options{})
	require.NoError(t, err)
	assert.True(t, math.IsNaN(s.HeldOutAccNorm))
	assert.Equal(t, 1.0, s.Headline())
}

func TestScoreErrors(t *testing.T) {
	ctx := context.Background()
	task := capitals()
	boom := errors.New("boom")

	_, err := Score(ctx, &oracle{err: boom}, task, Options{})
	assert.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, `task "capitals"`)

	_, err = Score(ctx, &oracle{short: true}, task, Options{})
	assert.ErrorContains(t, err, "Generate returned 5 completions for 6 prompts")

	mc := Task{Name: "mc", Metric: MultipleChoice, Test: []Example{{Prompt: "p", Answer: "a", Choices: []string{"a", "b"}}}}
	_, err = Score(ctx, &oracle{short: true}, mc, Options{})
	assert.ErrorContains(t, err, "LogLikelihood returned 1 values for 2 pairs")

	_, err = Score(ctx, &oracle{}, Task{Name: "empty", Metric: ExactMatch}, Options{})
	assert.ErrorIs(t, err, ErrNoTestItems)

	_, err = Score(ctx, &oracle{}, Task{Name: "x", Metric: "bleu", Test: task.Test}, Options{})
	assert.ErrorIs(t, err, ErrUnknownMetric)

	bad := Task{Name: "mc", Metric: MultipleChoice, Test: []Example{{Prompt: "p", Answer: "c", Choices: []string{"a", "b"}}}}
	_, err = Score(ctx, &oracle{}, bad, Options{})
	assert.ErrorIs(t, err, ErrAnswerNotInChoices)

	_, err = Score(ctx, &oracle{}, task, Options{BatchSize: -1})
	assert.ErrorContains(t, err, "Options.BatchSize -1 is negative")
	_, err = Score(ctx, &oracle{}, task, Options{MaxTokens: -2})
	assert.ErrorContains(t, err, "Options.MaxTokens -2")
	_, err = Score(ctx, &oracle{}, task, Options{Template: Template{Prompt: "no placeholder"}})
	assert.ErrorContains(t, err, "has no {prompt}")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Score(cctx, trainedOnly(task), task, Options{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestTemplate(t *testing.T) {
	assert.Equal(t, "Q: What?\nA:", Format("What?"))
	assert.Equal(t, " yes\n", FormatAnswer("yes"))
	assert.Equal(t, " yes", DefaultTemplate.Continuation("yes"))
	var zero Template
	assert.Equal(t, Format("x"), zero.Format("x"))
	assert.Equal(t, FormatAnswer("x"), zero.FormatAnswer("x"))

	tm := Template{Prompt: "<s>[INST] {prompt} [/INST]", Answer: "{answer}</s>"}
	assert.Equal(t, "<s>[INST] {answer} [/INST]", tm.Format("{answer}")) // no re-expansion
	assert.Equal(t, "Paris</s>", tm.FormatAnswer("Paris"))
	assert.Equal(t, "Paris", tm.Continuation("Paris"))
	require.NoError(t, tm.Validate())
	assert.Error(t, Template{Answer: "x"}.Validate())
	assert.True(t, strings.HasSuffix(FormatAnswer("a"), "\n"))
}
