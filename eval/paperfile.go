package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Layout names the layout of a task directory.
type Layout string

// The layouts ReadTaskDir reads.
const (
	// ManifestLayout is a tasks.json manifest with JSON Lines of Examples (see ReadTasks).
	ManifestLayout Layout = "manifest"
	// PaperLayout is the paper's data as distributed: TRACE's dataset folders, MetaMathQA, GSM8K and
	// lm-eval-harness's multiple-choice suites (see ReadTaskDir).
	PaperLayout Layout = "paper"
)

// ReadOptions configures ReadTaskDir. The zero value is ready to use.
type ReadOptions struct {
	// Metrics overrides the metric of the tasks it names (every name must be a task of the
	// directory). Nil: each task's metric from the manifest or, for PaperLayout, the paper's default.
	Metrics map[string]Metric
}

// TaskDir is what ReadTaskDir read: the directory's layout and its tasks in training order.
type TaskDir struct {
	Layout Layout
	Tasks  []Task
}

// Template is the template the directory's items are meant for: PaperTemplate for PaperLayout (the
// prompt as is, the answer, then end of sequence: the paper's formatting, MetaMathQA and GSM8K
// prompts already in Alpaca's), DefaultTemplate otherwise.
func (d TaskDir) Template() Template {
	if d.Layout == PaperLayout {
		return PaperTemplate
	}
	return DefaultTemplate
}

// PaperOrder is the paper's training order (arXiv 2410.14753): six TRACE tasks, then MetaMathQA.
var PaperOrder = []string{"C-STANCE", "FOMC", "MeetingBank", "Py150", "ScienceQA", "20Minuten", "MetaMathQA"}

// PaperMetric is the paper's metric for a task of PaperOrder or GSM8K (names compared ignoring case
// and anything but letters and digits), and false for another name.
func PaperMetric(name string) (Metric, bool) {
	switch squash(name) {
	case "cstance", "fomc", "scienceqa":
		return FirstChar, true
	case "meetingbank":
		return RougeL, true
	case "py150":
		return EditSim, true
	case "20minuten":
		return SARI, true
	case "metamathqa", "metamath", "gsm8k":
		return NumericMatch, true
	}
	return "", false
}

func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// ReadTasks is ReadTaskDir(dir, ReadOptions{}).Tasks.
func ReadTasks(dir string) ([]Task, error) {
	d, err := ReadTaskDir(dir, ReadOptions{})
	return d.Tasks, err
}

// ReadTaskDir reads the tasks of a directory, choosing the reader by what it holds. With a tasks.json
// it reads the manifest and its JSON Lines (ManifestLayout; see ReadManifest). Without one it reads
// the paper's data as distributed (PaperLayout):
//
//   - every subfolder holding train, test, and eval (or validation, dev) files, .json or .jsonl, is a
//     task named after the folder, trained on train and scored on test (eval when there is no test):
//     TRACE's layout, one folder per dataset with train.json, eval.json and test.json;
//   - every other .json or .jsonl file is a task named after the file: scored only for
//     lm-eval-harness multiple choice and GSM8K questions, trained (and scored on its training items)
//     for the rest.
//
// A .json file is a JSON array of records, a .jsonl file one record per line. Each file's layout is
// told by its first record's fields:
//
//   - TRACE's {"prompt","answer"}: the prompt as is;
//   - MetaMathQA's {"query","response"}: the query put in Alpaca's prompt by AlpacaQuery (its first
//     line the instruction, the rest the input);
//   - GSM8K's {"question","answer"}, the answer ending in "#### N": the question in AlpacaPrompt;
//   - lm-eval-harness's multiple-choice suites, prompts and choices as its task files make them: ARC
//     ({"question","choices":{"text","label"},"answerKey"}), OpenBookQA ({"question_stem", ...}),
//     HellaSwag ({"ctx_a","ctx_b","activity_label","endings","label"}), PIQA ({"goal","sol1","sol2",
//     "label"}) and WinoGrande ({"sentence","option1","option2","answer"}; scored as the option and
//     the rest of the sentence after the text before the blank, not by lm-eval's partial scoring).
//
// Tasks are ordered as PaperOrder where named so, then by name; each gets PaperMetric, else
// MultipleChoice (scored as acc and acc_norm) for multiple choice, NumericMatch for MetaMathQA and
// GSM8K records and ExactMatch for the rest; o.Metrics overrides. A bad record is an *ExampleError
// naming the file, its line (or 1-based position in the array) and the field.
func ReadTaskDir(dir string, o ReadOptions) (TaskDir, error) {
	var d TaskDir
	var err error
	if _, statErr := os.Stat(filepath.Join(dir, ManifestName)); statErr == nil {
		d.Layout = ManifestLayout
		d.Tasks, err = ReadManifest(dir)
	} else {
		d.Layout = PaperLayout
		d.Tasks, err = readPaperDir(dir, statErr)
	}
	if err != nil {
		return TaskDir{}, err
	}
	for name, m := range o.Metrics {
		i := slices.IndexFunc(d.Tasks, func(t Task) bool { return t.Name == name })
		if i < 0 {
			return TaskDir{}, fmt.Errorf("eval: ReadOptions.Metrics names %q, which is not a task of %s", name, dir)
		}
		if !m.Valid() {
			return TaskDir{}, fmt.Errorf("eval: ReadOptions.Metrics[%q]: %w %q", name, ErrUnknownMetric, m)
		}
		d.Tasks[i].Metric = m
		if err := d.Tasks[i].Validate(); err != nil {
			return TaskDir{}, err
		}
	}
	return d, nil
}

// paperSplits are the file stems of a dataset folder, by split.
var (
	trainStems = []string{"train"}
	testStems  = []string{"test", "eval", "validation", "dev"}
)

func readPaperDir(dir string, noManifest error) ([]Task, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var tasks []Task
	for _, e := range entries {
		name, path := e.Name(), filepath.Join(dir, e.Name())
		var t Task
		switch {
		case e.IsDir():
			train, test := findSplit(path, trainStems), findSplit(path, testStems)
			if train == "" && test == "" {
				continue
			}
			t.Name = name
			var kind recordKind
			if train != "" {
				if t.Train, kind, err = readRecords(train); err != nil {
					return nil, err
				}
			}
			if test != "" {
				if t.Test, kind, err = readRecords(test); err != nil {
					return nil, err
				}
			} else {
				t.Test = slices.Clone(t.Train)
			}
			t.Metric = defaultMetric(name, kind)
		case isRecordFile(name):
			t.Name = strings.TrimSuffix(strings.TrimSuffix(name, ".jsonl"), ".json")
			exs, kind, err := readRecords(path)
			if err != nil {
				return nil, err
			}
			t.Test = exs
			if kind != choiceRecords && kind != gsm8kRecords {
				t.Train = slices.Clone(exs)
			}
			t.Metric = defaultMetric(t.Name, kind)
		default:
			continue
		}
		if slices.ContainsFunc(tasks, func(u Task) bool { return u.Name == t.Name }) {
			return nil, fmt.Errorf("eval: %s: two tasks named %q", dir, t.Name)
		}
		if err := t.Validate(); err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	if len(tasks) == 0 {
		return nil, fmt.Errorf("eval: %w, and %s holds no data in a known layout (dataset folders with train/test files, .json or .jsonl files)", noManifest, dir)
	}
	rank := func(t Task) int {
		if i := slices.IndexFunc(PaperOrder, func(n string) bool { return squash(n) == squash(t.Name) }); i >= 0 {
			return i
		}
		return len(PaperOrder)
	}
	slices.SortStableFunc(tasks, func(a, b Task) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Name, b.Name)
	})
	return tasks, nil
}

func isRecordFile(name string) bool {
	return name != ManifestName && (strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".jsonl"))
}

// findSplit is the first file of folder named one of stems with a .json or .jsonl extension.
func findSplit(folder string, stems []string) string {
	for _, s := range stems {
		for _, ext := range []string{".json", ".jsonl"} {
			p := filepath.Join(folder, s+ext)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

func defaultMetric(name string, k recordKind) Metric {
	if m, ok := PaperMetric(name); ok {
		return m
	}
	switch k {
	case choiceRecords:
		return MultipleChoice
	case metamathRecords, gsm8kRecords:
		return NumericMatch
	}
	return ExactMatch
}

// recordKind is the layout of a file's records.
type recordKind int

const (
	traceRecords recordKind = iota
	metamathRecords
	gsm8kRecords
	choiceRecords
)

// record is one JSON object of a data file, with where it is for errors.
type record struct {
	fields map[string]json.RawMessage
	line   int
}

// readRecords reads a .json array or .jsonl file of records of one layout as Examples.
func readRecords(path string) ([]Example, recordKind, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("eval: %w", err)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var recs []record
	var errs errorList
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(t, &arr); err != nil {
			return nil, 0, fmt.Errorf("eval: %s: not a JSON array of records: %w", path, err)
		}
		for i, raw := range arr {
			var f map[string]json.RawMessage
			if err := json.Unmarshal(raw, &f); err != nil {
				errs.add(&ExampleError{File: path, Line: i + 1, Err: fmt.Errorf("element is not a JSON object: %w", err)})
				continue
			}
			recs = append(recs, record{f, i + 1})
		}
	} else {
		for i, ln := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(ln)) == 0 {
				continue
			}
			var f map[string]json.RawMessage
			if err := json.Unmarshal(ln, &f); err != nil {
				errs.add(&ExampleError{File: path, Line: i + 1, Err: err})
				continue
			}
			recs = append(recs, record{f, i + 1})
		}
	}
	if err := errs.err(); err != nil {
		return nil, 0, err
	}
	if len(recs) == 0 {
		return nil, 0, fmt.Errorf("eval: %s holds no records", path)
	}
	kind, ok := kindOf(recs[0].fields)
	if !ok {
		return nil, 0, &ExampleError{File: path, Line: recs[0].line, Err: fmt.Errorf("unknown record layout (fields %s): want TRACE's prompt/answer, MetaMathQA's query/response, GSM8K's question/answer or an lm-eval multiple-choice layout (ARC, OpenBookQA, HellaSwag, PIQA, WinoGrande)", fieldNames(recs[0].fields))}
	}
	exs := make([]Example, 0, len(recs))
	for _, r := range recs {
		e, field, err := toExample(kind, r.fields)
		if err == nil {
			field, err = checkExample(e, "")
		}
		if err != nil {
			errs.add(&ExampleError{File: path, Line: r.line, Field: field, Err: err})
			continue
		}
		exs = append(exs, e)
	}
	if err := errs.err(); err != nil {
		return nil, 0, err
	}
	return exs, kind, nil
}

func fieldNames(f map[string]json.RawMessage) string {
	var n []string
	for k := range f {
		n = append(n, strconv.Quote(k))
	}
	slices.Sort(n)
	return strings.Join(n, ", ")
}

func kindOf(f map[string]json.RawMessage) (recordKind, bool) {
	has := func(ks ...string) bool {
		for _, k := range ks {
			if _, ok := f[k]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("choices", "answerKey"), has("endings", "label"), has("goal", "sol1", "sol2"), has("sentence", "option1", "option2"):
		return choiceRecords, true
	case has("query", "response"):
		return metamathRecords, true
	case has("question", "answer"):
		return gsm8kRecords, true
	case has("prompt", "answer"):
		return traceRecords, true
	}
	return 0, false
}

// errField is a record's missing or mistyped field.
var errField = errors.New("missing or not of the expected type")

func toExample(k recordKind, f map[string]json.RawMessage) (Example, string, error) {
	if k == choiceRecords {
		return choiceExample(f)
	}
	names := map[recordKind][2]string{
		traceRecords:    {"prompt", "answer"},
		metamathRecords: {"query", "response"},
		gsm8kRecords:    {"question", "answer"},
	}[k]
	var pa [2]string
	for i, name := range names {
		if err := json.Unmarshal(f[name], &pa[i]); err != nil {
			return Example{}, name, errField
		}
	}
	e := Example{Prompt: pa[0], Answer: pa[1]}
	switch k {
	case metamathRecords:
		e.Prompt = AlpacaQuery(e.Prompt)
	case gsm8kRecords:
		if !strings.Contains(e.Answer, "####") {
			return e, "answer", errors.New(`does not end in "#### N"`)
		}
		e.Prompt = AlpacaPrompt(e.Prompt, "")
	}
	_ = json.Unmarshal(f["id"], &e.ID) // ids are optional, and kept only when strings
	return e, "", nil
}

// choiceExample builds a multiple-choice Example from an lm-eval-harness record.
func choiceExample(f map[string]json.RawMessage) (Example, string, error) {
	var e Example
	get := func(name string, v any) error {
		raw, ok := f[name]
		if !ok || json.Unmarshal(raw, v) != nil {
			return errField
		}
		return nil
	}
	var gold int
	goldField := "label" // the field that names the gold answer, for the error
	switch {
	case f["choices"] != nil: // ARC, OpenBookQA
		var ch struct{ Text, Label []string }
		var key, q string
		if err := get("choices", &ch); err != nil || len(ch.Text) != len(ch.Label) {
			return e, "choices", errField
		}
		if err := get("answerKey", &key); err != nil {
			return e, "answerKey", err
		}
		if get("question", &q) == nil {
			q = "Question: " + q + "\nAnswer:" // arc_easy.yaml's doc_to_text
		} else if err := get("question_stem", &q); err != nil {
			return e, "question", err
		}
		gold, goldField = slices.Index(ch.Label, strings.TrimSpace(key)), "answerKey"
		e.Prompt, e.Choices = q, ch.Text
	case f["endings"] != nil: // HellaSwag
		var a, b, act, label string
		for _, p := range []struct {
			name string
			v    *string
		}{{"ctx_a", &a}, {"ctx_b", &b}, {"activity_label", &act}, {"label", &label}} {
			if err := get(p.name, p.v); err != nil {
				return e, p.name, err
			}
		}
		if err := get("endings", &e.Choices); err != nil {
			return e, "endings", err
		}
		if r := []rune(b); len(r) > 0 { // Python's str.capitalize
			b = strings.ToUpper(string(r[:1])) + strings.ToLower(string(r[1:]))
		}
		e.Prompt = hellaswagText(act + ": " + a + " " + b)
		for i, c := range e.Choices {
			e.Choices[i] = hellaswagText(c)
		}
		var err error
		if gold, err = strconv.Atoi(label); err != nil {
			return e, "label", err
		}
	case f["goal"] != nil: // PIQA
		var goal, s1, s2 string
		if err := errors.Join(get("goal", &goal), get("sol1", &s1), get("sol2", &s2)); err != nil {
			return e, "goal", err
		}
		if err := get("label", &gold); err != nil {
			return e, "label", err
		}
		e.Prompt, e.Choices = "Question: "+goal+"\nAnswer:", []string{s1, s2}
	default: // WinoGrande
		var s, o1, o2, ans string
		if err := errors.Join(get("sentence", &s), get("option1", &o1), get("option2", &o2)); err != nil {
			return e, "sentence", err
		}
		if err := get("answer", &ans); err != nil {
			return e, "answer", err
		}
		i := strings.Index(s, "_")
		if i < 0 {
			return e, "sentence", errors.New("has no blank _")
		}
		rest := s[i+1:]
		e.Prompt, e.Choices = strings.TrimSpace(s[:i]), []string{o1 + rest, o2 + rest}
		n, err := strconv.Atoi(ans)
		if err != nil {
			return e, "answer", err
		}
		gold, goldField = n-1, "answer"
	}
	if gold < 0 || gold >= len(e.Choices) {
		return e, goldField, errors.New("gold answer is not one of the choices")
	}
	e.Answer = e.Choices[gold]
	var id string
	if get("id", &id) == nil {
		e.ID = id
	}
	return e, "", nil
}

var bracketed = regexp.MustCompile(`\[.*?\]`)

// hellaswagText is lm-eval-harness's hellaswag preprocess: strip, " [title]" to ". ", other
// bracketed tags removed, double spaces made single.
func hellaswagText(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, " [title]", ". ")
	s = bracketed.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, "  ", " ")
}
