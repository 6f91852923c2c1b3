package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/accrete/accrete/eval"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadTasksTemplate(t *testing.T) {
	tasks, knowledge, tmpl, err := loadTasks(options{tasksDir: "../../eval/testdata/paper"})
	require.NoError(t, err)
	assert.Equal(t, eval.PaperTemplate, tmpl, "the paper's data gets the paper's prompting")
	var names []string
	for _, tk := range tasks {
		names = append(names, tk.Name)
	}
	assert.Equal(t, []string{"C-STANCE", "Py150", "20Minuten", "MetaMathQA"}, names)
	assert.Len(t, knowledge, 6, "gsm8k and the five multiple-choice suites are scored only")

	dir := t.TempDir()
	require.NoError(t, eval.WriteTasks(dir, []eval.Task{{Name: "x", Metric: eval.ExactMatch, Train: []eval.Example{{Prompt: "p", Answer: "a"}}}}))
	_, _, tmpl, err = loadTasks(options{tasksDir: dir})
	require.NoError(t, err)
	assert.Equal(t, eval.DefaultTemplate, tmpl, "a manifest keeps Q:/A:")
	_, knowledge, tmpl, err = loadTasks(options{})
	require.NoError(t, err)
	assert.Equal(t, eval.DefaultTemplate, tmpl, "the packs keep Q:/A:")
	require.Len(t, knowledge, 1)
	assert.Equal(t, eval.DefaultTemplate, knowledge[0].Template, "the base model's facts keep the template it learnt them in")
}

// TestRetentionReadsTheSameInPaperRuns: the shipped model's own facts are scored in the "Q:/A:"
// template it learnt them in, also in a run over a TRACE-layout folder, whose rounds train in the
// paper's template; so the base model's retention score is the same (non-zero) there as in a run over
// the packs. Before, it read 0.000 in every TRACE-layout run.
func TestRetentionReadsTheSameInPaperRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a round on the shipped model in each of two runs")
	}
	dir := t.TempDir()
	for _, ds := range []string{"C-STANCE", "FOMC"} {
		var items []map[string]string
		for i := range 4 {
			items = append(items, map[string]string{"prompt": fmt.Sprintf("%s item %d? A. yes B. no\nAnswer:", ds, i), "answer": "AB"[i%2 : i%2+1]})
		}
		b, err := json.Marshal(items)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ds), 0o755))
		for _, split := range []string{"train", "eval", "test"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, ds, split+".json"), b, 0o644))
		}
	}
	baseKnowledge := func(args ...string) float64 {
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		args = append(args, "-methods", "seq-lora", "-seq-rounds", "1", "-seeds", "1", "-epochs", "1", "-min-steps", "0",
			"-limit", "4", "-knowledge", "4", "-bpb-docs", "0", "-lr-grid=false", "-quiet", "-out", out)
		require.Equal(t, 0, run(context.Background(), args, &stdout, &stderr), stderr.String())
		b, err := os.ReadFile(filepath.Join(out, "report.json"))
		require.NoError(t, err)
		var r struct {
			Methods []struct {
				Matrix struct {
					BaseKnowledge float64 `json:"base_knowledge"`
				} `json:"matrix"`
			} `json:"methods"`
		}
		require.NoError(t, json.Unmarshal(b, &r))
		require.Len(t, r.Methods, 1)
		return r.Methods[0].Matrix.BaseKnowledge
	}
	packsRun := baseKnowledge()
	paperRun := baseKnowledge("-tasks", dir)
	t.Logf("base model's retention score: %.3f over the packs, %.3f over a TRACE-layout folder", packsRun, paperRun)
	require.Greater(t, packsRun, 0.0)
	require.Equal(t, packsRun, paperRun)
}

func TestTaskMetricsFlag(t *testing.T) {
	o, err := parse([]string{"-tasks", "../../eval/testdata/paper", "-task-metrics", "Py150=rouge_l,20Minuten=exact_match"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, map[string]eval.Metric{"Py150": eval.RougeL, "20Minuten": eval.ExactMatch}, o.taskMetrics)
	tasks, _, _, err := loadTasks(o)
	require.NoError(t, err)
	assert.Equal(t, eval.RougeL, tasks[1].Metric)
	assert.Equal(t, eval.ExactMatch, tasks[2].Metric)

	for _, bad := range []string{"Py150", "Py150=bleu", "=sari"} {
		_, err := parse([]string{"-task-metrics", bad}, io.Discard)
		assert.ErrorContains(t, err, "-task-metrics", bad)
	}
	o, err = parse([]string{"-tasks", "../../eval/testdata/paper", "-task-metrics", "nope=sari"}, io.Discard)
	require.NoError(t, err)
	_, _, _, err = loadTasks(o)
	assert.ErrorContains(t, err, `"nope"`)
}
