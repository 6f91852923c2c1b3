package merge_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/merge"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

var colours = []string{"red", "blue", "green", "black", "white", "pink"}

// tinyTask is a task of made-up facts: "NAME N?" → a colour.
func tinyTask(name string, n int, seed uint64) accrete.Task {
	rng := rand.New(rand.NewPCG(seed, 9))
	var items []accrete.Example
	for i := range n {
		items = append(items, accrete.Example{ID: fmt.Sprintf("%s-%d", name, i), Prompt: fmt.Sprintf("%s %d?", name, i),
			Answer: colours[rng.IntN(len(colours))]})
	}
	return accrete.Task{Name: name, Metric: eval.ExactMatch, Train: items, Test: items}
}

func tinyLearner(t testing.TB) *accrete.Learner {
	t.Helper()
	var corpus []string
	for _, n := range []string{"ka", "mo"} {
		for i := range 8 {
			corpus = append(corpus, eval.DefaultTemplate.Format(fmt.Sprintf("%s %d?", n, i)))
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
	m, err := model.New(b, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(1, 1)), 0.05, 0))
	require.NoError(t, err)
	l, err := accrete.NewLearner(m, tok)
	require.NoError(t, err)
	l.LoRA = lora.Config{Rank: 4, Seed: 3}
	l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 3, BatchSize: 8, Seed: 4}
	return l
}

func TestStrategySetsBasePlusMergeAndRoundTrips(t *testing.T) {
	l := tinyLearner(t)
	tasks := []accrete.Task{tinyTask("ka", 6, 1), tinyTask("mo", 6, 2)}
	s := merge.New(merge.Config{Method: merge.TIES})
	require.Equal(t, "merge-ties", s.Name())
	require.Equal(t, "merge-dare-linear", merge.New(merge.Config{Method: merge.DARELinear}).Name())
	require.Equal(t, "merge-linear", merge.New(merge.Config{}).Name())
	dir := t.TempDir()
	_, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	ads := s.Adapters()
	require.Len(t, ads, 2)
	require.Equal(t, "r01-ka", ads[0].Name)

	// The effective model is the base plus TIES of both adapters (weights 1, density 0.2).
	want := l.Base().Clone()
	require.NoError(t, merge.Merge(ads, merge.Config{Method: merge.TIES, Weights: []float64{1, 1}, Density: 0.2}, merge.FoldInto(want)))
	for name, w := range want {
		require.Equal(t, w.Data, l.Model.Weights[name].Data, name)
	}
	require.Nil(t, l.Model.Adapter())

	// Stateful round trip.
	sd := t.TempDir()
	require.NoError(t, s.SaveState(sd))
	s2 := merge.New(merge.Config{Method: merge.TIES})
	require.NoError(t, s2.LoadState(sd, l))
	got := s2.Adapters()
	require.Len(t, got, 2)
	for i, a := range ads {
		require.Equal(t, a.Name, got[i].Name)
		for m, x := range a.A {
			require.Equal(t, x.Data, got[i].A[m].Data)
			require.Equal(t, a.B[m].Data, got[i].B[m].Data)
		}
	}
	require.ErrorContains(t, merge.New(merge.Config{}).LoadState(sd, l), `method "ties"`)

	// A finished run resumes without training: the checkpoint restores the state.
	s3 := merge.New(merge.Config{Method: merge.TIES})
	_, err = accrete.Run(context.Background(), l, s3, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.Len(t, s3.Adapters(), 2)
}

func TestStrategyRejectsABadConfig(t *testing.T) {
	l := tinyLearner(t)
	err := merge.New(merge.Config{Density: 2}).Learn(context.Background(), l, accrete.Round{Task: tinyTask("ka", 2, 1)})
	require.ErrorContains(t, err, "Density")
	err = merge.New(merge.Config{Weights: []float64{1}}).Learn(context.Background(), l, accrete.Round{Task: tinyTask("ka", 2, 1)})
	require.NoError(t, err)
}
