package plot

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/internal/atomicfile"
)

var (
	acquisitionColor = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	trainedColor     = color.RGBA{R: 0x9e, G: 0xc5, B: 0xe8, A: 0xff} // light blue
	retentionColor   = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
)

// Bars draws the paper's figure: for each method, a bar for acquisition (held-out phrasings), one
// for acquisition on the trained phrasings (when any method has it) and one for retention, side by
// side, on a 0–1 axis. A method aggregated over seeds (eval.MethodResult.Seeds) draws its means with 95%
// interval error bars. A bar of height zero is labelled "0" and an undefined value, which draws no
// bar, "n/a", so that the two can be told apart.
func Bars(title string, methods []eval.MethodResult) (*gplot.Plot, error) {
	if len(methods) == 0 {
		return nil, fmt.Errorf("plot: Bars: no methods")
	}
	p := gplot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.Y.Label.Text = "score"
	p.Y.Min, p.Y.Max = 0, 1
	acq := make(plotter.Values, len(methods))
	acqT := make(plotter.Values, len(methods))
	ret := make(plotter.Values, len(methods))
	names := make([]string, len(methods))
	withT := false
	marks := make([][]barMark, 3) // per series: the raw value and its interval
	for i, m := range methods {
		acq[i], acqT[i], ret[i] = zeroIfNaN(m.Acquisition), zeroIfNaN(m.AcquisitionTrained), zeroIfNaN(m.Retention)
		withT = withT || !math.IsNaN(m.AcquisitionTrained)
		p.Y.Max = max(p.Y.Max, acq[i], acqT[i], ret[i])
		names[i] = m.Method
		iv := m.Intervals()
		for k, c := range []struct {
			v    float64
			name string
		}{{m.Acquisition, "acquisition"}, {m.AcquisitionTrained, "acquisition_trained"}, {m.Retention, "retention"}} {
			mk := barMark{v: c.v, lo: math.NaN(), hi: math.NaN()}
			if in, ok := iv[c.name]; ok && !math.IsNaN(in.Lo) {
				mk.lo, mk.hi = in.Lo, in.Hi
				p.Y.Max = max(p.Y.Max, in.Hi)
			}
			marks[k] = append(marks[k], mk)
		}
	}
	p.Y.Max *= 1.18 // room for the legend above the bars
	if withT {
		p.Y.Max *= 1.1 // a third legend line
	}
	p.Y.Min = min(p.Y.Min, minOf(acq), minOf(acqT), minOf(ret))
	p.Add(plotter.NewGrid()) // first, so the bars cover it
	type series struct {
		name string
		vs   plotter.Values
		c    color.Color
	}
	all := []series{{"acquisition (new tasks, held-out phrasings)", acq, acquisitionColor}}
	allMarks := [][]barMark{marks[0]}
	if withT {
		all = append(all, series{"acquisition (new tasks, trained phrasings)", acqT, trainedColor})
		allMarks = append(allMarks, marks[1])
	}
	all = append(all, series{"retention (base knowledge)", ret, retentionColor})
	allMarks = append(allMarks, marks[2])
	w := vg.Points(36 / float64(len(all)))
	labelFont := p.X.Tick.Label
	labelFont.XAlign, labelFont.YAlign = draw.XCenter, draw.YBottom
	for k, s := range all {
		b, err := plotter.NewBarChart(s.vs, w)
		if err != nil {
			return nil, fmt.Errorf("plot: Bars: %w", err)
		}
		b.Color = s.c
		b.LineStyle.Width = 0
		b.Offset = w * vg.Length(2*k-len(all)+1) / 2
		p.Add(b)
		p.Legend.Add(s.name, b)
		p.Add(&barMarks{marks: allMarks[k], offset: b.Offset, width: w, label: labelFont})
	}
	p.Legend.Top = true
	p.Legend.Left = false
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(methods))-0.4 // room for the offset bars at both ends
	p.X.Label.Text = "method"
	if len(methods) > 4 || longest(names) > 14 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop
	}
	return p, nil
}

// barMark is what barMarks draws on one bar: its value (NaN: not measured) and its interval (NaN:
// none).
type barMark struct{ v, lo, hi float64 }

// barMarks is a gplot.Plotter that draws, over one series of a bar chart, the error bar of each bar
// with an interval and the label "0" over a bar of height zero or "n/a" where no value was measured.
type barMarks struct {
	marks  []barMark
	offset vg.Length
	width  vg.Length
	label  text.Style
}

// Plot implements gplot.Plotter.
func (b *barMarks) Plot(c draw.Canvas, plt *gplot.Plot) {
	trX, trY := plt.Transforms(&c)
	ls := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	capW := b.width / 3
	for i, m := range b.marks {
		x := trX(float64(i)) + b.offset
		if !math.IsNaN(m.lo) && !math.IsNaN(m.hi) {
			lo, hi := trY(m.lo), trY(m.hi)
			c.StrokeLine2(ls, x, lo, x, hi)
			c.StrokeLine2(ls, x-capW, lo, x+capW, lo)
			c.StrokeLine2(ls, x-capW, hi, x+capW, hi)
		}
		var lbl string
		switch {
		case math.IsNaN(m.v) || math.IsInf(m.v, 0):
			lbl = "n/a"
		case m.v == 0:
			lbl = "0"
		default:
			continue
		}
		c.FillText(b.label, vg.Point{X: x, Y: trY(0) + vg.Points(2)}, lbl)
	}
}

// Matrix draws m as a heat map, one row per round (top to bottom) under a "base" row when Base is
// set, one column per task plus a "knowledge" column when Knowledge is set, every cell annotated with
// its value and, when m.Trained is set, under it in brackets the trained-phrasing score. Colours show
// R (held-out phrasings) and span 0–1 (or the data's range if wider); undefined cells are grey and
// marked "–". Bits per byte on general text, when measured, follow each row's label.
func Matrix(title string, m *eval.Matrix) (*gplot.Plot, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if len(m.R) == 0 {
		return nil, fmt.Errorf("plot: Matrix: matrix has no rows")
	}
	g := newMatrixGrid(m)
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return nil, fmt.Errorf("plot: Matrix: %w", err)
	}
	lo, hi := 0.0, 1.0
	for _, row := range g.z {
		for _, v := range row {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	h := plotter.NewHeatMap(g, pal)
	h.Min, h.Max = lo, hi
	h.NaN = color.Gray{Y: 0xd0}

	p := gplot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.Add(h)
	var labels plotter.XYLabels
	var styles []text.Style
	base := text.Style{Font: p.X.Tick.Label.Font, Handler: p.X.Tick.Label.Handler,
		XAlign: draw.XCenter, YAlign: draw.YCenter}
	for r := range g.rows {
		for c := range g.cols {
			v := g.z[r][c]
			s := base
			s.Color = color.Black
			lbl := "–"
			if !math.IsNaN(v) {
				lbl = fmt.Sprintf("%.2f", v)
				if (v-lo)/(hi-lo) >= 0.5 { // dark half of the palette
					s.Color = color.White
				}
			}
			if g.trained != nil {
				if tv := g.trained[r][c]; !math.IsNaN(tv) {
					lbl += fmt.Sprintf("\n(%.2f)", tv)
				}
			}
			labels.XYs = append(labels.XYs, plotter.XY{X: g.X(c), Y: g.Y(r)})
			labels.Labels = append(labels.Labels, lbl)
			styles = append(styles, s)
		}
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("plot: Matrix: %w", err)
	}
	l.TextStyle = styles
	p.Add(l)

	xt := make([]gplot.Tick, len(g.cols))
	for c, name := range g.cols {
		xt[c] = gplot.Tick{Value: g.X(c), Label: name}
	}
	yt := make([]gplot.Tick, len(g.rows))
	for r, name := range g.rows {
		yt[r] = gplot.Tick{Value: g.Y(r), Label: name}
	}
	p.X.Tick.Marker = gplot.ConstantTicks(xt)
	p.Y.Tick.Marker = gplot.ConstantTicks(yt)
	p.X.Label.Text = "scored on task"
	if g.trained != nil {
		p.X.Label.Text = "scored on task: held-out phrasings (trained phrasing)"
	}
	p.Y.Label.Text = "after round"
	p.X.Min, p.X.Max = -0.5, float64(len(g.cols))-0.5
	p.Y.Min, p.Y.Max = -float64(len(g.rows))+0.5, 0.5
	if len(g.cols) > 4 || longest(g.cols) > 10 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YTop
	}
	return p, nil
}

// matrixGrid is an eval.Matrix laid out for plotter.HeatMap: row r is drawn at y = −r so the first round is
// on top. trained, when set, holds the trained-phrasing scores in the same layout (NaN where none).
type matrixGrid struct {
	rows, cols []string
	z, trained [][]float64
}

func newMatrixGrid(m *eval.Matrix) *matrixGrid {
	g := &matrixGrid{cols: append([]string(nil), m.Tasks...)}
	withK := m.Knowledge != nil
	if withK {
		g.cols = append(g.cols, "knowledge")
	}
	row := func(scores []float64, k float64) []float64 {
		out := make([]float64, len(m.Tasks))
		for j := range out {
			out[j] = at(scores, j)
		}
		if withK {
			out = append(out, k)
		}
		return out
	}
	label := func(name string, bpb float64) string {
		if m.BPB == nil || math.IsNaN(bpb) {
			return name
		}
		return fmt.Sprintf("%s\n%.3f bpb", name, bpb)
	}
	withT := m.Trained != nil
	if m.Base != nil || (withT && m.BaseTrained != nil) {
		g.rows = append(g.rows, label("base", m.BaseBPB))
		g.z = append(g.z, row(m.Base, m.BaseKnowledge))
		if withT {
			g.trained = append(g.trained, row(m.BaseTrained, math.NaN()))
		}
	}
	for i, r := range m.R {
		g.rows = append(g.rows, label(fmt.Sprintf("%d: %s", i+1, m.Tasks[i]), at(m.BPB, i)))
		g.z = append(g.z, row(r, at(m.Knowledge, i)))
		if withT {
			g.trained = append(g.trained, row(m.Trained[i], math.NaN()))
		}
	}
	return g
}

func (g *matrixGrid) Dims() (c, r int)   { return len(g.cols), len(g.rows) }
func (g *matrixGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g *matrixGrid) X(c int) float64    { return float64(c) }
func (g *matrixGrid) Y(r int) float64    { return -float64(r) }

// Save writes p to path atomically, as PNG, SVG or PDF by the path's extension; zero width or
// height means 16 cm or 10 cm.
func Save(p *gplot.Plot, path string, width, height vg.Length) error {
	if width == 0 {
		width = 16 * vg.Centimeter
	}
	if height == 0 {
		height = 10 * vg.Centimeter
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	wt, err := p.WriterTo(width, height, format)
	if err != nil {
		return fmt.Errorf("plot: saving %s: %w", path, err)
	}
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

// SaveReport writes r into dir as r.Save does (report.md, report.csv, report.json), then its figures,
// each atomically: the grouped bar chart acquisition_retention.png of Bars (when there are methods) and
// Matrix's heat map matrix_NAME.png for each method with a matrix, NAME being the method name reduced
// to letters, digits and '-' (a method whose name reduces to nothing, or to the name of an earlier
// one, is numbered instead: matrix_3.png).
func SaveReport(r *eval.Report, dir string) error {
	if err := r.Save(dir); err != nil {
		return err
	}
	if len(r.Methods) == 0 {
		return nil
	}
	p, err := Bars(cmp.Or(r.Title, "Results"), r.Methods)
	if err != nil {
		return err
	}
	if err := Save(p, filepath.Join(dir, "acquisition_retention.png"), barWidth(len(r.Methods)), 0); err != nil {
		return err
	}
	used := map[string]bool{}
	for i, mr := range r.Methods {
		if mr.Matrix == nil || len(mr.Matrix.R) == 0 {
			continue
		}
		name := slug(mr.Method)
		if name == "" || used[name] {
			name = strconv.Itoa(i + 1)
		}
		used[name] = true
		p, err := Matrix(mr.Method+": accuracy matrix", mr.Matrix)
		if err != nil {
			return err
		}
		w, h := matrixSize(mr.Matrix)
		if err := Save(p, filepath.Join(dir, "matrix_"+name+".png"), w, h); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes path through write atomically (see atomicfile.Write): a reader never sees a
// partial file, and a failed write leaves the old one in place.
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("plot: writing %s: %w", path, err)
	}
	return nil
}

// slug keeps letters, digits and '-' of s, mapping runs of anything else to one '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// at returns xs[i], or NaN outside xs.
func at(xs []float64, i int) float64 {
	if i < 0 || i >= len(xs) {
		return math.NaN()
	}
	return xs[i]
}

func barWidth(methods int) vg.Length {
	return max(16*vg.Centimeter, vg.Length(methods)*2.2*vg.Centimeter)
}

func matrixSize(m *eval.Matrix) (w, h vg.Length) {
	cols, rows := len(m.Tasks)+1, len(m.R)+1
	rowHeight := 1.3 * vg.Centimeter
	if m.Trained != nil || m.BPB != nil { // two lines per cell or row label
		rowHeight = 1.7 * vg.Centimeter
	}
	return max(14*vg.Centimeter, vg.Length(cols)*2.2*vg.Centimeter+5*vg.Centimeter),
		max(9*vg.Centimeter, vg.Length(rows)*rowHeight+4*vg.Centimeter)
}

func zeroIfNaN(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

func minOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func longest(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len([]rune(s)))
	}
	return n
}
