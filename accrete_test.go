package accrete_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

var colours = []string{"red", "blue", "green", "black", "white", "pink", "gold", "grey"}

// tinyTask is a task of made-up facts: "code N of NAME?" → a colour.
func tinyTask(name string, n int, seed uint64) accrete.Task {
	rng := rand.New(rand.NewPCG(seed, 9))
	var items []accrete.Example
	for i := range n {
		items = append(items, accrete.Example{
			ID:          fmt.Sprintf("%s-%d", name, i),
			Prompt:      fmt.Sprintf("%s %d?", name, i),
			Answer:      colours[rng.IntN(len(colours))],
			Paraphrases: []string{fmt.Sprintf("what is %s %d?", name, i)},
		})
	}
	return accrete.Task{Name: name, Metric: eval.ExactMatch, Train: items, Test: items}
}

func tinyLearner(t testing.TB, seed uint64) *accrete.Learner {
	t.Helper()
	var corpus []string
	for _, n := range []string{"ka", "mo", "zu"} {
		for i := range 12 {
			corpus = append(corpus, eval.DefaultTemplate.Format(fmt.Sprintf("%s %d?", n, i)), "what is "+n)
		}
	}
	for _, c := range colours {
		corpus = append(corpus, eval.DefaultTemplate.FormatAnswer(c))
	}
	tok, err := tokenizer.Train(corpus, 300, tokenizer.TrainOptions{})
	require.NoError(t, err)
	cfg := model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		VocabSize: tok.VocabSize(), TieWordEmbeddings: true}
	b, err := model.Backend()
	require.NoError(t, err)
	m, err := model.New(b, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(seed, 1)), 0.05, 0))
	require.NoError(t, err)
	l, err := accrete.NewLearner(m, tok)
	require.NoError(t, err)
	l.LoRA = lora.Config{Rank: 8, Seed: seed}
	l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 25, BatchSize: 8, Seed: seed}
	return l
}

func TestCooperationSettingsAreEnforced(t *testing.T) {
	l := tinyLearner(t, 1)
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2), tinyTask("zu", 4, 3)}
	var seen [][]string
	semi := accrete.StrategyFunc(func(_ context.Context, _ *accrete.Learner, r accrete.Round) error {
		require.Nil(t, r.History, "a semi-cooperative strategy must not see earlier data")
		return nil
	})
	_, err := accrete.Run(context.Background(), l, semi, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	full := fullStrategy{func(r accrete.Round) {
		var names []string
		for _, h := range r.History {
			names = append(names, h.Name)
		}
		seen = append(seen, names)
	}}
	_, err = accrete.Run(context.Background(), l, full, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, [][]string{nil, {"ka"}, {"ka", "mo"}}, seen)
}

type fullStrategy struct{ f func(accrete.Round) }

func (s fullStrategy) Learn(_ context.Context, _ *accrete.Learner, r accrete.Round) error {
	s.f(r)
	return nil
}
func (fullStrategy) FullyCooperative() bool { return true }

func TestSequentialLoRALearnsEachRound(t *testing.T) {
	l := tinyLearner(t, 2)
	tasks := []accrete.Task{tinyTask("ka", 12, 1), tinyTask("mo", 12, 2)}
	mat, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, mat.Rounds())
	t.Logf("base %v, R %v", mat.Base, mat.R)
	require.Less(t, mat.Base[0], 0.5)
	require.Greater(t, mat.R[0][0], 0.9, "round 1 must learn task 1")
	require.Greater(t, mat.R[1][1], 0.9, "round 2 must learn task 2")
}

func TestFailedRoundRestoresWeights(t *testing.T) {
	l := tinyLearner(t, 3)
	before := l.Model.Weights.Clone()
	boom := errors.New("boom")
	s := accrete.StrategyFunc(func(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
		for _, w := range l.Model.Weights {
			w.Data[0] += 1
		}
		return boom
	})
	_, err := accrete.Run(context.Background(), l, s, []accrete.Task{tinyTask("ka", 4, 1)}, accrete.RunOptions{})
	require.ErrorIs(t, err, boom)
	for name, w := range l.Model.Weights {
		require.Equal(t, before[name].Data, w.Data, name)
	}
}

// TestResumeAfterInterruption kills a run in round 2 and resumes it from its checkpoints: the matrix
// must equal an uninterrupted run's.
func TestResumeAfterInterruption(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 8, 1), tinyTask("mo", 8, 2), tinyTask("zu", 8, 3)}
	want, err := accrete.Run(context.Background(), tinyLearner(t, 4), accrete.Sequential{}, tasks, accrete.RunOptions{})
	require.NoError(t, err)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	interrupt := accrete.StrategyFunc(func(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
		if r.Index == 2 {
			cancel()
		}
		return accrete.Sequential{}.Learn(ctx, l, r)
	})
	_, err = accrete.Run(ctx, tinyLearner(t, 4), interrupt, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.ErrorIs(t, err, context.Canceled)

	got, err := accrete.Run(context.Background(), tinyLearner(t, 4), accrete.Sequential{}, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.Equal(t, want.R, got.R)
	require.Equal(t, want.Base, got.Base)
}

func TestSequentialKeepsEachRoundsAdapterInTheStore(t *testing.T) {
	l := tinyLearner(t, 6)
	l.Train.Epochs = 2
	st, err := lora.OpenStore(t.TempDir(), lora.Fingerprint(l.Model.Config, l.Base()))
	require.NoError(t, err)
	l.Store = st
	var trained []*lora.Adapter
	s := accrete.Sequential{OnAdapter: func(_ int, a *lora.Adapter, _ lora.Result) error {
		trained = append(trained, a.Clone())
		return nil
	}}
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2)}
	_, err = accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	metas := st.List()
	require.Len(t, metas, 2)
	require.Equal(t, []string{"r01-ka", "r02-mo"}, []string{metas[0].Name, metas[1].Name})
	require.Equal(t, "mo", metas[1].Task)
	for i, m := range metas {
		a, _, err := st.Get(m.Name, l.Model.Config)
		require.NoError(t, err)
		for mod, b := range trained[i].B {
			require.Equal(t, b.Data, a.B[mod].Data)
			require.Equal(t, trained[i].A[mod].Data, a.A[mod].Data)
		}
	}
	require.Len(t, l.History, 2)
	require.Equal(t, "mo", l.History[1].Task)
	require.Equal(t, "sequential-lora", l.History[1].Strategy)
}
