package eval

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drafter is an oracle that is also a DraftGenerator and an EOSGenerator, recording what it is asked.
type drafter struct {
	oracle
	drafts   map[string]string // by prompt
	untilEOS []bool
	plain    int // Generate and GenerateUntilEOS calls
}

func (d *drafter) Generate(ctx context.Context, prompts []string, maxTokens int) ([]string, error) {
	d.plain++
	return d.oracle.Generate(ctx, prompts, maxTokens)
}

func (d *drafter) GenerateUntilEOS(ctx context.Context, prompts []string, maxTokens int) ([]string, error) {
	d.plain++
	return d.oracle.Generate(ctx, prompts, maxTokens)
}

func (d *drafter) GenerateDraft(ctx context.Context, prompts, drafts []string, maxTokens int, untilEOS bool) ([]string, error) {
	for i, p := range prompts {
		d.drafts[p] = drafts[i]
	}
	d.untilEOS = append(d.untilEOS, untilEOS)
	return d.oracle.Generate(ctx, prompts, maxTokens)
}

// Score drafts every prompt with its item's answer in the template, asks for generation until the
// end of sequence only for an EOS template, and scores the completions as Generate's.
func TestScoreDrafts(t *testing.T) {
	task := capitals()
	for _, tmpl := range []Template{DefaultTemplate, PaperTemplate} {
		t.Run(tmpl.Answer, func(t *testing.T) {
			d := &drafter{oracle: oracle{gen: map[string]string{}}, drafts: map[string]string{}}
			for _, e := range task.Test { // every prompt answered, but Italy's paraphrase
				d.gen[tmpl.Format(e.Prompt)] = strings.TrimSuffix(tmpl.FormatAnswer(e.Answer), "\n")
				for _, p := range e.Paraphrases {
					d.gen[tmpl.Format(p)] = d.gen[tmpl.Format(e.Prompt)]
				}
			}
			delete(d.gen, tmpl.Format("Italy's capital?"))
			s, err := Score(context.Background(), d, task, Options{Template: tmpl, BatchSize: 4, Details: true})
			require.NoError(t, err)
			assert.Zero(t, d.plain, "every generation is drafted")
			assert.Equal(t, []bool{tmpl.EOS, tmpl.EOS}, d.untilEOS)
			require.Len(t, d.drafts, 6)
			for _, e := range task.Test {
				for _, p := range append([]string{e.Prompt}, e.Paraphrases...) {
					assert.Equal(t, tmpl.FormatAnswer(e.Answer), d.drafts[tmpl.Format(p)], p)
				}
			}
			assert.Equal(t, 1.0, s.Trained)
			assert.InDelta(t, 2.0/3, s.Paraphrase, tol)
			assert.Equal(t, "Capital of France?", s.Items[0].Prompt, "items keep the task's order")
		})
	}
}

// After a batch whose completions mostly leave their drafts, Score gives the next empty drafts.
func TestScoreStopsDraftingWhatIsNotLearnt(t *testing.T) {
	task := capitals()
	d := &drafter{oracle: oracle{gen: map[string]string{}}, drafts: map[string]string{}}
	s, err := Score(context.Background(), d, task, Options{BatchSize: 4})
	require.NoError(t, err)
	assert.Zero(t, d.plain)
	assert.Len(t, d.drafts, 6)
	assert.Equal(t, FormatAnswer("Paris"), d.drafts[Format("Capital of France?")], "the first batch is drafted")
	assert.Equal(t, "", d.drafts[Format("Capital of Spain?")], "the second is not")
	assert.Equal(t, 0.0, s.Trained)
}

// Score batches prompts by length, so a batch pads little, and keeps the items in the task's order.
func TestScoreBatchesByLength(t *testing.T) {
	task := Task{Name: "len", Metric: ExactMatch, Test: []Example{
		{ID: "a", Prompt: "a long long long prompt?", Answer: "x"},
		{ID: "b", Prompt: "b?", Answer: "x"},
		{ID: "c", Prompt: "a long long long prompt too?", Answer: "x"},
		{ID: "d", Prompt: "d?", Answer: "x"},
	}}
	var batches [][]string
	m := generateFunc(func(prompts []string) {
		batches = append(batches, append([]string(nil), prompts...))
	})
	s, err := Score(context.Background(), m, task, Options{BatchSize: 2, Details: true})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{Format("b?"), Format("d?")}, {Format("a long long long prompt?"), Format("a long long long prompt too?")}}, batches)
	for i, id := range []string{"a", "b", "c", "d"} {
		assert.Equal(t, id, s.Items[i].ID)
	}
}

type generateFunc func(prompts []string)

func (f generateFunc) Generate(_ context.Context, prompts []string, _ int) ([]string, error) {
	f(prompts)
	return make([]string, len(prompts)), nil
}

func (f generateFunc) LogLikelihood(_ context.Context, pairs [][2]string) ([]float64, []int, error) {
	return make([]float64, len(pairs)), make([]int, len(pairs)), nil
}

// HeadlineOnly scores only the held-out phrasings of a task that has any, with the same headline.
func TestScoreHeadlineOnly(t *testing.T) {
	ctx := context.Background()
	task := capitals()
	o := trainedOnly(task)
	o.gen[Format("Italy's capital?")] = " Rome"
	all, err := Score(ctx, o, task, Options{})
	require.NoError(t, err)
	o.calls = nil
	head, err := Score(ctx, o, task, Options{HeadlineOnly: true, Details: true})
	require.NoError(t, err)
	assert.Equal(t, []int{3}, o.calls, "the three paraphrases only")
	assert.Equal(t, all.Headline(), head.Headline())
	assert.InDelta(t, 1.0/3, head.Headline(), tol)
	assert.True(t, math.IsNaN(head.Trained))
	for _, it := range head.Items {
		assert.Equal(t, ParaphrasePhrasing, it.Kind)
	}

	for i := range task.Test {
		task.Test[i].Paraphrases = nil
	}
	head, err = Score(ctx, o, task, Options{HeadlineOnly: true})
	require.NoError(t, err)
	assert.Equal(t, 1.0, head.Headline(), "without held-out phrasings the trained ones are the headline")
}
