package accrete_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
)

// plainModel hides every optional ability of the eval.Model it holds (drafting, EOS generation).
type plainModel struct{ m eval.Model }

func (p plainModel) Generate(ctx context.Context, prompts []string, maxTokens int) ([]string, error) {
	return p.m.Generate(ctx, prompts, maxTokens)
}

func (p plainModel) LogLikelihood(ctx context.Context, pairs [][2]string) ([]float64, []int, error) {
	return p.m.LogLikelihood(ctx, pairs)
}

// Scoring with drafts (eval.DraftGenerator) gives what generating every prompt gives, item by item,
// on a model that answers some items as trained and others not.
func TestDraftedScoresEqualGenerated(t *testing.T) {
	l := tinyLearner(t, 2)
	task := tinyTask("ka", 12, 1)
	require.NoError(t, accrete.Sequential{}.Learn(context.Background(), l, accrete.Round{Task: task}))
	m := l.EvalModel()
	_, ok := m.(eval.DraftGenerator)
	require.True(t, ok)
	other := tinyTask("mo", 12, 2)
	for _, tc := range []struct {
		name string
		task accrete.Task
		tmpl eval.Template
	}{
		{"trained", task, eval.DefaultTemplate},
		{"untrained", other, eval.DefaultTemplate},
		{"eos template", task, eval.PaperTemplate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := eval.Options{Template: tc.tmpl, Details: true, BatchSize: 5}
			drafted, err := eval.Score(context.Background(), m, tc.task, o)
			require.NoError(t, err)
			generated, err := eval.Score(context.Background(), plainModel{m}, tc.task, o)
			require.NoError(t, err)
			if tc.tmpl.EOS { // a plain Model generates to the first newline only
				generated, err = eval.Score(context.Background(), eosOnly{plainModel{m}, m.(eval.EOSGenerator)}, tc.task, o)
				require.NoError(t, err)
			}
			require.Equal(t, generated.Items, drafted.Items)
			t.Logf("trained %.3f, held out %.3f", drafted.Trained, drafted.HeldOut)
		})
	}
	s, err := eval.Score(context.Background(), m, task, eval.Options{})
	require.NoError(t, err)
	require.Greater(t, s.Trained+s.HeldOut, 0.5, "some items match their drafts")
	require.Less(t, s.HeldOut, 1.0, "and some do not")
}

type eosOnly struct {
	plainModel
	eos eval.EOSGenerator
}

func (e eosOnly) GenerateUntilEOS(ctx context.Context, prompts []string, maxTokens int) ([]string, error) {
	return e.eos.GenerateUntilEOS(ctx, prompts, maxTokens)
}

// Runs over the same base model with one ScoreCache score the base model once, with the same
// results as without the cache; a model with an adapter attached is scored every time.
func TestScoreCacheSharesTheBaseRow(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 8, 1), tinyTask("mo", 8, 2)}
	ctx := context.Background()
	seq := accrete.Sequential{}

	uncached, err := accrete.Run(ctx, tinyLearner(t, 2), seq, tasks, accrete.RunOptions{})
	require.NoError(t, err)

	var cache accrete.ScoreCache
	first, err := accrete.Run(ctx, tinyLearner(t, 2), seq, tasks, accrete.RunOptions{Scores: &cache})
	require.NoError(t, err)
	require.Equal(t, accrete.CacheStats{Misses: 3, Entries: 3}, cache.Stats(), "the base model and two rounds")
	second, err := accrete.Run(ctx, tinyLearner(t, 2), seq, tasks, accrete.RunOptions{Scores: &cache})
	require.NoError(t, err)
	require.Equal(t, accrete.CacheStats{Hits: 3, Misses: 3, Entries: 3}, cache.Stats(), "training is deterministic: every row again")
	require.Greater(t, uncached.Trained[0][0], 0.5, "the rounds learn")
	require.Equal(t, fmt.Sprint(*uncached), fmt.Sprint(*first)) // NaN (no knowledge tasks) prints alike
	require.Equal(t, fmt.Sprint(*uncached), fmt.Sprint(*second))

	other, err := accrete.Run(ctx, tinyLearner(t, 3), seq, tasks[:1], accrete.RunOptions{Scores: &cache})
	require.NoError(t, err)
	require.Equal(t, 5, cache.Stats().Misses, "another base model and tasks are other keys")
	require.Equal(t, 1, other.Rounds())

	l := tinyLearner(t, 2)
	a, _, err := l.TrainAdapter(ctx, "a", l.Encode(tasks[0].Train), nil, nil)
	require.NoError(t, err)
	l.Model.SetAdapter(a)
	before := cache.Stats()
	_, err = accrete.Run(ctx, l, accrete.StrategyFunc(func(context.Context, *accrete.Learner, accrete.Round) error { return nil }),
		tasks[:1], accrete.RunOptions{Scores: &cache})
	require.NoError(t, err)
	require.Equal(t, before, cache.Stats(), "a model with an adapter is not looked up")
}
