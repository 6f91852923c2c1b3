package eval

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedRun is a two-task run whose scores are shifted by d: R = [[0.8+d, 0.1], [0.6+d, 0.9+d]],
// knowledge 0.5+d per round, base knowledge 0.6.
func seedRun(t *testing.T, d float64) MethodResult {
	t.Helper()
	m := NewMatrix([]string{"a", "b"}, []float64{0.1, 0.1}, 0.6)
	require.NoError(t, m.AddRound([]float64{0.8 + d, 0.1}, 0.5+d))
	require.NoError(t, m.AddRound([]float64{0.6 + d, 0.9 + d}, 0.5+d))
	return FromMatrix("LoRA sequential", "semi-cooperative", m)
}

func TestAggregateOverSeeds(t *testing.T) {
	runs := []MethodResult{seedRun(t, 0), seedRun(t, 0.1), seedRun(t, 0.2)}
	agg, err := Aggregate(runs)
	require.NoError(t, err)
	require.Len(t, agg.Seeds, 3)
	// ACC per seed: (0.6+d + 0.9+d)/2 = 0.75, 0.85, 0.95: mean 0.85, s = 0.1, half-width
	// t_{0.975,2}·0.1/√3 = 4.3027·0.057735 = 0.24841.
	iv := agg.Intervals()
	assert.InDelta(t, 0.85, iv["acc"].Mean, 1e-12)
	assert.InDelta(t, 0.24841, iv["acc"].HalfWidth(), 1e-4)
	assert.Equal(t, 3, iv["acc"].N)
	assert.InDelta(t, 0.85, agg.Acquisition, 1e-12, "Acquisition is ACC's mean")
	assert.InDelta(t, 0.6, agg.Retention, 1e-12)
	assert.InDelta(t, -0.2, iv["bwt"].Mean, 1e-12, "BWT is −0.2 in every seed")
	assert.InDelta(t, 0, iv["bwt"].HalfWidth(), 1e-12)
	assert.True(t, math.IsNaN(iv["delta_bpb"].Mean), "not measured")
	// The matrix is the element-wise mean.
	require.NotNil(t, agg.Matrix)
	assert.InDelta(t, 0.9, agg.Matrix.R[0][0], 1e-12)
	assert.InDelta(t, 1.0, agg.Matrix.R[1][1], 1e-12)
	assert.InDelta(t, 0.1, agg.Matrix.R[0][1], 1e-12)
	assert.InDeltaSlice(t, []float64{0.1, 0.1}, agg.Matrix.Base, 1e-12)
	assert.InDelta(t, 0.6, agg.Matrix.Knowledge[1], 1e-12)
	assert.Equal(t, 0.6, agg.Matrix.BaseKnowledge)
	assert.True(t, math.IsNaN(agg.Matrix.BaseBPB))

	t.Run("report", func(t *testing.T) {
		r := Report{Title: "seeds", Notes: []string{"16 items per task."}, Methods: []MethodResult{agg}}
		var md bytes.Buffer
		require.NoError(t, r.WriteMarkdown(&md))
		s := md.String()
		assert.Contains(t, s, "16 items per task.\n")
		assert.Contains(t, s, "| method | setting | seeds |")
		assert.Contains(t, s, "| LoRA sequential | semi-cooperative | 3 | 0.8500 ± 0.2484 |")
		assert.Contains(t, s, "Student's t distribution")
		assert.Contains(t, s, "## LoRA sequential: accuracy matrix, mean of 3 seeds")
		var c bytes.Buffer
		require.NoError(t, r.WriteCSV(&c))
		recs, err := csv.NewReader(&c).ReadAll()
		require.NoError(t, err)
		col := map[string]string{}
		for i, h := range recs[0] {
			col[h] = recs[1][i]
		}
		assert.Equal(t, "3", col["seeds"])
		lo, err := strconv.ParseFloat(col["acc_lo"], 64)
		require.NoError(t, err)
		assert.InDelta(t, 0.85-0.24841, lo, 1e-4)
		var j bytes.Buffer
		require.NoError(t, r.WriteJSON(&j))
		assert.Contains(t, j.String(), `"intervals"`)
		var back Report
		require.NoError(t, json.Unmarshal(j.Bytes(), &back))
		require.Len(t, back.Methods[0].Seeds, 3)
		assert.Equal(t, runs[1].Matrix.R, back.Methods[0].Seeds[1].Matrix.R, "per-seed matrices in report.json")
		assert.InDelta(t, 0.85, back.Methods[0].Intervals()["acc"].Mean, 1e-12)
		assert.Equal(t, []string{"16 items per task."}, back.Notes)
	})
}

func TestAggregateErrors(t *testing.T) {
	_, err := Aggregate(nil)
	assert.ErrorContains(t, err, "no runs")
	other := seedRun(t, 0)
	other.Method = "FFT"
	_, err = Aggregate([]MethodResult{seedRun(t, 0), other})
	assert.ErrorContains(t, err, `run 1 is "FFT"`)
	short := seedRun(t, 0)
	short.Matrix = firstRow(short.Matrix)
	_, err = Aggregate([]MethodResult{seedRun(t, 0), short})
	assert.ErrorContains(t, err, "1 rounds")
	// One seed: a mean without an interval.
	agg, err := Aggregate([]MethodResult{seedRun(t, 0)})
	require.NoError(t, err)
	assert.True(t, math.IsNaN(agg.Intervals()["acc"].Lo))
}

func firstRow(m *Matrix) *Matrix {
	c := NewMatrix(m.Tasks, m.Base, m.BaseKnowledge)
	_ = c.AddRound(m.R[0], m.Knowledge[0])
	return c
}

func TestMeanMatrixSkipsUnmeasured(t *testing.T) {
	a := NewMatrix([]string{"x"}, nil, math.NaN())
	require.NoError(t, a.Add(RoundScores{Scores: []float64{0.2}, Knowledge: math.NaN(), BPB: 1.5}))
	b := NewMatrix([]string{"x"}, nil, math.NaN())
	require.NoError(t, b.Add(RoundScores{Scores: []float64{0.4}, Knowledge: math.NaN(), BPB: math.NaN()}))
	m, err := MeanMatrix([]*Matrix{a, b})
	require.NoError(t, err)
	assert.InDelta(t, 0.3, m.R[0][0], 1e-12)
	assert.Equal(t, []float64{1.5}, m.BPB, "averaged over the seeds that measured it")
	assert.Nil(t, m.Base)
}
