package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ScatterSeries is one group of points of a Scatter plot, drawn in one colour and glyph.
type ScatterSeries struct {
	// Name labels the series in the legend; empty: no legend entry.
	Name string
	// X and Y are the points' coordinates, of equal length. A point with a NaN or infinite coordinate
	// is left out.
	X, Y []float64
	// Fit also draws the series' ordinary least-squares line y = a + b·x over the range of its X
	// (only where it has two points with distinct X). Zero: points only.
	Fit bool
}

// Scatter draws each series' points (x on the horizontal axis, y on the vertical) in its own colour
// and glyph, with its least-squares line when Fit is set, and a legend of the series' names. It
// computes nothing but the lines: correlations and their intervals belong in the series' names or
// the caller's report. It fails when no series has a point with finite coordinates, or when a series'
// X and Y differ in length.
func Scatter(title, xLabel, yLabel string, series []ScatterSeries) (*gplot.Plot, error) {
	p := gplot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.Add(plotter.NewGrid())
	drawn, named := 0, 0
	for k, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plot: Scatter: series %q has %d x and %d y values", s.Name, len(s.X), len(s.Y))
		}
		var xys plotter.XYs
		for i := range s.X {
			if finite(s.X[i]) && finite(s.Y[i]) {
				xys = append(xys, plotter.XY{X: s.X[i], Y: s.Y[i]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		drawn++
		c := frontierColor(k)
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("plot: Scatter: %w", err)
		}
		sc.Color, sc.Shape, sc.Radius = c, scatterGlyphs[k%len(scatterGlyphs)], vg.Points(3)
		p.Add(sc)
		thumbs := []gplot.Thumbnailer{sc}
		if s.Fit {
			if a, b, lo, hi, ok := leastSquares(xys); ok {
				l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: a + b*lo}, {X: hi, Y: a + b*hi}})
				if err != nil {
					return nil, fmt.Errorf("plot: Scatter: %w", err)
				}
				l.Color, l.Width = c, vg.Points(1)
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
				p.Add(l)
				thumbs = append(thumbs, l)
			}
		}
		if s.Name != "" {
			p.Legend.Add(s.Name, thumbs...)
			named++
		}
	}
	if drawn == 0 {
		return nil, fmt.Errorf("plot: Scatter: no point with finite coordinates")
	}
	// Margins, so that no point sits on an axis, and room above the points for the legend.
	dx, dy := p.X.Max-p.X.Min, p.Y.Max-p.Y.Min
	if dx == 0 {
		dx = 1
	}
	if dy == 0 {
		dy = 1
	}
	p.X.Min, p.X.Max = p.X.Min-0.04*dx, p.X.Max+0.04*dx
	p.Y.Min, p.Y.Max = p.Y.Min-0.04*dy, p.Y.Max+dy*(0.04+0.09*float64(named))
	p.Legend.Top = true
	return p, nil
}

var scatterGlyphs = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{},
	draw.RingGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}}

// leastSquares fits y = a + b·x to xys by ordinary least squares and returns the range of x; ok is
// false when the x values do not differ.
func leastSquares(xys plotter.XYs) (a, b, lo, hi float64, ok bool) {
	n := float64(len(xys))
	var mx, my float64
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range xys {
		mx += p.X / n
		my += p.Y / n
		lo, hi = min(lo, p.X), max(hi, p.X)
	}
	var sxx, sxy float64
	for _, p := range xys {
		sxx += (p.X - mx) * (p.X - mx)
		sxy += (p.X - mx) * (p.Y - my)
	}
	if !(sxx > 0) || !(hi > lo) {
		return 0, 0, lo, hi, false
	}
	b = sxy / sxx
	return my - b*mx, b, lo, hi, true
}

// SaveGrid writes plots as one figure, plots[r][c] in row r and column c, the panels aligned
// (gplot.Align) so that their axes line up, atomically as Save does: PNG, SVG or PDF by the path's
// extension. A nil panel is left blank. Zero width or height means 12 cm per column or 9 cm per row.
func SaveGrid(plots [][]*gplot.Plot, path string, width, height vg.Length) error {
	rows, cols := len(plots), 0
	for _, r := range plots {
		cols = max(cols, len(r))
	}
	if rows == 0 || cols == 0 {
		return fmt.Errorf("plot: saving %s: no plots", path)
	}
	grid := make([][]*gplot.Plot, rows)
	for i, r := range plots {
		grid[i] = make([]*gplot.Plot, cols) // Align wants every row as long
		copy(grid[i], r)
	}
	if width == 0 {
		width = vg.Length(cols) * 12 * vg.Centimeter
	}
	if height == 0 {
		height = vg.Length(rows) * 9 * vg.Centimeter
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	c, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return fmt.Errorf("plot: saving %s: %w", path, err)
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	dc := draw.New(c)
	dc.SetColor(color.White) // the padding between panels, which no panel paints
	dc.Fill(dc.Rectangle.Path())
	canvases := gplot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	return writeFileAtomic(path, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
