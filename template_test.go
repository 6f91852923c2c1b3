package accrete_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/packs"
)

// TestRunScoresKnowledgeInItsOwnTemplate: a knowledge task that sets its Template is scored in it while
// the rounds train in the learner's, so the shipped model's retention of its own facts reads the same
// in a run prompted with the paper's template as in one prompted with "Q:/A:", the template it learnt
// them in. A trained task whose Template differs from the learner's is refused before anything is
// scored.
func TestRunScoresKnowledgeInItsOwnTemplate(t *testing.T) {
	ctx := context.Background()
	m, tok, err := tiny.Load(nil)
	require.NoError(t, err)
	facts, err := packs.Base(packs.Options{Limit: 4})
	require.NoError(t, err)
	task := tinyTask("ka", 2, 1)
	nothing := accrete.StrategyFunc(func(context.Context, *accrete.Learner, accrete.Round) error { return nil })
	baseKnowledge := func(learner, own eval.Template) float64 {
		l, err := accrete.NewLearner(m, tok)
		require.NoError(t, err)
		l.Template = learner
		k := facts
		k.Template = own
		mat, err := accrete.Run(ctx, l, nothing, []accrete.Task{task}, accrete.RunOptions{Knowledge: []accrete.Task{k}})
		require.NoError(t, err)
		return float64(mat.BaseKnowledge)
	}
	qa := baseKnowledge(eval.DefaultTemplate, eval.Template{})
	paper := baseKnowledge(eval.PaperTemplate, eval.Template{})
	t.Logf("base knowledge: %.3f in Q:/A:, %.3f in the paper's template", qa, paper)
	require.Greater(t, qa, 0.0, "the shipped model knows its facts in Q:/A:")
	assert.Equal(t, qa, baseKnowledge(eval.PaperTemplate, eval.DefaultTemplate), "the facts keep their template")
	assert.Less(t, paper, qa, "in the paper's template they score less")

	l, err := accrete.NewLearner(m, tok)
	require.NoError(t, err)
	l.Template = eval.PaperTemplate
	own := task
	own.Template = eval.DefaultTemplate
	mat, err := accrete.Run(ctx, l, nothing, []accrete.Task{own}, accrete.RunOptions{})
	require.ErrorContains(t, err, `task "ka" has its own Template`)
	require.Nil(t, mat, "refused before the base model is scored")

	l.Template = eval.Template{} // formats as DefaultTemplate does
	_, err = accrete.Run(ctx, l, nothing, []accrete.Task{own}, accrete.RunOptions{})
	require.NoError(t, err)
}
