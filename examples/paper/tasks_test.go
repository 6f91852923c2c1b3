package main

import (
	"io"
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
	_, _, tmpl, err = loadTasks(options{})
	require.NoError(t, err)
	assert.Equal(t, eval.DefaultTemplate, tmpl, "the packs keep Q:/A:")
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
