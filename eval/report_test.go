package eval

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// -plots=DIR keeps the test report's files in DIR to look at.
var plotsDir = flag.String("plots", "", "also save the test report into this directory")

func testReport() *Report {
	seq := withTrainedAndBPB()
	orth := example3()
	orth.R[2] = []float64{0.75, 0.85, 0.9}
	orth.Knowledge = []float64{0.61, 0.6, 0.6}
	return &Report{Title: "Three tasks, two methods", Methods: []MethodResult{
		FromMatrix("LoRA sequential", "semi-cooperative", seq),
		FromMatrix("O-LoRA λ=0.5", "semi-cooperative", orth),
		{Method: "FFT one round", Acquisition: 0.9, AcquisitionTrained: math.NaN(), Retention: 0.3, DeltaBPB: math.NaN()},
		{Method: "Joint | all", Setting: "fully-cooperative", Acquisition: 0.8, AcquisitionTrained: 0.95,
			Retention: math.NaN(), DeltaBPB: 0.01},
	}}
}

func TestFromMatrix(t *testing.T) {
	r := FromMatrix("m", "", example3())
	assert.InDelta(t, 2.15/3, r.Acquisition, 1e-12)
	assert.Equal(t, 0.5, r.Retention)
	assert.True(t, math.IsNaN(r.AcquisitionTrained))
	assert.True(t, math.IsNaN(r.DeltaBPB))

	r = FromMatrix("m", "", withTrainedAndBPB())
	assert.InDelta(t, 2.15/3, r.Acquisition, 1e-12)
	assert.InDelta(t, 2.5/3, r.AcquisitionTrained, 1e-12)
	assert.InDelta(t, 0.17, r.DeltaBPB, 1e-12)
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, testReport().WriteMarkdown(&b))
	md := b.String()
	assert.True(t, strings.HasPrefix(md, "# Three tasks, two methods\n"))
	assert.Contains(t, md, "| method | setting | acquisition (held-out) | acquisition (trained) | retention (base facts) | ΔBPB | ACC |")
	assert.Contains(t, md, "| LoRA sequential | semi-cooperative | 0.7167 | 0.8333 | 0.5000 | +0.1700 | 0.7167 | -0.2500 | 0.0500 | 0.2750 | 0.7972 | 3 |")
	assert.Contains(t, md, "| O-LoRA λ=0.5 | semi-cooperative | 0.8333 | – | 0.6000 | – | 0.8333 |")
	assert.Contains(t, md, "| FFT one round |  | 0.9000 | – | 0.3000 | – | – | – | – | – | – | – |")
	assert.Contains(t, md, `| Joint \| all | fully-cooperative | 0.8000 | 0.9500 | – | +0.0100 | – |`)
	assert.Contains(t, md, "## LoRA sequential: accuracy matrix\n")
	assert.Contains(t, md, "| after | t1 | t2 | t3 | base knowledge | bpb |")
	assert.Contains(t, md, "| base model | 0.1000 | 0.2000 | 0.1000 | 0.6200 | 1.2500 |")
	assert.Contains(t, md, "| 2: t2 | 0.8500 | 0.9000 | 0.3000 | 0.5500 | 1.3500 |")
	assert.Contains(t, md, "## LoRA sequential: accuracy matrix, trained phrasings")
	assert.Contains(t, md, "| 2: t2 | 0.9500 | 1.0000 | 0.3000 |\n")
	assert.Contains(t, md, "## O-LoRA λ=0.5: accuracy matrix")
	assert.NotContains(t, md, "## O-LoRA λ=0.5: accuracy matrix, trained phrasings")
	assert.Contains(t, md, "| 3: t3 | 0.7500 | 0.8500 | 0.9000 | 0.6000 |\n")
	assert.NotContains(t, md, "## FFT one round")
	assert.Contains(t, md, "divide by T−1")
	assert.Contains(t, md, "Acquisition (held-out): mean score on the new tasks on phrasings never trained on")
	assert.Contains(t, md, "ΔBPB: bits per byte on held-out general text")
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, testReport().WriteCSV(&b))
	recs, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 5)
	assert.Equal(t, []string{"method", "setting", "acquisition", "acquisition_trained", "retention", "delta_bpb",
		"acc", "bwt", "fwt", "forgetting", "avg_inc_acc", "rounds", "seeds",
		"acquisition_lo", "acquisition_hi", "acquisition_trained_lo", "acquisition_trained_hi", "retention_lo", "retention_hi",
		"delta_bpb_lo", "delta_bpb_hi", "acc_lo", "acc_hi", "bwt_lo", "bwt_hi", "fwt_lo", "fwt_hi", "forgetting_lo",
		"forgetting_hi", "avg_inc_acc_lo", "avg_inc_acc_hi"}, recs[0])
	assert.Equal(t, []string{"LoRA sequential", "semi-cooperative"}, recs[1][:2])
	for i, want := range []float64{2.15 / 3, 2.5 / 3, 0.5, 0.17, 2.15 / 3, -0.25, 0.05, 0.275, (0.8 + 0.875 + 2.15/3) / 3, 3} {
		got, err := strconv.ParseFloat(recs[1][2+i], 64)
		require.NoError(t, err)
		assert.InDelta(t, want, got, 1e-12, recs[0][2+i])
	}
	assert.Equal(t, []string{"FFT one round", "", "0.9", "", "0.3", "", "", "", "", "", "", "", "1"}, recs[3][:13])
	assert.Equal(t, make([]string, 18), recs[3][13:], "a single run has no intervals")
	assert.Equal(t, "Joint | all", recs[4][0])
	assert.Equal(t, "", recs[4][4])
}

func TestWriteJSONRoundTrip(t *testing.T) {
	r := testReport()
	var b bytes.Buffer
	require.NoError(t, r.WriteJSON(&b))
	assert.Contains(t, b.String(), `"retention": null`)
	assert.Contains(t, b.String(), `"acquisition_trained": null`)
	assert.Contains(t, b.String(), `"delta_bpb": 0.1699`)
	assert.Contains(t, b.String(), `"method": "O-LoRA λ=0.5"`)
	var back Report
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	require.Len(t, back.Methods, 4)
	assert.Equal(t, r.Title, back.Title)
	assert.Equal(t, r.Methods[0].Matrix, back.Methods[0].Matrix)
	assert.Equal(t, 0.9, back.Methods[2].Acquisition)
	assert.Equal(t, 0.3, back.Methods[2].Retention)
	assert.True(t, math.IsNaN(back.Methods[2].AcquisitionTrained))
	assert.True(t, math.IsNaN(back.Methods[2].DeltaBPB))
	assert.Nil(t, back.Methods[2].Matrix)
	assert.Equal(t, 0.95, back.Methods[3].AcquisitionTrained)
	assert.Equal(t, 0.01, back.Methods[3].DeltaBPB)
	assert.True(t, math.IsNaN(back.Methods[3].Retention))
	assert.InDelta(t, r.Methods[1].Acquisition, back.Methods[1].Acquisition, 0)
	assert.InDelta(t, r.Methods[0].AcquisitionTrained, back.Methods[0].AcquisitionTrained, 0)
	assert.InDelta(t, r.Methods[0].DeltaBPB, back.Methods[0].DeltaBPB, 0)

	// A report written before trained phrasings and bpb: they decode as NaN.
	var old MethodResult
	require.NoError(t, json.Unmarshal([]byte(`{"method":"x","acquisition":0.5,"retention":0.4}`), &old))
	assert.True(t, math.IsNaN(old.AcquisitionTrained))
	assert.True(t, math.IsNaN(old.DeltaBPB))
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	if *plotsDir != "" {
		dir = *plotsDir
	}
	require.NoError(t, testReport().Save(dir))
	for _, name := range []string{"report.md", "report.csv", "report.json"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Positive(t, fi.Size(), name)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	assert.Empty(t, pngs, "figures are package eval/plot's")
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	assert.Empty(t, leftovers)
}

func TestSaveEmptyReport(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, (&Report{}).Save(dir))
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	assert.Empty(t, pngs)
	b, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "# Results\n"))
}
