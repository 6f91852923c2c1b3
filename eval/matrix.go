package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Matrix is the accuracy matrix of a continual-learning run: R[i][j] is the score on task j after
// round i, where round i trains task i (both 0-based here; the formulas in the method docs are 1-based,
// as in the papers). Every row scores every task, future ones included, because FWT needs R[i−1][i].
// Scores are in [0, 1] by convention; NaN marks a score not measured, and any metric that needs it is
// NaN too.
//
// Matrix encodes to JSON with NaN as null and decodes back unchanged.
type Matrix struct {
	// Tasks names the columns, in training order.
	Tasks []string
	// R holds one row per completed round, each with len(Tasks) scores; at most len(Tasks) rows.
	R [][]float64
	// Base holds the base model's score on each task, b[j], the reference of FWT; nil if not measured.
	Base []float64
	// Knowledge[i] is the score on the base model's own knowledge (e.g. an lm-eval suite) after round
	// i: retention, kept apart from the tasks because it is not one of them. nil if not measured.
	Knowledge []float64
	// BaseKnowledge is the base model's own score on that knowledge, before any round; NaN if not
	// measured (NewMatrix's argument; a zero Matrix holds 0). Reports show it only with Knowledge.
	BaseKnowledge float64
}

// NewMatrix returns an empty matrix over tasks, with base scores b (nil if not measured) and the base
// model's knowledge score (NaN if not measured). It copies its arguments.
func NewMatrix(tasks []string, base []float64, baseKnowledge float64) *Matrix {
	return &Matrix{Tasks: slices.Clone(tasks), Base: slices.Clone(base), BaseKnowledge: baseKnowledge}
}

// AddRound appends the scores after the next round, one per task, and that round's knowledge score
// (NaN if not measured). It copies scores.
func (m *Matrix) AddRound(scores []float64, knowledge float64) error {
	if len(scores) != len(m.Tasks) {
		return fmt.Errorf("eval: Matrix.AddRound: %d scores for %d tasks", len(scores), len(m.Tasks))
	}
	if len(m.R) >= len(m.Tasks) {
		return fmt.Errorf("eval: Matrix.AddRound: already %d rounds for %d tasks", len(m.R), len(m.Tasks))
	}
	if len(m.Knowledge) != len(m.R) {
		return fmt.Errorf("eval: Matrix.AddRound: %d knowledge scores for %d rounds", len(m.Knowledge), len(m.R))
	}
	m.R = append(m.R, slices.Clone(scores))
	m.Knowledge = append(m.Knowledge, knowledge)
	return nil
}

// Rounds is the number of completed rounds, T.
func (m *Matrix) Rounds() int { return len(m.R) }

// Validate checks the shape: every row has len(Tasks) scores, there are at most len(Tasks) rows, and
// Base and Knowledge are nil or have one score per task and per round.
func (m *Matrix) Validate() error {
	if len(m.R) > len(m.Tasks) {
		return fmt.Errorf("eval: Matrix has %d rounds but %d tasks", len(m.R), len(m.Tasks))
	}
	for i, row := range m.R {
		if len(row) != len(m.Tasks) {
			return fmt.Errorf("eval: Matrix.R[%d] has %d scores for %d tasks", i, len(row), len(m.Tasks))
		}
	}
	if m.Base != nil && len(m.Base) != len(m.Tasks) {
		return fmt.Errorf("eval: Matrix.Base has %d scores for %d tasks", len(m.Base), len(m.Tasks))
	}
	if m.Knowledge != nil && len(m.Knowledge) != len(m.R) {
		return fmt.Errorf("eval: Matrix.Knowledge has %d scores for %d rounds", len(m.Knowledge), len(m.R))
	}
	return nil
}

// at returns R[i][j] for 1-based i and j, or NaN when absent.
func (m *Matrix) at(i, j int) float64 {
	if i < 1 || i > len(m.R) || j < 1 || j > len(m.R[i-1]) {
		return math.NaN()
	}
	return m.R[i-1][j-1]
}

// ACC is the average accuracy after the last round, (1/T) Σ_{i≤T} R[T][i], over the T tasks trained
// so far (Lopez-Paz & Ranzato 2017). NaN when T = 0.
func (m *Matrix) ACC() float64 { return m.OP(len(m.R)) }

// BWT is GEM's backward transfer, 1/(T−1) Σ_{i<T} (R[T][i] − R[i][i]): negative means forgetting.
// It divides by T−1, unlike TraceBWT. NaN when T < 2.
func (m *Matrix) BWT() float64 {
	t := len(m.R)
	if t < 2 {
		return math.NaN()
	}
	var s float64
	for i := 1; i < t; i++ {
		s += m.at(t, i) - m.at(i, i)
	}
	return s / float64(t-1)
}

// FWT is GEM's forward transfer, 1/(T−1) Σ_{2≤i≤T} (R[i−1][i] − b[i]): how much earlier rounds help
// a task before it is trained, relative to the base model. NaN when T < 2 or Base is nil.
func (m *Matrix) FWT() float64 {
	t := len(m.R)
	if t < 2 || len(m.Base) < t {
		return math.NaN()
	}
	var s float64
	for i := 2; i <= t; i++ {
		s += m.at(i-1, i) - m.Base[i-1]
	}
	return s / float64(t-1)
}

// Forgetting is Chaudhry et al.'s (2018) average forgetting after the last round: the mean over tasks
// j < T of f_j = max_{l<T} R[l][j] − R[T][j], the drop from the best score a task ever had. It is
// max-based, so not interchangeable with Avalanche's first-minus-last "forgetting". NaN when T < 2.
func (m *Matrix) Forgetting() float64 {
	t := len(m.R)
	if t < 2 {
		return math.NaN()
	}
	var s float64
	for j := 1; j < t; j++ {
		best := math.Inf(-1)
		for l := 1; l < t; l++ {
			v := m.at(l, j)
			if math.IsNaN(v) {
				best = v
				break
			}
			best = max(best, v)
		}
		s += best - m.at(t, j)
	}
	return s / float64(t-1)
}

// AvgIncrementalAccuracy is iCaRL's average incremental accuracy, (1/T) Σ_{k≤T} (1/k) Σ_{j≤k} R[k][j]:
// the mean over rounds of the accuracy on the tasks seen so far (the mean of OP(k)). NaN when T = 0.
func (m *Matrix) AvgIncrementalAccuracy() float64 {
	t := len(m.R)
	if t == 0 {
		return math.NaN()
	}
	var s float64
	for k := 1; k <= t; k++ {
		s += m.OP(k)
	}
	return s / float64(t)
}

// OP is TRACE's overall performance after round t (1-based), OP_t = (1/t) Σ_{i≤t} R[t][i]; OP(T) is
// ACC. NaN unless 1 ≤ t ≤ T.
func (m *Matrix) OP(t int) float64 {
	if t < 1 || t > len(m.R) {
		return math.NaN()
	}
	var s float64
	for i := 1; i <= t; i++ {
		s += m.at(t, i)
	}
	return s / float64(t)
}

// TraceBWT is TRACE's backward transfer after round t (1-based), BWT_t = (1/t) Σ_{i≤t} (R[t][i] −
// R[i][i]). It divides by t where GEM's BWT divides by t−1 (the i = t term is zero), so for the same
// run it is (T−1)/T times BWT(); reports must say which they use. NaN unless 1 ≤ t ≤ T.
func (m *Matrix) TraceBWT(t int) float64 {
	if t < 1 || t > len(m.R) {
		return math.NaN()
	}
	var s float64
	for i := 1; i <= t; i++ {
		s += m.at(t, i) - m.at(i, i)
	}
	return s / float64(t)
}

// FinalKnowledge is the knowledge score after the last round; NaN if not measured.
func (m *Matrix) FinalKnowledge() float64 {
	if len(m.Knowledge) == 0 || len(m.Knowledge) < len(m.R) || len(m.R) == 0 {
		return math.NaN()
	}
	return m.Knowledge[len(m.R)-1]
}

type matrixJSON struct {
	Tasks         []string `json:"tasks"`
	R             [][]num  `json:"r"`
	Base          []num    `json:"base,omitempty"`
	Knowledge     []num    `json:"knowledge,omitempty"`
	BaseKnowledge num      `json:"base_knowledge"`
}

// MarshalJSON encodes m with NaN scores as null:
//
//	{"tasks":["a","b"],"r":[[0.9,0.1]],"base":[0.1,0.2],"knowledge":[0.6],"base_knowledge":0.62}
func (m Matrix) MarshalJSON() ([]byte, error) {
	j := matrixJSON{Tasks: m.Tasks, R: make([][]num, len(m.R)), Base: toNums(m.Base),
		Knowledge: toNums(m.Knowledge), BaseKnowledge: num(m.BaseKnowledge)}
	if j.Tasks == nil {
		j.Tasks = []string{}
	}
	for i, row := range m.R {
		j.R[i] = toNums(row)
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes, null as NaN, and checks the shape with Validate.
func (m *Matrix) UnmarshalJSON(b []byte) error {
	j := matrixJSON{BaseKnowledge: num(math.NaN())}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Matrix{Tasks: j.Tasks, Base: fromNums(j.Base), Knowledge: fromNums(j.Knowledge),
		BaseKnowledge: float64(j.BaseKnowledge)}
	for _, row := range j.R {
		if row == nil {
			return errors.New("eval: Matrix: null row")
		}
		out.R = append(out.R, fromNums(row))
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*m = out
	return nil
}
