package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlpacaPrompt(t *testing.T) {
	assert.Equal(t, "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"+
		"### Instruction:\nAdd 2 and 3.\n\n### Response:", AlpacaPrompt("Add 2 and 3.", ""))
	assert.Equal(t, "Below is an instruction that describes a task, paired with an input that provides further context. "+
		"Write a response that appropriately completes the request.\n\n"+
		"### Instruction:\nAdd.\n\n### Input:\n2 and 3\nplease\n\n### Response:", AlpacaPrompt("Add.", "2 and 3\nplease"))
	assert.Equal(t, AlpacaPrompt("Add.", "2 and 3\nplease"), AlpacaQuery("Add.\n2 and 3\nplease"), "first line, then the rest")
	assert.Equal(t, AlpacaPrompt("What is 2+3?", ""), AlpacaQuery("What is 2+3?"), "one line: no input block")
	assert.Equal(t, AlpacaPrompt("{x}", ""), AlpacaTemplate.Format("{x}"))
	assert.Equal(t, "42", AlpacaTemplate.FormatAnswer("42"), "the response follows directly; EOS is a token, not text")
	assert.True(t, AlpacaTemplate.EOS)
	require.NoError(t, AlpacaTemplate.Validate())
	require.NoError(t, PaperTemplate.Validate())
	assert.Equal(t, "Q", PaperTemplate.Format("Q"))
}

func TestContinuationDelimiter(t *testing.T) {
	assert.Equal(t, " Paris", DefaultTemplate.Continuation("Paris"))
	assert.Equal(t, " Paris", PaperTemplate.Continuation("Paris"))
	assert.Equal(t, "Paris", Template{Prompt: "{prompt}", Answer: "{answer}"}.Continuation("Paris"))
}

func TestTruncate(t *testing.T) {
	seq := func(from, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = from + i
		}
		return s
	}
	for _, tc := range []struct {
		name         string
		lp, la, max  int
		wantP, wantA []int
	}{
		{"fits", 3, 2, 5, seq(0, 3), seq(100, 2)},
		{"short answer kept whole", 10, 2, 8, append(seq(0, 3), seq(7, 3)...), seq(100, 2)},
		// len(answer) 6 > 8/2: the prompt gets ⌊10/16·8⌋ = 5 tokens (2 head, 3 tail), the answer 3.
		{"long answer keeps its head", 10, 6, 8, append(seq(0, 2), seq(7, 3)...), seq(100, 3)},
		{"odd budget: the tail gets the extra token", 9, 4, 9, append(seq(0, 2), seq(6, 3)...), seq(100, 4)},
		// ⌊1/21·4⌋ = 0: no prompt at all (the released code would keep the whole prompt here).
		{"prompt budget zero", 1, 20, 4, []int{}, seq(100, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, a := Truncate(seq(0, tc.lp), seq(100, tc.la), tc.max)
			assert.Equal(t, tc.wantP, p)
			assert.Equal(t, tc.wantA, a)
			assert.LessOrEqual(t, len(p)+len(a), tc.max)
		})
	}
	p, a := Truncate([]int{1}, []int{2}, 0)
	assert.Nil(t, p)
	assert.Nil(t, a)
}

// eosOracle answers GenerateUntilEOS with multi-line text and Generate with its first line.
type eosOracle struct{ answer string }

func (o eosOracle) Generate(_ context.Context, prompts []string, _ int) ([]string, error) {
	first, _, _ := strings.Cut(o.answer, "\n")
	return slicesRepeat(first, len(prompts)), nil
}

func (o eosOracle) GenerateUntilEOS(_ context.Context, prompts []string, _ int) ([]string, error) {
	return slicesRepeat(o.answer, len(prompts)), nil
}

func (eosOracle) LogLikelihood(context.Context, [][2]string) ([]float64, []int, error) {
	return nil, nil, nil
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestScoreGeneratesUntilEOS(t *testing.T) {
	task := Task{Name: "math", Metric: NumericMatch, Test: []Example{{Prompt: "2+3?", Answer: "2+3=5\n#### 5"}}}
	m := eosOracle{answer: "2+3 = 6-1\nThe answer is: 5"}
	s, err := Score(context.Background(), m, task, Options{Template: AlpacaTemplate})
	require.NoError(t, err)
	assert.Equal(t, 1.0, s.Trained, "the whole multi-line answer is scored")
	s, err = Score(context.Background(), m, task, Options{Template: Template{Prompt: "{prompt}", Answer: "{answer}\n"}})
	require.NoError(t, err)
	assert.Equal(t, 0.0, s.Trained, "without EOS only the first line")
}
