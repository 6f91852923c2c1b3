package eval

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func exampleErrors(t *testing.T, err error) []*ExampleError {
	t.Helper()
	require.Error(t, err)
	var out []*ExampleError
	var walk func(error)
	walk = func(err error) {
		if ee, ok := err.(*ExampleError); ok {
			out = append(out, ee)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func TestReadExamples(t *testing.T) {
	in := "\xef\xbb\xbf" + `{"id":"fr","prompt":"Capital of France?","answer":"Paris","phrasings":["Name France's capital."],` +
		`"paraphrases":["France's capital?"],"novel":["Flying to France's capital, you land where?"]}` + "\n\n" +
		`{"id":"mc","prompt":"Sky?","answer":"blue","choices":["blue","red"]}` + "\n" +
		`   ` + "\n" +
		`{"prompt":"no id","answer":"fine"}` // no final newline
	exs, err := ReadExamples(strings.NewReader(in), "x.jsonl")
	require.NoError(t, err)
	assert.Equal(t, []Example{
		{ID: "fr", Prompt: "Capital of France?", Answer: "Paris", Phrasings: []string{"Name France's capital."},
			Paraphrases: []string{"France's capital?"}, Novel: []string{"Flying to France's capital, you land where?"}},
		{ID: "mc", Prompt: "Sky?", Answer: "blue", Choices: []string{"blue", "red"}},
		{Prompt: "no id", Answer: "fine"},
	}, exs)
}

func TestReadExamplesErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		line  string
		field string
		is    error
		msg   string
	}{
		{"syntax", `{"id":"a","prompt":`, "", nil, "unexpected EOF"},
		{"not an object", `["a"]`, "", nil, "cannot unmarshal array"},
		{"wrong type", `{"id":"a","prompt":"p","answer":42}`, "answer", nil, "cannot unmarshal number"},
		{"unknown field", `{"id":"a","prompt":"p","anwser":"x"}`, "anwser", nil, "unknown field"},
		{"two values", `{"prompt":"p","answer":"a"} {}`, "", nil, "more than one JSON value"},
		{"empty prompt", `{"id":"a","prompt":"  ","answer":"x"}`, "prompt", ErrEmptyField, ""},
		{"empty answer", `{"id":"a","prompt":"p","answer":""}`, "answer", ErrEmptyField, ""},
		{"missing answer", `{"id":"a","prompt":"p"}`, "answer", ErrEmptyField, ""},
		{"empty paraphrase", `{"id":"a","prompt":"p","answer":"x","paraphrases":["q",""]}`, "paraphrases[1]", ErrEmptyField, ""},
		{"empty phrasing", `{"id":"a","prompt":"p","answer":"x","phrasings":[""]}`, "phrasings[0]", ErrEmptyField, ""},
		{"empty novel", `{"id":"a","prompt":"p","answer":"x","novel":["q","r"," "]}`, "novel[2]", ErrEmptyField, ""},
		{"empty choice", `{"id":"a","prompt":"p","answer":"x","choices":["x"," "]}`, "choices[1]", ErrEmptyField, ""},
		{"answer not in choices", `{"id":"a","prompt":"p","answer":"x","choices":["y","z"]}`, "choices", ErrAnswerNotInChoices, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"id":"ok","prompt":"p","answer":"a"}` + "\n" + tc.line + "\n"
			_, err := ReadExamples(strings.NewReader(in), "data/x.jsonl")
			ees := exampleErrors(t, err)
			require.Len(t, ees, 1, "%v", err)
			ee := ees[0]
			assert.Equal(t, "data/x.jsonl", ee.File)
			assert.Equal(t, 2, ee.Line)
			assert.Equal(t, tc.field, ee.Field)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Contains(t, err.Error(), "data/x.jsonl:2")
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestReadExamplesDuplicateID(t *testing.T) {
	in := `{"id":"a","prompt":"p","answer":"x"}
{"id":"b","prompt":"p","answer":"x"}
{"id":"a","prompt":"q","answer":"y"}
`
	_, err := ReadExamples(strings.NewReader(in), "x.jsonl")
	assert.ErrorIs(t, err, ErrDuplicateID)
	assert.EqualError(t, err, `x.jsonl:3 (id "a"): field "id": duplicate id (first on line 1)`)
}

func TestReadExamplesReportsManyLines(t *testing.T) {
	var b strings.Builder
	for range 30 {
		b.WriteString(`{"prompt":"","answer":"x"}` + "\n")
	}
	_, err := ReadExamples(strings.NewReader(b.String()), "x.jsonl")
	ees := exampleErrors(t, err)
	assert.Len(t, ees, 20)
	assert.Equal(t, 20, ees[19].Line)
	assert.Contains(t, err.Error(), "and 10 more errors")
}

func TestTaskValidate(t *testing.T) {
	ok := capitals()
	require.NoError(t, ok.Validate())
	assert.ErrorContains(t, Task{Metric: ExactMatch}.Validate(), "no name")
	assert.ErrorIs(t, Task{Name: "x", Metric: "bleu"}.Validate(), ErrUnknownMetric)

	mc := Task{Name: "mc", Metric: MultipleChoice, Train: []Example{{ID: "a", Prompt: "p", Answer: "x"}}}
	err := mc.Validate()
	assert.ErrorIs(t, err, ErrEmptyField)
	assert.EqualError(t, err, `task "mc" train:1 (id "a"): field "choices": empty`)

	dup := capitals()
	dup.Test[2].ID = "fr"
	assert.ErrorIs(t, dup.Validate(), ErrDuplicateID)
}

func TestTasksRoundTrip(t *testing.T) {
	dir := t.TempDir()
	caps := capitals()
	caps.Train = caps.Test
	mc := Task{Name: "mmlu", Metric: MultipleChoice, Test: []Example{{ID: "q", Prompt: "2+2?", Answer: "4", Choices: []string{"3", "4"}}},
		Template: AlpacaTemplate}
	require.NoError(t, WriteTasks(dir, []Task{caps, mc}))

	got, err := ReadTasks(dir)
	require.NoError(t, err)
	assert.Equal(t, []Task{caps, mc}, got)
	for _, name := range []string{"tasks.json", "capitals.train.jsonl", "capitals.test.jsonl", "mmlu.test.jsonl"} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
	assert.NoFileExists(t, filepath.Join(dir, "mmlu.train.jsonl"))
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	assert.Empty(t, leftovers)

	exs, err := ReadExamplesFile(filepath.Join(dir, "capitals.test.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, caps.Test, exs)
}

func TestReadTasksTestDefaultsToTrain(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteExamplesFile(filepath.Join(dir, "facts.jsonl"), capitals().Test))
	writeFile(t, filepath.Join(dir, ManifestName), `{"tasks":[{"name":"facts","metric":"exact_match","train":"facts.jsonl"}]}`)
	got, err := ReadTasks(dir)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, got[0].Train, got[0].Test)
	got[0].Test[0].ID = "changed" // not aliased
	assert.Equal(t, "fr", got[0].Train[0].ID)
}

func TestReadTasksErrors(t *testing.T) {
	good := `{"id":"a","prompt":"p","answer":"x"}` + "\n"
	for _, tc := range []struct {
		name     string
		manifest string
		files    map[string]string
		want     string
		is       error
	}{
		{"no manifest", "", nil, "tasks.json: no such file", os.ErrNotExist},
		{"manifest syntax", `{"tasks":[`, nil, "reading", nil},
		{"manifest unknown field", `{"tasks":[{"name":"a","metric":"exact_match","train":"a.jsonl","metrik":"x"}]}`, nil, `unknown field "metrik"`, nil},
		{"no name", `{"tasks":[{"metric":"exact_match","train":"a.jsonl"}]}`, nil, `tasks[0]: field "name": empty`, ErrEmptyField},
		{"unknown metric", `{"tasks":[{"name":"a","metric":"bleu","train":"a.jsonl"}]}`, nil, `tasks[0]: task "a": field "metric": unknown metric "bleu"`, ErrUnknownMetric},
		{"no files", `{"tasks":[{"name":"a","metric":"exact_match"}]}`, nil, `neither "train" nor "test"`, nil},
		{"bad template", `{"tasks":[{"name":"a","metric":"exact_match","train":"a.jsonl","template":{"prompt":"Q:"}}]}`, nil,
			`tasks[0]: task "a": field "template": eval: Template.Prompt "Q:" has no {prompt}`, nil},
		{"duplicate name", `{"tasks":[{"name":"a","metric":"exact_match","train":"a.jsonl"},{"name":"a","metric":"rouge_l","test":"a.jsonl"}]}`,
			map[string]string{"a.jsonl": good}, `tasks[1]: task "a" listed twice`, nil},
		{"missing file", `{"tasks":[{"name":"a","metric":"exact_match","train":"a.jsonl"}]}`, nil, "a.jsonl: no such file", os.ErrNotExist},
		{"bad line", `{"tasks":[{"name":"a","metric":"exact_match","train":"a.jsonl"}]}`,
			map[string]string{"a.jsonl": good + `{"id":"b","prompt":"","answer":"x"}` + "\n"}, `a.jsonl:2 (id "b"): field "prompt": empty`, ErrEmptyField},
		{"multiple choice without choices", `{"tasks":[{"name":"a","metric":"multiple_choice","test":"a.jsonl"}]}`,
			map[string]string{"a.jsonl": good}, `a.jsonl:1 (id "a"): field "choices": empty`, ErrEmptyField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.manifest != "" {
				writeFile(t, filepath.Join(dir, ManifestName), tc.manifest)
			}
			for name, body := range tc.files {
				writeFile(t, filepath.Join(dir, name), body)
			}
			_, err := ReadTasks(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.is != nil {
				assert.True(t, errors.Is(err, tc.is), "%v is not %v", err, tc.is)
			}
		})
	}
}

func TestWriteTasksErrors(t *testing.T) {
	dir := t.TempDir()
	caps := capitals()
	assert.ErrorContains(t, WriteTasks(dir, []Task{caps, caps}), `task "capitals" given twice`)
	bad := caps
	bad.Name = "../escape"
	assert.ErrorContains(t, WriteTasks(dir, []Task{bad}), "cannot be a file name")
	bad.Name = "a/b"
	assert.ErrorContains(t, WriteTasks(dir, []Task{bad}), "cannot be a file name")
	assert.ErrorContains(t, WriteTasks(dir, []Task{{Name: "none", Metric: ExactMatch}}), "has no items")
	invalid := capitals()
	invalid.Test[0].Answer = ""
	assert.ErrorIs(t, WriteTasks(dir, []Task{invalid}), ErrEmptyField)
	badTemplate := capitals()
	badTemplate.Template = Template{Answer: "A:"}
	assert.ErrorContains(t, WriteTasks(dir, []Task{badTemplate}), `Template.Answer "A:" has no {answer} (task "capitals")`)
}

func TestWriteExamplesFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.jsonl")
	require.NoError(t, WriteExamplesFile(path, capitals().Test))
	// A write into a missing directory fails, names the file and leaves nothing behind.
	err := WriteExamplesFile(filepath.Join(dir, "missing", "y.jsonl"), capitals().Test)
	assert.ErrorContains(t, err, "y.jsonl")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(b), "\n"))
	assert.Contains(t, string(b), `"France's capital?"`) // no HTML escaping of '
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
}

func TestReadTasksRefusesBadBytesAndEmptyFiles(t *testing.T) {
	_, err := ReadExamples(strings.NewReader("{\"id\":\"a\",\"prompt\":\"caf\xe9?\",\"answer\":\"x\"}\n"), "t.jsonl")
	require.ErrorContains(t, err, "t.jsonl")
	require.ErrorContains(t, err, "t.jsonl:1:")
	require.ErrorContains(t, err, "invalid UTF-8 at byte 23")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestName),
		[]byte(`{"tasks":[{"name":"t","metric":"exact_match","train":"a.jsonl","test":"b.jsonl"}]}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.jsonl"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(`{"id":"1","prompt":"p","answer":"a"}`+"\n"), 0o644))
	_, err = ReadTasks(dir)
	require.ErrorContains(t, err, `tasks[0] "t": train file `+filepath.Join(dir, "a.jsonl")+" holds no items")
}

// FuzzReadExamples: any bytes either read or give an error; never a panic, and what reads writes back
// and reads the same.
func FuzzReadExamples(f *testing.F) {
	f.Add([]byte(`{"id":"1","prompt":"p","phrasings":["q"],"answer":"a","paraphrases":["r"],"novel":["s"]}` + "\n"))
	f.Add([]byte("{\"id\":\"1\",\"prompt\":\"\xff\",\"answer\":\"a\"}\n\n"))
	f.Add([]byte(`{"id":"1","prompt":"p","answer":"a","choices":["a","b"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		exs, err := ReadExamples(bytes.NewReader(b), "fuzz.jsonl")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		require.NoError(t, WriteExamples(&buf, exs))
		again, err := ReadExamples(&buf, "again.jsonl")
		require.NoError(t, err)
		require.Equal(t, exs, again)
	})
}
