package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/eval"
)

func TestFirstRoundsKeepsTrainedPhrasingsAndBPB(t *testing.T) {
	m := eval.NewMatrix([]string{"a", "b", "c"}, []float64{0.1, 0.2, 0.3}, 0.6)
	m.BaseTrained, m.BaseBPB = []float64{0.2, 0.3, 0.4}, 1.5
	for i := range 3 {
		f := float64(i)
		require.NoError(t, m.Add(eval.RoundScores{Scores: []float64{0.5 + f/10, 0.4, 0.3}, Trained: []float64{0.9, 0.8 + f/100, 0.7},
			Knowledge: 0.6 - f/10, BPB: 1.6 + f/10}))
	}
	sub := firstRounds(m, 2)
	require.NoError(t, sub.Validate())
	require.Equal(t, []string{"a", "b"}, sub.Tasks)
	require.Equal(t, [][]float64{m.R[0][:2], m.R[1][:2]}, sub.R)
	require.Equal(t, [][]float64{m.Trained[0][:2], m.Trained[1][:2]}, sub.Trained)
	require.Equal(t, []float64{0.2, 0.3}, sub.BaseTrained)
	require.Equal(t, m.BPB[:2], sub.BPB)
	require.InDelta(t, 0.2, sub.DeltaBPB(), 1e-12)
	require.Equal(t, m.Knowledge[:2], sub.Knowledge)
	require.Equal(t, 1.5, sub.BaseBPB)

	bare := eval.NewMatrix([]string{"a", "b"}, nil, math.NaN())
	require.NoError(t, bare.AddRound([]float64{1, 0}, math.NaN()))
	require.NoError(t, bare.AddRound([]float64{1, 1}, math.NaN()))
	sub = firstRounds(bare, 1)
	require.Nil(t, sub.Trained)
	require.Nil(t, sub.BPB)
	require.Nil(t, sub.Base)
}

func TestBPBDocsFlag(t *testing.T) {
	o, err := parse(nil, nil)
	require.NoError(t, err)
	require.Equal(t, 16, o.bpbDocs)
	docs := heldOutText(o.bpbDocs)
	require.NotEmpty(t, docs)
	require.LessOrEqual(t, len(docs), 16)
	for _, d := range docs {
		require.NotEmpty(t, d)
	}
	require.Nil(t, heldOutText(0))
	require.Len(t, heldOutText(3), min(3, len(docs)))
	_, err = parse([]string{"-bpb-docs", "-2"}, nil)
	require.ErrorContains(t, err, "-bpb-docs must be ≥ 0")
}
