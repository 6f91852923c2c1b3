package plot_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	gplot "gonum.org/v1/plot"

	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/eval/plot"
)

// Draw the paper's bar chart of acquisition and retention for two methods and save it as a PNG.
func Example_barChart() {
	methods := []eval.MethodResult{
		{Method: "LoRA", Acquisition: 0.62, AcquisitionTrained: 0.9, Retention: 0.71},
		{Method: "FFT", Acquisition: 0.7, AcquisitionTrained: 0.95, Retention: 0.4},
	}
	p, err := plot.Bars("Acquisition and retention", methods)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "plot-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "bars.png")
	if err := plot.Save(p, path, 0, 0); err != nil { // 0, 0: 16 cm × 10 cm
		log.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(path), "is a PNG:", bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")))
	// Output: bars.png is a PNG: true
}

// Write a report and all its figures (bar chart, one heat map per accuracy matrix) into a directory.
func ExampleSaveReport() {
	m := eval.NewMatrix([]string{"facts", "math"}, []float64{0.1, 0.2}, 0.6)
	if err := m.AddRound([]float64{0.8, 0.2}, 0.55); err != nil {
		log.Fatal(err)
	}
	if err := m.AddRound([]float64{0.7, 0.9}, 0.5); err != nil {
		log.Fatal(err)
	}
	r := &eval.Report{Title: "Two rounds", Methods: []eval.MethodResult{eval.FromMatrix("LoRA sequential", "semi-cooperative", m)}}
	dir, err := os.MkdirTemp("", "plot-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := plot.SaveReport(r, dir); err != nil {
		log.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// acquisition_retention.png
	// matrix_LoRA-sequential.png
	// report.csv
	// report.json
	// report.md
}

// Draw how an interference measure goes with a loss, one series per merge method with its
// least-squares line, and save two such panels side by side as one figure.
func ExampleScatter() {
	cosine := []float64{-0.2, 0.1, 0.4, 0.8}
	avg := plot.ScatterSeries{Name: "average", X: cosine, Y: []float64{0.5, 0.4, 0.3, 0.1}, Fit: true}
	ties := plot.ScatterSeries{Name: "TIES", X: cosine, Y: []float64{0.45, 0.42, 0.2, 0.15}, Fit: true}
	left, err := plot.Scatter("loss vs cosine", "ΔW cosine", "score loss", []plot.ScatterSeries{avg, ties})
	if err != nil {
		log.Fatal(err)
	}
	right, err := plot.Scatter("TIES only", "ΔW cosine", "score loss", []plot.ScatterSeries{ties})
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "plot-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "interference.png")
	if err := plot.SaveGrid([][]*gplot.Plot{{left, right}}, path, 0, 0); err != nil { // 0, 0: 12 cm × 9 cm a panel
		log.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(path), "is a PNG:", bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")))
	// Output: interference.png is a PNG: true
}
