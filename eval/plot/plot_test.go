package plot

import (
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/eval"
)

var plotsDir = flag.String("plots", "", "also save the test figures into this directory")

func outDir(t *testing.T) string {
	if *plotsDir != "" {
		return *plotsDir
	}
	return t.TempDir()
}

// example3 is three rounds of three tasks with a base row and knowledge scores.
func example3() *eval.Matrix {
	return &eval.Matrix{
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

// withTrainedAndBPB is example3 with trained-phrasing scores and bits per byte.
func withTrainedAndBPB() *eval.Matrix {
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

func testReport() *eval.Report {
	seq := withTrainedAndBPB()
	orth := example3()
	orth.R[2] = []float64{0.75, 0.85, 0.9}
	orth.Knowledge = []float64{0.61, 0.6, 0.6}
	return &eval.Report{Title: "Three tasks, two methods", Methods: []eval.MethodResult{
		eval.FromMatrix("LoRA sequential", "semi-cooperative", seq),
		eval.FromMatrix("O-LoRA λ=0.5", "semi-cooperative", orth),
		{Method: "FFT one round", Acquisition: 0.9, AcquisitionTrained: math.NaN(), Retention: 0.3, DeltaBPB: math.NaN()},
		{Method: "Joint | all", Setting: "fully-cooperative", Acquisition: 0.8, AcquisitionTrained: 0.95,
			Retention: math.NaN(), DeltaBPB: 0.01},
	}}
}

// seedRun is one seed of a two-round run; d shifts its scores.
func seedRun(t *testing.T, d float64) eval.MethodResult {
	t.Helper()
	m := eval.NewMatrix([]string{"a", "b"}, []float64{0.1, 0.1}, 0.6)
	require.NoError(t, m.AddRound([]float64{0.8 + d, 0.1}, 0.5+d))
	require.NoError(t, m.AddRound([]float64{0.6 + d, 0.9 + d}, 0.5+d))
	return eval.FromMatrix("LoRA sequential", "semi-cooperative", m)
}

func frontierPoints() []eval.FrontierPoint {
	nan := math.NaN()
	return []eval.FrontierPoint{
		{Method: "LoRA", Training: "one round", LearningRate: 1e-3, Acquisition: 0.2, Retention: 0.9},
		{Method: "LoRA", Training: "one round", LearningRate: 3e-3, Acquisition: 0.6, Retention: 0.85, Chosen: true},
		{Method: "LoRA", Training: "one round", LearningRate: 1e-2, Acquisition: 0.8, Retention: 0.5},
		{Method: "FFT", Training: "one round", LearningRate: 1e-4, Acquisition: 0.3, Retention: 0.8, Chosen: true},
		{Method: "FFT", Training: "one round", LearningRate: 1e-3, Acquisition: nan, Retention: nan, Failed: "loss not finite"},
		{Method: "LoRA", Training: "sequential, 3 rounds", LearningRate: 3e-3, Acquisition: 0.5, Retention: 0.7},
	}
}

// TestBarsErrorBarsAndZeroLabels: an aggregate draws error bars; a zero bar is labelled "0" and an
// unmeasured one "n/a".
func TestBarsErrorBarsAndZeroLabels(t *testing.T) {
	agg, err := eval.Aggregate([]eval.MethodResult{seedRun(t, 0), seedRun(t, 0.1), seedRun(t, 0.2)})
	require.NoError(t, err)
	zero := eval.MethodResult{Method: "nothing learned", Acquisition: 0, AcquisitionTrained: math.NaN(), Retention: math.NaN(),
		DeltaBPB: math.NaN()}
	svg := func(ms ...eval.MethodResult) string {
		p, err := Bars("bars", ms)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, p.Y.Max, 0.85+0.2484, "room for the upper error bar")
		path := filepath.Join(t.TempDir(), "bars.svg")
		require.NoError(t, Save(p, path, 0, 0))
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return string(b)
	}
	with := svg(agg, zero)
	zero.Acquisition, zero.Retention = 0.3, 0.4
	without := svg(agg, zero)
	assert.Equal(t, strings.Count(without, ">0<")+1, strings.Count(with, ">0<"), "the zero bar is labelled")
	assert.Contains(t, with, ">n/a<", "the unmeasured retention is labelled")
	assert.NotContains(t, without, ">n/a<")
}

func TestFrontier(t *testing.T) {
	p, err := Frontier("frontier", frontierPoints())
	require.NoError(t, err)
	require.NoError(t, Save(p, filepath.Join(outDir(t), "frontier.png"), 0, 0))
	_, err = Frontier("none", []eval.FrontierPoint{{Method: "x", Acquisition: math.NaN(), Retention: 0.5}})
	require.ErrorContains(t, err, "no point")
}

func TestMatrixGridShowsTrainedPhrasings(t *testing.T) {
	g := newMatrixGrid(withTrainedAndBPB())
	assert.Equal(t, []string{"t1", "t2", "t3", "knowledge"}, g.cols)
	assert.Equal(t, []string{"base\n1.250 bpb", "1: t1\n1.300 bpb", "2: t2\n1.350 bpb", "3: t3\n1.420 bpb"}, g.rows)
	require.Len(t, g.trained, 4)
	assert.Equal(t, []float64{0.95, 1.00, 0.30}, g.trained[2][:3])
	assert.True(t, math.IsNaN(g.trained[2][3]), "no trained phrasing for knowledge")
	assert.Equal(t, []float64{0.85, 0.90, 0.30, 0.55}, g.z[2])

	g = newMatrixGrid(example3())
	assert.Nil(t, g.trained)
	assert.Equal(t, "1: t1", g.rows[1])
}

func TestSaveReport(t *testing.T) {
	dir := outDir(t)
	require.NoError(t, SaveReport(testReport(), dir))
	for _, name := range []string{"report.md", "report.csv", "report.json"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), name)
	}
	for _, name := range []string{"acquisition_retention.png", "matrix_LoRA-sequential.png", "matrix_O-LoRA-0-5.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err, name)
		img, err := png.Decode(f)
		f.Close()
		require.NoError(t, err, name)
		assert.Greater(t, img.Bounds().Dx(), 300, name)
		assert.Greater(t, img.Bounds().Dy(), 200, name)
	}
	matrices, _ := filepath.Glob(filepath.Join(dir, "matrix_*.png"))
	assert.Len(t, matrices, 2) // one-round methods have no matrix
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	assert.Empty(t, leftovers)
}

func TestSaveEmptyReport(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, SaveReport(&eval.Report{}, dir))
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	assert.Empty(t, pngs)
	b, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "# Results\n"))
}

func TestErrors(t *testing.T) {
	_, err := Bars("x", nil)
	assert.ErrorContains(t, err, "no methods")
	_, err = Matrix("x", &eval.Matrix{Tasks: []string{"a"}})
	assert.ErrorContains(t, err, "no rows")
	_, err = Matrix("x", &eval.Matrix{Tasks: []string{"a"}, R: [][]float64{{1, 2}}})
	assert.ErrorContains(t, err, "R[0] has 2 scores")

	p, err := Bars("x", testReport().Methods)
	require.NoError(t, err)
	assert.ErrorContains(t, Save(p, filepath.Join(t.TempDir(), "x.doc"), 0, 0), "x.doc")
	svg := filepath.Join(t.TempDir(), "x.svg")
	require.NoError(t, Save(p, svg, 0, 0))
	b, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.Contains(t, string(b), "<svg")
}

func TestSlug(t *testing.T) {
	assert.Equal(t, "O-LoRA-0-5", slug("O-LoRA λ=0.5"))
	assert.Equal(t, "a-b", slug("  a / b  "))
	assert.Equal(t, "", slug("λ"))
}
