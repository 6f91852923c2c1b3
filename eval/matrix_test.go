package eval

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// example3 is the hand-worked 3×3 run used by the known-answer tests:
//
//	         t1    t2    t3
//	base    0.10  0.20  0.10
//	round1  0.80  0.10  0.20
//	round2  0.85  0.90  0.30
//	round3  0.50  0.70  0.95
func example3() *Matrix {
	return &Matrix{
		Tasks: []string{"t1", "t2", "t3"},
		R: [][]float64{
			{0.80, 0.10, 0.20},
			{0.85, 0.90, 0.30},
			{0.50, 0.70, 0.95},
		},
		Base:          []float64{0.10, 0.20, 0.10},
		Knowledge:     []float64{0.60, 0.55, 0.50},
		BaseKnowledge: 0.62,
	}
}

func TestMatrixKnownAnswers(t *testing.T) {
	m := example3()
	require.NoError(t, m.Validate())
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		// (0.50 + 0.70 + 0.95) / 3
		{"ACC", m.ACC(), 2.15 / 3},
		// ((0.50 − 0.80) + (0.70 − 0.90)) / 2
		{"BWT", m.BWT(), -0.25},
		// ((R12 − b2) + (R23 − b3)) / 2 = ((0.10 − 0.20) + (0.30 − 0.10)) / 2
		{"FWT", m.FWT(), 0.05},
		// t1: max(0.80, 0.85) − 0.50 = 0.35; t2: max(0.10, 0.90) − 0.70 = 0.20; mean 0.275.
		// (Not −BWT: the best score on t1 came after its own round.)
		{"Forgetting", m.Forgetting(), 0.275},
		// (0.80 + (0.85 + 0.90)/2 + 2.15/3) / 3
		{"AvgIncrementalAccuracy", m.AvgIncrementalAccuracy(), (0.80 + 0.875 + 2.15/3) / 3},
		{"OP(1)", m.OP(1), 0.80},
		{"OP(2)", m.OP(2), 0.875},
		{"OP(3)", m.OP(3), 2.15 / 3},
		// TRACE divides by t: (−0.30 − 0.20 + 0) / 3
		{"TraceBWT(3)", m.TraceBWT(3), -0.5 / 3},
		{"TraceBWT(2)", m.TraceBWT(2), 0.05 / 2},
		{"TraceBWT(1)", m.TraceBWT(1), 0},
		{"FinalKnowledge", m.FinalKnowledge(), 0.50},
	} {
		assert.InDelta(t, tc.want, tc.got, 1e-12, tc.name)
	}
	assert.InDelta(t, m.BWT()*2/3, m.TraceBWT(3), 1e-12, "TRACE BWT = (T−1)/T · GEM BWT")
	assert.True(t, math.IsNaN(m.OP(0)))
	assert.True(t, math.IsNaN(m.OP(4)))
	assert.True(t, math.IsNaN(m.TraceBWT(4)))
}

// A second matrix where every task is forgotten to its base score: BWT = −forgetting, FWT = 0.
func TestMatrixCatastrophicForgetting(t *testing.T) {
	m := &Matrix{
		Tasks: []string{"a", "b", "c"},
		R: [][]float64{
			{1, 0, 0},
			{0, 1, 0},
			{0, 0, 1},
		},
		Base: []float64{0, 0, 0},
	}
	assert.InDelta(t, 1.0/3, m.ACC(), 1e-12)
	assert.InDelta(t, -1, m.BWT(), 1e-12)
	assert.InDelta(t, 0, m.FWT(), 1e-12)
	assert.InDelta(t, 1, m.Forgetting(), 1e-12)
	assert.InDelta(t, (1+0.5+1.0/3)/3, m.AvgIncrementalAccuracy(), 1e-12)
	assert.True(t, math.IsNaN(m.FinalKnowledge()))
}

func TestMatrixOneRound(t *testing.T) {
	m := &Matrix{Tasks: []string{"a", "b"}, R: [][]float64{{0.7, 0.2}}, Base: []float64{0.1, 0.1}}
	assert.InDelta(t, 0.7, m.ACC(), 1e-12)
	assert.InDelta(t, 0.7, m.AvgIncrementalAccuracy(), 1e-12)
	assert.True(t, math.IsNaN(m.BWT()))
	assert.True(t, math.IsNaN(m.FWT()))
	assert.True(t, math.IsNaN(m.Forgetting()))
	assert.InDelta(t, 0, m.TraceBWT(1), 1e-12)

	empty := NewMatrix([]string{"a"}, nil, math.NaN())
	assert.True(t, math.IsNaN(empty.ACC()))
	assert.True(t, math.IsNaN(empty.AvgIncrementalAccuracy()))
}

func TestMatrixNaNPropagates(t *testing.T) {
	m := example3()
	m.R[0][0] = math.NaN()
	assert.True(t, math.IsNaN(m.BWT()))
	assert.True(t, math.IsNaN(m.Forgetting()))
	assert.False(t, math.IsNaN(m.ACC())) // the last row is complete
	m.Base = nil
	assert.True(t, math.IsNaN(m.FWT()))
}

// withTrainedAndBPB is example3 with trained-phrasing scores and bits per byte.
func withTrainedAndBPB() *Matrix {
	m := example3()
	m.Trained = [][]float64{
		{1.00, 0.10, 0.20},
		{0.95, 1.00, 0.30},
		{0.60, 0.90, 1.00},
	}
	m.BaseTrained = []float64{0.10, 0.20, 0.10}
	m.BPB = []float64{1.30, 1.35, 1.42}
	m.BaseBPB = 1.25
	return m
}

func TestMatrixAddRound(t *testing.T) {
	want := example3()
	m := NewMatrix(want.Tasks, want.Base, want.BaseKnowledge)
	assert.True(t, math.IsNaN(m.BaseBPB))
	m.BaseBPB = 0 // example3 has none
	for i, row := range want.R {
		require.NoError(t, m.AddRound(row, want.Knowledge[i]))
	}
	assert.Equal(t, want, m)
	assert.Nil(t, m.Trained)
	assert.Nil(t, m.BPB)
	want.R[0][0] = 0 // AddRound copied
	assert.Equal(t, 0.80, m.R[0][0])

	assert.ErrorContains(t, m.AddRound([]float64{1, 2, 3}, 0), "already 3 rounds for 3 tasks")
	assert.ErrorContains(t, NewMatrix([]string{"a"}, nil, 0).AddRound([]float64{1, 2}, 0), "2 scores for 1 tasks")
}

func TestMatrixAdd(t *testing.T) {
	want := withTrainedAndBPB()
	m := NewMatrix(want.Tasks, want.Base, want.BaseKnowledge)
	m.BaseTrained, m.BaseBPB = want.BaseTrained, want.BaseBPB
	for i, row := range want.R {
		require.NoError(t, m.Add(RoundScores{Scores: row, Trained: want.Trained[i], Knowledge: want.Knowledge[i], BPB: want.BPB[i]}))
	}
	assert.Equal(t, want, m)
	want.Trained[0][0] = 0 // Add copied
	assert.Equal(t, 1.0, m.Trained[0][0])
	assert.InDelta(t, 1.42-1.25, m.DeltaBPB(), 1e-12)
	assert.InDelta(t, 1.42, m.FinalBPB(), 1e-12)
	assert.ErrorContains(t, NewMatrix([]string{"a"}, nil, 0).Add(RoundScores{Scores: []float64{1}, Trained: []float64{1, 2}}),
		"2 trained-phrasing scores for 1 tasks")

	// Measured from round 2 only (a run resumed from an older checkpoint): round 1 gets NaN.
	m = NewMatrix([]string{"a", "b"}, nil, math.NaN())
	require.NoError(t, m.AddRound([]float64{0.5, 0.1}, math.NaN()))
	require.NoError(t, m.Add(RoundScores{Scores: []float64{0.4, 0.6}, Trained: []float64{0.7, 0.9}, Knowledge: math.NaN(), BPB: 1.5}))
	require.NoError(t, m.Validate())
	require.Len(t, m.Trained, 2)
	assert.True(t, math.IsNaN(m.Trained[0][0]) && math.IsNaN(m.Trained[0][1]))
	assert.Equal(t, []float64{0.7, 0.9}, m.Trained[1])
	require.Len(t, m.BPB, 2)
	assert.True(t, math.IsNaN(m.BPB[0]))
	assert.Equal(t, 1.5, m.BPB[1])
	assert.True(t, math.IsNaN(m.DeltaBPB()), "no base bits per byte")
}

func TestMatrixTrainedMatrix(t *testing.T) {
	assert.Nil(t, example3().TrainedMatrix())
	m := withTrainedAndBPB()
	tm := m.TrainedMatrix()
	require.NoError(t, tm.Validate())
	assert.InDelta(t, (0.60+0.90+1.00)/3, tm.ACC(), 1e-12)
	assert.InDelta(t, ((0.60-1.00)+(0.90-1.00))/2, tm.BWT(), 1e-12)
	assert.InDelta(t, ((0.10-0.20)+(0.30-0.10))/2, tm.FWT(), 1e-12)
	assert.True(t, math.IsNaN(tm.FinalKnowledge()))
	assert.True(t, math.IsNaN(tm.DeltaBPB()))
}

func TestMatrixValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Matrix)
		want string
	}{
		{"short row", func(m *Matrix) { m.R[1] = m.R[1][:2] }, "Matrix.R[1] has 2 scores for 3 tasks"},
		{"too many rounds", func(m *Matrix) { m.R = append(m.R, []float64{0, 0, 0}) }, "4 rounds but 3 tasks"},
		{"base", func(m *Matrix) { m.Base = m.Base[:1] }, "Matrix.Base has 1 scores"},
		{"knowledge", func(m *Matrix) { m.Knowledge = m.Knowledge[:2] }, "Matrix.Knowledge has 2 scores for 3 rounds"},
		{"trained rows", func(m *Matrix) { m.Trained = m.Trained[:2] }, "Matrix.Trained has 2 rows for 3 rounds"},
		{"trained row", func(m *Matrix) { m.Trained[2] = m.Trained[2][:1] }, "Matrix.Trained[2] has 1 scores for 3 tasks"},
		{"base trained", func(m *Matrix) { m.BaseTrained = m.BaseTrained[:2] }, "Matrix.BaseTrained has 2 scores"},
		{"bpb", func(m *Matrix) { m.BPB = m.BPB[:1] }, "Matrix.BPB has 1 values for 3 rounds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := withTrainedAndBPB()
			tc.edit(m)
			assert.ErrorContains(t, m.Validate(), tc.want)
		})
	}
}

func TestMatrixJSONRoundTrip(t *testing.T) {
	m := example3()
	m.R[2][1] = math.NaN()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	assert.Contains(t, string(b), `[0.5,null,0.95]`)
	var back Matrix
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, m.Tasks, back.Tasks)
	assert.Equal(t, m.Base, back.Base)
	assert.Equal(t, m.Knowledge, back.Knowledge)
	assert.Equal(t, m.BaseKnowledge, back.BaseKnowledge)
	assert.True(t, math.IsNaN(back.R[2][1]))
	back.R[2][1], m.R[2][1] = 0, 0
	assert.Equal(t, m.R, back.R)

	// Trained-phrasing scores and bits per byte round-trip.
	full := withTrainedAndBPB()
	full.Trained[1][2] = math.NaN()
	b, err = json.Marshal(full)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"trained":[[1,0.1,0.2],[0.95,1,null],[0.6,0.9,1]]`)
	assert.Contains(t, string(b), `"bpb":[1.3,1.35,1.42],"base_bpb":1.25`)
	var back1 Matrix
	require.NoError(t, json.Unmarshal(b, &back1))
	assert.True(t, math.IsNaN(back1.Trained[1][2]))
	back1.Trained[1][2], full.Trained[1][2] = 0, 0
	assert.Equal(t, full, &back1)

	// Unmeasured parts: no base, no knowledge, NaN base knowledge, no trained phrasings, no bpb.
	bare := &Matrix{Tasks: []string{"a"}, R: [][]float64{{0.5}}, BaseKnowledge: math.NaN(), BaseBPB: math.NaN()}
	b, err = json.Marshal(bare)
	require.NoError(t, err)
	assert.JSONEq(t, `{"tasks":["a"],"r":[[0.5]],"base_knowledge":null,"base_bpb":null}`, string(b))
	var back2 Matrix
	require.NoError(t, json.Unmarshal(b, &back2))
	assert.Nil(t, back2.Base)
	assert.True(t, math.IsNaN(back2.BaseKnowledge))
	assert.True(t, math.IsNaN(back2.BaseBPB))
	assert.Nil(t, back2.Trained)
	assert.Nil(t, back2.BPB)

	// A file written before trained phrasings and bpb existed loads with them unmeasured.
	var old Matrix
	require.NoError(t, json.Unmarshal([]byte(`{"tasks":["a"],"r":[[0.5]],"knowledge":[0.6],"base_knowledge":0.62}`), &old))
	assert.Nil(t, old.Trained)
	assert.Nil(t, old.BaseTrained)
	assert.Nil(t, old.BPB)
	assert.True(t, math.IsNaN(old.BaseBPB))
	assert.True(t, math.IsNaN(old.DeltaBPB()))
	assert.Nil(t, old.TrainedMatrix())

	assert.ErrorContains(t, json.Unmarshal([]byte(`{"tasks":["a"],"r":[[1,2]]}`), &back2), "R[0] has 2 scores")
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"tasks":["a"],"r":[null]}`), &back2), "null row")
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"tasks":["a"],"r":[[1]],"trained":[[1],[2]]}`), &back2), "Trained has 2 rows")
}
