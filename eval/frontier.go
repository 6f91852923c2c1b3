package eval

import (
	"cmp"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
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

// PlotFrontier draws acquisition-retention frontiers: acquisition on x, retention on y, one line per
// method and training (points joined in order of learning rate, each labelled with its rate, the
// chosen one drawn larger). Points without both scores are left out; a line with none is not drawn.
func PlotFrontier(title string, points []FrontierPoint) (*plot.Plot, error) {
	type key struct{ method, training string }
	var keys []key
	lines := map[key][]FrontierPoint{}
	for _, pt := range points {
		if math.IsNaN(pt.Acquisition) || math.IsNaN(pt.Retention) || math.IsInf(pt.Acquisition, 0) || math.IsInf(pt.Retention, 0) {
			continue
		}
		k := key{pt.Method, pt.Training}
		if _, ok := lines[k]; !ok {
			keys = append(keys, k)
		}
		lines[k] = append(lines[k], pt)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("eval: PlotFrontier: no point has both acquisition and retention")
	}
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = "acquisition (new knowledge, held-out phrasings)"
	p.Y.Label.Text = "retention (base knowledge)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	trainings := map[string]int{}
	for i, k := range keys {
		pts := slices.SortedFunc(slices.Values(lines[k]), func(a, b FrontierPoint) int { return cmp.Compare(a.LearningRate, b.LearningRate) })
		xys := make(plotter.XYs, len(pts))
		labels := make([]string, len(pts))
		for j, pt := range pts {
			xys[j].X, xys[j].Y = pt.Acquisition, pt.Retention
			labels[j] = FormatRate(pt.LearningRate)
			p.X.Min, p.X.Max = min(p.X.Min, pt.Acquisition), max(p.X.Max, pt.Acquisition)
			p.Y.Min, p.Y.Max = min(p.Y.Min, pt.Retention), max(p.Y.Max, pt.Retention)
		}
		line, scatter, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("eval: PlotFrontier: %w", err)
		}
		c := frontierColor(i)
		line.Color = c
		if _, ok := trainings[k.training]; !ok {
			trainings[k.training] = len(trainings)
		}
		if trainings[k.training] > 0 { // a second kind of training (sequential) is dashed
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		scatter.Color = c
		scatter.Shape = draw.CircleGlyph{}
		p.Add(line, scatter)
		var chosen plotter.XYs
		for _, pt := range pts {
			if pt.Chosen {
				chosen = append(chosen, plotter.XY{X: pt.Acquisition, Y: pt.Retention})
			}
		}
		if len(chosen) > 0 {
			s, err := plotter.NewScatter(chosen)
			if err != nil {
				return nil, fmt.Errorf("eval: PlotFrontier: %w", err)
			}
			s.Color, s.Shape, s.Radius = c, draw.RingGlyph{}, vg.Points(6)
			p.Add(s)
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("eval: PlotFrontier: %w", err)
		}
		for j := range lb.TextStyle {
			lb.TextStyle[j].Color = c
			lb.TextStyle[j].Font.Size = vg.Points(8)
		}
		lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(3)}
		p.Add(lb)
		name := k.method
		if k.training != "" {
			name += " (" + k.training + ")"
		}
		p.Legend.Add(name, line, scatter)
	}
	p.X.Max += 0.08 // room for the labels right of the points
	p.Y.Max += 0.05
	// Bottom left is the corner a frontier avoids: it learns nothing and forgets.
	p.Legend.Top, p.Legend.Left = false, true
	return p, nil
}

var frontierPalette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
}

func frontierColor(i int) color.Color { return frontierPalette[i%len(frontierPalette)] }
