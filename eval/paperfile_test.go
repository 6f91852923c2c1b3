package eval

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadTaskDirPaper(t *testing.T) {
	d, err := ReadTaskDir("testdata/paper", ReadOptions{})
	require.NoError(t, err)
	assert.Equal(t, PaperLayout, d.Layout)
	assert.Equal(t, PaperTemplate, d.Template())
	byName := map[string]Task{}
	var names []string
	for _, tk := range d.Tasks {
		names = append(names, tk.Name)
		byName[tk.Name] = tk
	}
	assert.Equal(t, []string{"C-STANCE", "Py150", "20Minuten", "MetaMathQA",
		"arc_challenge", "gsm8k", "hellaswag", "openbookqa", "piqa", "winogrande"}, names, "paper order, then by name")
	for name, want := range map[string]Metric{"C-STANCE": FirstChar, "Py150": EditSim, "20Minuten": SARI,
		"MetaMathQA": NumericMatch, "gsm8k": NumericMatch, "arc_challenge": MultipleChoice, "winogrande": MultipleChoice} {
		assert.Equal(t, want, byName[name].Metric, name)
	}
	cs := byName["C-STANCE"]
	require.Len(t, cs.Train, 2)
	assert.Contains(t, cs.Test[0].Prompt, "test 0", "scored on test.json, not eval.json")
	assert.Equal(t, "A", cs.Train[0].Answer)

	mm := byName["MetaMathQA"]
	assert.Equal(t, AlpacaPrompt("What is 2 + 3?", ""), mm.Train[0].Prompt)
	assert.Equal(t, AlpacaPrompt("Add the numbers.", "4 and 7"), mm.Train[1].Prompt)
	assert.Len(t, mm.Test, 2, "a trained file is scored on its items")

	gsm := byName["gsm8k"]
	assert.Empty(t, gsm.Train, "GSM8K questions are scored only")
	assert.Equal(t, AlpacaPrompt("Tom has 3 apples and buys 2. How many?", ""), gsm.Test[0].Prompt)

	for name, want := range map[string]Example{
		"arc_challenge": {ID: "arc-1", Prompt: "Question: Which is a gas?\nAnswer:", Answer: "steam", Choices: []string{"ice", "steam", "rock"}},
		"openbookqa":    {ID: "obqa-1", Prompt: "The sun is a", Answer: "star", Choices: []string{"star", "planet"}},
		"hellaswag":     {Prompt: "Sitting: A man sits on a bench. He", Answer: "reads a. book.", Choices: []string{"reads a. book.", "flies away."}},
		"piqa":          {Prompt: "Question: Open a jar\nAnswer:", Answer: "twist the lid", Choices: []string{"twist the lid", "eat the lid"}},
		"winogrande": {Prompt: "The cup fell off the table because", Answer: "the cup was slippery.",
			Choices: []string{"the cup was slippery.", "the table was slippery."}},
	} {
		require.Len(t, byName[name].Test, 1, name)
		assert.Equal(t, want, byName[name].Test[0], name)
		assert.Empty(t, byName[name].Train, name)
	}

	d, err = ReadTaskDir("testdata/paper", ReadOptions{Metrics: map[string]Metric{"Py150": RougeL}})
	require.NoError(t, err)
	assert.Equal(t, RougeL, d.Tasks[1].Metric, "overridden")
	_, err = ReadTaskDir("testdata/paper", ReadOptions{Metrics: map[string]Metric{"nope": RougeL}})
	assert.ErrorContains(t, err, `"nope"`)
	_, err = ReadTaskDir("testdata/paper", ReadOptions{Metrics: map[string]Metric{"Py150": "bleu"}})
	assert.ErrorIs(t, err, ErrUnknownMetric)

	tasks, err := ReadTasks("testdata/paper")
	require.NoError(t, err)
	assert.Len(t, tasks, 10, "ReadTasks chooses the reader")
}

func TestReadTaskDirManifestLayout(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteTasks(dir, []Task{{Name: "x", Metric: ExactMatch, Train: []Example{{Prompt: "p", Answer: "a"}}}}))
	d, err := ReadTaskDir(dir, ReadOptions{Metrics: map[string]Metric{"x": RougeL}})
	require.NoError(t, err)
	assert.Equal(t, ManifestLayout, d.Layout)
	assert.Equal(t, DefaultTemplate, d.Template())
	assert.Equal(t, RougeL, d.Tasks[0].Metric)
}

func TestReadTaskDirPaperErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, body string
		want             []string // in the error
	}{
		{"array element field", "FOMC/train.json", `[{"prompt":"p","answer":"A"},{"prompt":"q","answer":3}]`,
			[]string{"FOMC/train.json:2", `field "answer"`}},
		{"empty answer", "FOMC/train.json", `[{"prompt":"p","answer":" "}]`, []string{"train.json:1", `field "answer"`, "empty"}},
		{"jsonl line", "mm.jsonl", "{\"query\":\"q\",\"response\":\"r\"}\n\n{\"query\":\"q\"\n", []string{"mm.jsonl:3"}},
		{"gsm8k without ####", "gsm8k.jsonl", `{"question":"q","answer":"5"}`, []string{"gsm8k.jsonl:1", `field "answer"`, "####"}},
		{"answerKey not a label", "arc.jsonl", `{"question":"q","choices":{"text":["a"],"label":["A"]},"answerKey":"Z"}`,
			[]string{"arc.jsonl:1", `field "answerKey"`}},
		{"winogrande answer out of range", "wino.jsonl", `{"sentence":"a _ b","option1":"x","option2":"y","answer":"3"}`,
			[]string{"wino.jsonl:1", `field "answer"`, "not one of the choices"}},
		{"unknown layout", "x.json", `[{"foo":"bar"}]`, []string{"x.json:1", "unknown record layout", `"foo"`}},
		{"not an array", "x.json", `[{"prompt":"p",`, []string{"x.json", "not a JSON array"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, tc.file)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(tc.body), 0o644))
			_, err := ReadTaskDir(dir, ReadOptions{})
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
	var ee *ExampleError
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.json"), []byte(`[{"prompt":"","answer":"x"}]`), 0o644))
	_, err := ReadTaskDir(dir, ReadOptions{})
	require.True(t, errors.As(err, &ee))
	assert.Equal(t, "prompt", ee.Field)
	assert.ErrorIs(t, err, ErrEmptyField)
}
