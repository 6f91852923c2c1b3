package merge_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/merge"
)

func TestStrategySetsBasePlusMergeAndRoundTrips(t *testing.T) {
	l := testkit.ColourLearner(t)
	tasks := []accrete.Task{testkit.ColourTask("ka", 6, 1), testkit.ColourTask("mo", 6, 2)}
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
	l := testkit.ColourLearner(t)
	err := merge.New(merge.Config{Density: 2}).Learn(context.Background(), l, accrete.Round{Task: testkit.ColourTask("ka", 2, 1)})
	require.ErrorContains(t, err, "Density")
	err = merge.New(merge.Config{Weights: []float64{1}}).Learn(context.Background(), l, accrete.Round{Task: testkit.ColourTask("ka", 2, 1)})
	require.NoError(t, err)
}
