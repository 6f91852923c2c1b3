package plot

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/accrete/accrete/eval"
)

// Frontier draws acquisition-retention frontiers: acquisition on x, retention on y, one line per
// method and training (points joined in order of learning rate, each labelled with its rate, the
// chosen one drawn larger). Points without both scores are left out; a line with none is not drawn.
func Frontier(title string, points []eval.FrontierPoint) (*gplot.Plot, error) {
	type key struct{ method, training string }
	var keys []key
	lines := map[key][]eval.FrontierPoint{}
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
		return nil, fmt.Errorf("plot: Frontier: no point has both acquisition and retention")
	}
	p := gplot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = "acquisition (new knowledge, held-out phrasings)"
	p.Y.Label.Text = "retention (base knowledge)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	trainings := map[string]int{}
	for i, k := range keys {
		pts := slices.SortedFunc(slices.Values(lines[k]), func(a, b eval.FrontierPoint) int { return cmp.Compare(a.LearningRate, b.LearningRate) })
		xys := make(plotter.XYs, len(pts))
		labels := make([]string, len(pts))
		for j, pt := range pts {
			xys[j].X, xys[j].Y = pt.Acquisition, pt.Retention
			labels[j] = eval.FormatRate(pt.LearningRate)
			p.X.Min, p.X.Max = min(p.X.Min, pt.Acquisition), max(p.X.Max, pt.Acquisition)
			p.Y.Min, p.Y.Max = min(p.Y.Min, pt.Retention), max(p.Y.Max, pt.Retention)
		}
		line, scatter, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: Frontier: %w", err)
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
				return nil, fmt.Errorf("plot: Frontier: %w", err)
			}
			s.Color, s.Shape, s.Radius = c, draw.RingGlyph{}, vg.Points(6)
			p.Add(s)
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("plot: Frontier: %w", err)
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
	// The legend goes above the data, in a band of its own over retention's top (1 at most for scores):
	// sequential runs end in any corner, so no corner of the data is free for it.
	top := p.Y.Max
	p.Y.Max = top + 0.05 + 0.055*float64(len(keys))
	p.Y.Tick.Marker = ticksUpTo{gplot.DefaultTicks{}, top}
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// ticksUpTo marks the axis as if it ended at max: the band above it holds the legend, not values.
type ticksUpTo struct {
	gplot.Ticker
	max float64
}

func (t ticksUpTo) Ticks(lo, hi float64) []gplot.Tick { return t.Ticker.Ticks(lo, min(hi, t.max)) }

var frontierPalette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
}

func frontierColor(i int) color.Color { return frontierPalette[i%len(frontierPalette)] }
