package eval

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// FrontierPoint is one learning rate on a method's acquisition-retention frontier: what the method
// acquired and what it retained when trained at that rate. Sweeping the rate moves a method along its
// frontier, so two methods are compared fairly where their frontiers meet matched acquisition, not at
// one hand-picked rate each.
type FrontierPoint struct {
	// Method names the method or family, e.g. "LoRA", "FFT" or "O-LoRA λ=0.5".
	Method string
	// Training says how the point was trained, e.g. "one round" or "sequential, 4 rounds"; points of
	// one Method and Training form one line of the frontier plot.
	Training string
	// LearningRate is the rate the point was trained at.
	LearningRate float64
	// Acquisition is the score on the new knowledge (one round: the task's score; several rounds: the
	// final ACC); NaN when not measured or the run failed.
	Acquisition float64
	// Retention is the score on the base model's knowledge after training; NaN when not measured or
	// the run failed.
	Retention float64
	// Chosen marks the rate picked for the study from this line's points.
	Chosen bool
	// Failed, when set, says why the point has no scores (e.g. the loss diverged).
	Failed string
}

type frontierPointJSON struct {
	Method       string  `json:"method"`
	Training     string  `json:"training"`
	LearningRate float64 `json:"learning_rate"`
	Acquisition  num     `json:"acquisition"`
	Retention    num     `json:"retention"`
	Chosen       bool    `json:"chosen,omitempty"`
	Failed       string  `json:"failed,omitempty"`
}

// MarshalJSON encodes NaN as null.
func (p FrontierPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(frontierPointJSON{p.Method, p.Training, p.LearningRate, num(p.Acquisition), num(p.Retention), p.Chosen, p.Failed})
}

// UnmarshalJSON decodes null (or an absent number) as NaN.
func (p *FrontierPoint) UnmarshalJSON(b []byte) error {
	nan := num(math.NaN())
	j := frontierPointJSON{Acquisition: nan, Retention: nan}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*p = FrontierPoint{j.Method, j.Training, j.LearningRate, float64(j.Acquisition), float64(j.Retention), j.Chosen, j.Failed}
	return nil
}

// LearningRate is the rate a family of methods ran the study with, and where it came from.
type LearningRate struct {
	// Family names the methods that share the rate, e.g. "LoRA (LoRA, O-LoRA, merging, MoE, replay,
	// joint)".
	Family string `json:"family"`
	// Rate is the learning rate the study used.
	Rate float64 `json:"rate"`
	// Grid are the rates it was chosen from; nil when it was given, not chosen.
	Grid []float64 `json:"grid,omitempty"`
	// How says how it was chosen (the criterion and the split it was scored on) or that it was given.
	How string `json:"how"`
}

// FormatRate writes a learning rate briefly: 0.003 as "3e-03", 0.0005 as "5e-04".
func FormatRate(lr float64) string { return strconv.FormatFloat(lr, 'e', -1, 64) }

// writeLearningRates writes the Markdown section of r.LearningRates and r.Frontier, if any.
func (r *Report) writeLearningRates(ew *errWriter) {
	if len(r.LearningRates) > 0 {
		ew.printf("\n## Learning rates\n\n| family | rate | grid | how |\n| --- | ---: | --- | --- |\n")
		for _, lr := range r.LearningRates {
			grid := make([]string, len(lr.Grid))
			for i, g := range lr.Grid {
				grid[i] = FormatRate(g)
			}
			g := strings.Join(grid, ", ")
			if g == "" {
				g = "–"
			}
			ew.printf("| %s | %s | %s | %s |\n", mdEscape(lr.Family), FormatRate(lr.Rate), g, mdEscape(lr.How))
		}
	}
	if len(r.Frontier) > 0 {
		ew.printf("\n## Acquisition-retention frontier\n\nEach row is one learning rate; a method's rows, read " +
			"in order of acquisition, trace its frontier, and methods are compared at matched acquisition.\n\n" +
			"| training | method | learning rate | acquisition | retention | chosen |\n| --- | --- | ---: | ---: | ---: | --- |\n")
		for _, p := range r.Frontier {
			chosen := ""
			switch {
			case p.Chosen:
				chosen = "✓"
			case p.Failed != "":
				chosen = "failed: " + p.Failed
			}
			ew.printf("| %s | %s | %s | %s | %s | %s |\n", mdEscape(p.Training), mdEscape(p.Method), FormatRate(p.LearningRate),
				mdFloat(p.Acquisition), mdFloat(p.Retention), mdEscape(chosen))
		}
	}
}
