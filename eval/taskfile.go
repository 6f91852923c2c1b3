package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// ManifestName is the file in a task directory that lists its tasks; see ReadTasks.
const ManifestName = "tasks.json"

// Sentinel errors for what callers branch on; ExampleError and ReadTasks wrap them.
var (
	ErrEmptyField         = errors.New("empty")
	ErrDuplicateID        = errors.New("duplicate id")
	ErrAnswerNotInChoices = errors.New("answer is not one of the choices")
	ErrUnknownMetric      = errors.New("unknown metric")
)

// ExampleError reports one bad example: where it is, which JSON field is wrong ("" for a line that is
// not a JSON object), and why.
type ExampleError struct {
	// File is the file's path, or for examples in memory a description such as `task "x" test`.
	File string
	// Line is the 1-based line number in File, or for examples in memory the 1-based position.
	Line int
	// ID is the example's id when known.
	ID string
	// Field is the JSON field at fault, e.g. "answer" or "choices[2]"; empty for a malformed line.
	Field string
	// Err is one of the sentinels (ErrEmptyField, ErrDuplicateID, ErrAnswerNotInChoices) or a JSON
	// decoding error.
	Err error
}

func (e *ExampleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d", e.File, e.Line)
	if e.ID != "" {
		fmt.Fprintf(&b, " (id %q)", e.ID)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *ExampleError) Unwrap() error { return e.Err }

// maxErrors bounds how many ExampleErrors one read or validation reports.
const maxErrors = 20

// errorList collects ExampleErrors and joins them, noting how many it left out.
type errorList struct {
	errs    []error
	omitted int
}

func (l *errorList) add(e *ExampleError) {
	if len(l.errs) < maxErrors {
		l.errs = append(l.errs, e)
	} else {
		l.omitted++
	}
}

func (l *errorList) err() error {
	if l.omitted > 0 {
		l.errs = append(l.errs, fmt.Errorf("eval: and %d more errors", l.omitted))
	}
	return errors.Join(l.errs...)
}

// checkExample returns the first problem with e: an empty prompt, answer, trained phrasing, paraphrase,
// novel phrasing or choice, or an answer missing from the choices (or no choices at all under
// MultipleChoice).
func checkExample(e Example, m Metric) (field string, err error) {
	switch {
	case strings.TrimSpace(e.Prompt) == "":
		return "prompt", ErrEmptyField
	case strings.TrimSpace(e.Answer) == "":
		return "answer", ErrEmptyField
	}
	for _, f := range []struct {
		name string
		ps   []string
	}{{"phrasings", e.Phrasings}, {"paraphrases", e.Paraphrases}, {"novel", e.Novel}} {
		for i, p := range f.ps {
			if strings.TrimSpace(p) == "" {
				return fmt.Sprintf("%s[%d]", f.name, i), ErrEmptyField
			}
		}
	}
	for i, c := range e.Choices {
		if strings.TrimSpace(c) == "" {
			return fmt.Sprintf("choices[%d]", i), ErrEmptyField
		}
	}
	if len(e.Choices) == 0 && m == MultipleChoice {
		return "choices", ErrEmptyField
	}
	if len(e.Choices) > 0 && !slices.Contains(e.Choices, e.Answer) {
		return "choices", ErrAnswerNotInChoices
	}
	return "", nil
}

// validateExamples checks every example and that non-empty ids are unique, naming items by position.
func validateExamples(exs []Example, m Metric, where string) error {
	var errs errorList
	seen := map[string]int{}
	for i, e := range exs {
		if field, err := checkExample(e, m); err != nil {
			errs.add(&ExampleError{File: where, Line: i + 1, ID: e.ID, Field: field, Err: err})
		}
		if e.ID == "" {
			continue
		}
		if first, ok := seen[e.ID]; ok {
			errs.add(&ExampleError{File: where, Line: i + 1, ID: e.ID, Field: "id",
				Err: fmt.Errorf("%w (first at %d)", ErrDuplicateID, first)})
			continue
		}
		seen[e.ID] = i + 1
	}
	return errs.err()
}

// Validate checks the task: a name, a known metric, and every example (non-empty prompt, answer,
// phrasings, paraphrases, novel phrasings and choices; the answer among the choices, which MultipleChoice requires; ids, where
// given, unique within Train and within Test). Problems are *ExampleError values joined with
// errors.Join, at most 20 of them.
func (t Task) Validate() error {
	if t.Name == "" {
		return errors.New("eval: task has no name")
	}
	if !t.Metric.Valid() {
		return fmt.Errorf("eval: task %q: %w %q", t.Name, ErrUnknownMetric, t.Metric)
	}
	if err := t.Template.Validate(); err != nil {
		return fmt.Errorf("%w (task %q)", err, t.Name)
	}
	return errors.Join(
		validateExamples(t.Train, t.Metric, fmt.Sprintf("task %q train", t.Name)),
		validateExamples(t.Test, t.Metric, fmt.Sprintf("task %q test", t.Name)))
}

// ReadExamples reads JSON Lines, one Example per line (see Example for the schema), reporting each bad
// line as an *ExampleError that names file and line; name is used as the file name in errors. Blank
// lines are skipped; unknown fields are errors (they are usually misspelt ones). The checks are those of
// Task.Validate except the metric-specific one; ids, where given, must be unique within the file. At
// most 20 problems are reported, joined.
func ReadExamples(r io.Reader, name string) ([]Example, error) {
	return readExamples(r, name, "")
}

func readExamples(r io.Reader, name string, m Metric) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	var (
		exs  []Example
		errs errorList
		seen = map[string]int{}
	)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // UTF-8 byte-order mark
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			// encoding/json would turn the bad bytes into U+FFFD without a word.
			errs.add(&ExampleError{File: name, Line: line, Err: fmt.Errorf("invalid UTF-8 at byte %d of the line", invalidAt(b))})
			continue
		}
		var e Example
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err := dec.Decode(&e)
		if err == nil && dec.More() {
			err = errors.New("more than one JSON value on the line")
		}
		if err != nil {
			errs.add(&ExampleError{File: name, Line: line, ID: e.ID, Field: jsonField(err), Err: err})
			continue
		}
		if field, err := checkExample(e, m); err != nil {
			errs.add(&ExampleError{File: name, Line: line, ID: e.ID, Field: field, Err: err})
		}
		if e.ID != "" {
			if first, ok := seen[e.ID]; ok {
				errs.add(&ExampleError{File: name, Line: line, ID: e.ID, Field: "id",
					Err: fmt.Errorf("%w (first on line %d)", ErrDuplicateID, first)})
			} else {
				seen[e.ID] = line
			}
		}
		exs = append(exs, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: reading %s after line %d: %w", name, line, err)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return exs, nil
}

// invalidAt is the offset of the first byte of b that is not valid UTF-8.
func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// jsonField extracts the field a decoding error is about, if it says.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(f, `"`)
	}
	return ""
}

// ReadExamplesFile is ReadExamples on the file at path.
func ReadExamplesFile(path string) ([]Example, error) {
	return readExamplesFile(path, "")
}

func readExamplesFile(path string, m Metric) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	return readExamples(f, path, m)
}

// WriteExamples writes exs as JSON Lines, one Example per line.
func WriteExamples(w io.Writer, exs []Example) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range exs {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// WriteExamplesFile writes exs to path with WriteExamples, atomically (a temporary file renamed over
// path).
func WriteExamplesFile(path string, exs []Example) error {
	return writeFileAtomic(path, func(w io.Writer) error { return WriteExamples(w, exs) })
}

// manifest is the tasks.json of a task directory.
type manifest struct {
	Tasks []manifestEntry `json:"tasks"`
}

type manifestEntry struct {
	Name     string   `json:"name"`
	Metric   Metric   `json:"metric"`
	Train    string   `json:"train,omitempty"`
	Test     string   `json:"test,omitempty"`
	Template Template `json:"template,omitzero"`
}

// ReadManifest reads the tasks of a task directory, in the order its manifest lists them, which is the
// order they are trained in. The manifest, dir/tasks.json, names each task, its metric and its JSON
// Lines files (paths relative to dir):
//
//	{"tasks": [
//	  {"name": "capitals", "metric": "exact_match", "train": "capitals.train.jsonl", "test": "capitals.test.jsonl"},
//	  {"name": "mmlu", "metric": "multiple_choice", "test": "mmlu.test.jsonl"}
//	]}
//
// A task without "test" is scored on its training items (a knowledge task scored on the trained prompts
// and their paraphrases); one without "train" is scored only (the base model's own knowledge). A task's
// optional "template" ({"prompt": …, "answer": …, "eos": …, "choice_delimiter": …}) is its
// Task.Template. Task names must be unique. Every file is checked as by ReadExamples and Task.Validate; errors name the file
// and line.
func ReadManifest(dir string) ([]Task, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var man manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, fmt.Errorf("eval: reading %s: %w", path, err)
	}
	seen := map[string]bool{}
	var tasks []Task
	for i, me := range man.Tasks {
		if err := checkEntry(me, seen); err != nil {
			return nil, fmt.Errorf("eval: %s: tasks[%d]: %w", path, i, err)
		}
		t := Task{Name: me.Name, Metric: me.Metric, Template: me.Template}
		if me.Train != "" {
			p := filepath.Join(dir, me.Train)
			if t.Train, err = readExamplesFile(p, me.Metric); err != nil {
				return nil, err
			}
			if len(t.Train) == 0 {
				return nil, fmt.Errorf("eval: %s: tasks[%d] %q: train file %s holds no items", path, i, me.Name, p)
			}
		}
		if me.Test != "" {
			p := filepath.Join(dir, me.Test)
			if t.Test, err = readExamplesFile(p, me.Metric); err != nil {
				return nil, err
			}
			if len(t.Test) == 0 {
				return nil, fmt.Errorf("eval: %s: tasks[%d] %q: test file %s holds no items", path, i, me.Name, p)
			}
		} else {
			t.Test = slices.Clone(t.Train)
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

func checkEntry(me manifestEntry, seen map[string]bool) error {
	switch {
	case me.Name == "":
		return fmt.Errorf("field %q: %w", "name", ErrEmptyField)
	case seen[me.Name]:
		return fmt.Errorf("task %q listed twice", me.Name)
	case !me.Metric.Valid():
		return fmt.Errorf("task %q: field %q: %w %q", me.Name, "metric", ErrUnknownMetric, me.Metric)
	case me.Train == "" && me.Test == "":
		return fmt.Errorf("task %q: neither %q nor %q given", me.Name, "train", "test")
	}
	if err := me.Template.Validate(); err != nil {
		return fmt.Errorf("task %q: field %q: %w", me.Name, "template", err)
	}
	seen[me.Name] = true
	return nil
}

// WriteTasks writes tasks as a task directory that ReadTasks reads back: NAME.train.jsonl and
// NAME.test.jsonl per task (a file only when it has items) and the manifest, each atomically; dir is
// created if needed. Tasks must pass Validate, have unique names, and names usable as file names.
func WriteTasks(dir string, tasks []Task) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	var man manifest
	seen := map[string]bool{}
	for _, t := range tasks {
		if err := t.Validate(); err != nil {
			return err
		}
		if seen[t.Name] {
			return fmt.Errorf("eval: task %q given twice", t.Name)
		}
		seen[t.Name] = true
		if !filepath.IsLocal(t.Name) || strings.ContainsAny(t.Name, `/\`) {
			return fmt.Errorf("eval: task name %q cannot be a file name", t.Name)
		}
		me := manifestEntry{Name: t.Name, Metric: t.Metric, Template: t.Template}
		if len(t.Train) > 0 {
			me.Train = t.Name + ".train.jsonl"
			if err := WriteExamplesFile(filepath.Join(dir, me.Train), t.Train); err != nil {
				return err
			}
		}
		if len(t.Test) > 0 {
			me.Test = t.Name + ".test.jsonl"
			if err := WriteExamplesFile(filepath.Join(dir, me.Test), t.Test); err != nil {
				return err
			}
		}
		if me.Train == "" && me.Test == "" {
			return fmt.Errorf("eval: task %q has no items", t.Name)
		}
		man.Tasks = append(man.Tasks, me)
	}
	return writeFileAtomic(filepath.Join(dir, ManifestName), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(man)
	})
}
