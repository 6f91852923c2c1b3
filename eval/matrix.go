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
// R holds headline scores (TaskScore.Headline: the held-out phrasings of a task that has them), the
// knowledge that generalises; Trained, when measured, is the parallel matrix of scores on the trained
// phrasings, and TrainedMatrix views it as a Matrix of its own so that every metric applies to it.
// Beside the tasks, two retention measures: Knowledge, the score on the base model's own knowledge,
// and BPB, bits per byte on held-out general text.
//
// Matrix encodes to JSON with NaN as null and decodes back unchanged.
type Matrix struct {
	// Tasks names the columns, in training order.
	Tasks []string
	// R holds one row per completed round, each with len(Tasks) scores; at most len(Tasks) rows.
	R [][]float64
	// Base holds the base model's score on each task, b[j], the reference of FWT; nil if not measured.
	Base []float64
	// Trained is R's counterpart on the trained phrasings (TaskScore.Trained): nil if not measured,
	// else one row per round, a row of NaN for a round it was not measured in.
	Trained [][]float64
	// BaseTrained is Base's counterpart on the trained phrasings; nil if not measured.
	BaseTrained []float64
	// Knowledge[i] is the score on the base model's own knowledge (e.g. an lm-eval suite) after round
	// i: retention, kept apart from the tasks because it is not one of them. nil if not measured.
	Knowledge []float64
	// BaseKnowledge is the base model's own score on that knowledge, before any round; NaN if not
	// measured (NewMatrix's argument; a zero Matrix holds 0). Reports show it only with Knowledge.
	BaseKnowledge float64
	// BPB[i] is the bits per byte on held-out general text after round i (see BitsPerByte; lower is
	// better): nil if never measured, else one value per round, NaN for a round it was not measured in.
	BPB []float64
	// BaseBPB is the base model's bits per byte on that text; NaN if not measured (NewMatrix sets NaN;
	// a zero Matrix holds 0). Reports show it only with BPB.
	BaseBPB float64
}

// NewMatrix returns an empty matrix over tasks, with base scores b (nil if not measured) and the base
// model's knowledge score (NaN if not measured); BaseTrained is nil and BaseBPB NaN (set them directly
// when measured). It copies its arguments.
func NewMatrix(tasks []string, base []float64, baseKnowledge float64) *Matrix {
	return &Matrix{Tasks: slices.Clone(tasks), Base: slices.Clone(base), BaseKnowledge: baseKnowledge,
		BaseBPB: math.NaN()}
}

// RoundScores is what one round adds to a Matrix (see Matrix.Add).
type RoundScores struct {
	// Scores are the headline scores, one per task: the round's row of R.
	Scores []float64
	// Trained are the trained-phrasing scores, one per task: the round's row of Trained; nil if not
	// measured.
	Trained []float64
	// Knowledge is the score on the base model's own knowledge; NaN if not measured (zero is a score).
	Knowledge float64
	// BPB is the bits per byte on held-out general text; NaN if not measured (zero is a value).
	BPB float64
}

// AddRound appends the scores after the next round, one per task, and that round's knowledge score
// (NaN if not measured): Add with no trained-phrasing scores and no bits per byte.
func (m *Matrix) AddRound(scores []float64, knowledge float64) error {
	return m.Add(RoundScores{Scores: scores, Knowledge: knowledge, BPB: math.NaN()})
}

// Add appends the scores after the next round. Trained and BPB grow with R once either has been
// measured in any round (earlier and later rounds without a measurement get NaN), and stay nil while
// neither has. It copies r's slices.
func (m *Matrix) Add(r RoundScores) error {
	if len(r.Scores) != len(m.Tasks) {
		return fmt.Errorf("eval: Matrix.Add: %d scores for %d tasks", len(r.Scores), len(m.Tasks))
	}
	if r.Trained != nil && len(r.Trained) != len(m.Tasks) {
		return fmt.Errorf("eval: Matrix.Add: %d trained-phrasing scores for %d tasks", len(r.Trained), len(m.Tasks))
	}
	if len(m.R) >= len(m.Tasks) {
		return fmt.Errorf("eval: Matrix.Add: already %d rounds for %d tasks", len(m.R), len(m.Tasks))
	}
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Knowledge == nil && len(m.R) > 0 {
		return fmt.Errorf("eval: Matrix.Add: no knowledge scores for %d rounds", len(m.R))
	}
	if m.Trained != nil || r.Trained != nil {
		for len(m.Trained) < len(m.R) {
			m.Trained = append(m.Trained, nanRow(len(m.Tasks)))
		}
		row := slices.Clone(r.Trained)
		if row == nil {
			row = nanRow(len(m.Tasks))
		}
		m.Trained = append(m.Trained, row)
	}
	if m.BPB != nil || !math.IsNaN(r.BPB) {
		for len(m.BPB) < len(m.R) {
			m.BPB = append(m.BPB, math.NaN())
		}
		m.BPB = append(m.BPB, r.BPB)
	}
	m.R = append(m.R, slices.Clone(r.Scores))
	m.Knowledge = append(m.Knowledge, r.Knowledge)
	return nil
}

func nanRow(n int) []float64 {
	row := make([]float64, n)
	for i := range row {
		row[i] = math.NaN()
	}
	return row
}

// Rounds is the number of completed rounds, T.
func (m *Matrix) Rounds() int { return len(m.R) }

// Validate checks the shape: every row of R and Trained has len(Tasks) scores, there are at most
// len(Tasks) rows, and Base, BaseTrained, Trained, Knowledge and BPB are nil or have one score or row
// per task and per round.
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
	if m.Trained != nil && len(m.Trained) != len(m.R) {
		return fmt.Errorf("eval: Matrix.Trained has %d rows for %d rounds", len(m.Trained), len(m.R))
	}
	for i, row := range m.Trained {
		if len(row) != len(m.Tasks) {
			return fmt.Errorf("eval: Matrix.Trained[%d] has %d scores for %d tasks", i, len(row), len(m.Tasks))
		}
	}
	if m.BaseTrained != nil && len(m.BaseTrained) != len(m.Tasks) {
		return fmt.Errorf("eval: Matrix.BaseTrained has %d scores for %d tasks", len(m.BaseTrained), len(m.Tasks))
	}
	if m.Knowledge != nil && len(m.Knowledge) != len(m.R) {
		return fmt.Errorf("eval: Matrix.Knowledge has %d scores for %d rounds", len(m.Knowledge), len(m.R))
	}
	if m.BPB != nil && len(m.BPB) != len(m.R) {
		return fmt.Errorf("eval: Matrix.BPB has %d values for %d rounds", len(m.BPB), len(m.R))
	}
	return nil
}

// TrainedMatrix returns the trained-phrasing scores as a matrix of their own (R = m.Trained, Base =
// m.BaseTrained, the same tasks, no knowledge or bits per byte), so that ACC, BWT, FWT and forgetting
// can be computed on them; nil when m.Trained is nil. It shares m's slices.
func (m *Matrix) TrainedMatrix() *Matrix {
	if m.Trained == nil {
		return nil
	}
	return &Matrix{Tasks: m.Tasks, R: m.Trained, Base: m.BaseTrained, BaseKnowledge: math.NaN(), BaseBPB: math.NaN()}
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

// FinalBPB is the bits per byte on held-out general text after the last round; NaN if not measured.
func (m *Matrix) FinalBPB() float64 {
	if len(m.R) == 0 || len(m.BPB) < len(m.R) {
		return math.NaN()
	}
	return m.BPB[len(m.R)-1]
}

// DeltaBPB is the change in bits per byte on held-out general text over the run, FinalBPB − BaseBPB:
// positive means the model got worse at general text. NaN if either is not measured.
func (m *Matrix) DeltaBPB() float64 { return m.FinalBPB() - m.BaseBPB }

type matrixJSON struct {
	Tasks         []string `json:"tasks"`
	R             [][]num  `json:"r"`
	Base          []num    `json:"base,omitempty"`
	Trained       [][]num  `json:"trained,omitempty"`
	BaseTrained   []num    `json:"base_trained,omitempty"`
	Knowledge     []num    `json:"knowledge,omitempty"`
	BaseKnowledge num      `json:"base_knowledge"`
	BPB           []num    `json:"bpb,omitempty"`
	BaseBPB       num      `json:"base_bpb"`
}

// MarshalJSON encodes m with NaN scores as null:
//
//	{"tasks":["a","b"],"r":[[0.9,0.1]],"base":[0.1,0.2],"trained":[[1,0.1]],"base_trained":[0.1,0.2],
//	 "knowledge":[0.6],"base_knowledge":0.62,"bpb":[1.31],"base_bpb":1.29}
func (m Matrix) MarshalJSON() ([]byte, error) {
	j := matrixJSON{Tasks: m.Tasks, R: make([][]num, len(m.R)), Base: toNums(m.Base),
		BaseTrained: toNums(m.BaseTrained), Knowledge: toNums(m.Knowledge), BaseKnowledge: num(m.BaseKnowledge),
		BPB: toNums(m.BPB), BaseBPB: num(m.BaseBPB)}
	if j.Tasks == nil {
		j.Tasks = []string{}
	}
	for i, row := range m.R {
		j.R[i] = toNums(row)
	}
	if m.Trained != nil {
		j.Trained = make([][]num, len(m.Trained))
		for i, row := range m.Trained {
			j.Trained[i] = toNums(row)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON encodes, null as NaN, and checks the shape with Validate.
// Fields that older files lack decode as not measured: nil slices, NaN base values.
func (m *Matrix) UnmarshalJSON(b []byte) error {
	j := matrixJSON{BaseKnowledge: num(math.NaN()), BaseBPB: num(math.NaN())}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := Matrix{Tasks: j.Tasks, Base: fromNums(j.Base), BaseTrained: fromNums(j.BaseTrained),
		Knowledge: fromNums(j.Knowledge), BaseKnowledge: float64(j.BaseKnowledge), BPB: fromNums(j.BPB),
		BaseBPB: float64(j.BaseBPB)}
	for _, row := range j.R {
		if row == nil {
			return errors.New("eval: Matrix: null row")
		}
		out.R = append(out.R, fromNums(row))
	}
	for _, row := range j.Trained {
		if row == nil {
			return errors.New("eval: Matrix: null trained row")
		}
		out.Trained = append(out.Trained, fromNums(row))
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*m = out
	return nil
}
