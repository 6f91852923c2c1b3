package plot

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func TestLeastSquares(t *testing.T) {
	for _, tc := range []struct {
		name   string
		xys    plotter.XYs
		a, b   float64
		lo, hi float64
		ok     bool
	}{
		{"exact line", plotter.XYs{{X: 0, Y: 1}, {X: 1, Y: 3}, {X: 3, Y: 7}}, 1, 2, 0, 3, true},
		// y = 0, 2, 1 at x = 0, 1, 2: slope Σ(x−1)(y−1)/Σ(x−1)² = (0·… + 1·0)/2 = 1/2, a = 1 − 1/2 = 1/2.
		{"noisy", plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 2}, {X: 2, Y: 1}}, 0.5, 0.5, 0, 2, true},
		{"one x", plotter.XYs{{X: 2, Y: 0}, {X: 2, Y: 1}}, 0, 0, 2, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, lo, hi, ok := leastSquares(tc.xys)
			require.Equal(t, tc.ok, ok)
			assert.Equal(t, []float64{tc.lo, tc.hi}, []float64{lo, hi})
			if ok {
				assert.InDelta(t, tc.a, a, 1e-12)
				assert.InDelta(t, tc.b, b, 1e-12)
			}
		})
	}
}

func TestScatter(t *testing.T) {
	p, err := Scatter("interference", "cosine", "loss", []ScatterSeries{
		{Name: "average", X: []float64{0, 0.5, 1}, Y: []float64{0.1, 0.2, 0.4}, Fit: true},
		{Name: "TIES", X: []float64{0.2, math.NaN(), 0.9}, Y: []float64{0, 1, 0.3}, Fit: true},
		{Name: "nothing finite", X: []float64{math.Inf(1)}, Y: []float64{0}},
	})
	require.NoError(t, err)
	dir := outDir(t)
	require.NoError(t, Save(p, filepath.Join(dir, "scatter.png"), 0, 0))

	_, err = Scatter("", "", "", []ScatterSeries{{X: []float64{1}, Y: []float64{1, 2}}})
	assert.ErrorContains(t, err, "1 x and 2 y values")
	_, err = Scatter("", "", "", []ScatterSeries{{X: []float64{math.NaN()}, Y: []float64{1}}})
	assert.ErrorContains(t, err, "no point with finite coordinates")
	_, err = Scatter("", "", "", nil)
	assert.Error(t, err)
}

func TestSaveGrid(t *testing.T) {
	mk := func(x float64) *gplot.Plot {
		p, err := Scatter("panel", "x", "y", []ScatterSeries{{Name: "s", X: []float64{0, x}, Y: []float64{0, 1}, Fit: true}})
		require.NoError(t, err)
		return p
	}
	dir := outDir(t)
	path := filepath.Join(dir, "grid.png")
	// A ragged grid: the second row's missing panel is left blank.
	require.NoError(t, SaveGrid([][]*gplot.Plot{{mk(1), mk(2), mk(3)}, {mk(4)}}, path, 30*vg.Centimeter, 0))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	assert.Greater(t, cfg.Width, cfg.Height, "30 cm wide, 2 × 9 cm high")
	require.NoError(t, SaveGrid([][]*gplot.Plot{{mk(1)}}, filepath.Join(dir, "grid.svg"), 0, 0))

	assert.ErrorContains(t, SaveGrid(nil, path, 0, 0), "no plots")
	assert.Error(t, SaveGrid([][]*gplot.Plot{{mk(1)}}, filepath.Join(dir, "grid.bmp"), 0, 0), "unknown format")
}
