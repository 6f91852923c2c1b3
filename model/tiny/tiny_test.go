package tiny_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/packs"
)

// chance is the score of a model that knows nothing, per metric: 1/choices for lettered and
// multiple-choice tasks, 0 for exact match. ROUGE-L and edit similarity give partial credit for
// guessing the answer's form, so for them the test compares with the score of a fixed wrong answer
// of the right form instead (see formChance).
func chance(e packs.Entry) float64 {
	switch e.Metric {
	case eval.MultipleChoice, eval.FirstChar:
		return 1 / float64(e.Choices)
	}
	return 0
}

// TestBaseModelKnowsItsFactsAndNotTheNewOnes checks the shipped model: at least 80% exact match on the
// base facts it was pretrained on, and at most chance + 5 points on every new-knowledge pack.
func TestBaseModelKnowsItsFactsAndNotTheNewOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("scores every pack on the base model (about a minute)")
	}
	m, tok, err := tiny.Load(nil)
	require.NoError(t, err)
	l, err := accrete.NewLearner(m, tok)
	require.NoError(t, err)
	ctx := context.Background()
	base, err := packs.Base(packs.Options{})
	require.NoError(t, err)
	s, err := eval.Score(ctx, l.EvalModel(), base, eval.Options{})
	require.NoError(t, err)
	t.Logf("base facts: %.3f trained phrasing, %.3f paraphrase", s.Trained, s.Paraphrase)
	require.GreaterOrEqual(t, s.Trained, 0.80)

	man, err := packs.ReadManifest()
	require.NoError(t, err)
	for _, e := range man.Tasks {
		task, err := packs.Load(e.Name, packs.Options{})
		require.NoError(t, err)
		s, err := eval.Score(ctx, l.EvalModel(), task, eval.Options{})
		require.NoError(t, err)
		ref := chance(e)
		if e.Metric == eval.RougeL || e.Metric == eval.EditSim {
			ref = formChance(task)
		}
		t.Logf("%s (%s): %.3f, chance %.3f", e.Name, e.Metric, s.Headline(), ref)
		require.LessOrEqual(t, s.Headline(), ref+0.05, e.Name)
	}
}

// formChance is the mean score of answering every item with another item's answer (the next one's):
// what knowing the answer's form but not the fact earns under ROUGE-L or edit similarity.
func formChance(task accrete.Task) float64 {
	var sum float64
	n := len(task.Test)
	for i, ex := range task.Test {
		sum += task.Metric.Score(task.Test[(i+1)%n].Answer, ex.Answer)
	}
	return math.Max(sum/float64(n), 0)
}

func TestRecipeIsShipped(t *testing.T) {
	require.Contains(t, tiny.Recipe(), "seed")
}
