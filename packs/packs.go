package packs

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/accrete/accrete/eval"
)

//go:embed data
var data embed.FS

// ErrUnknownTask is returned by Load for a name that is not in the manifest.
var ErrUnknownTask = errors.New("packs: unknown task")

// Entry describes one pack in data/tasks.json.
type Entry struct {
	Name        string      `json:"name"`
	Metric      eval.Metric `json:"metric"`
	File        string      `json:"file"`        // relative to data/
	Items       int         `json:"items"`       // number of examples in File
	Phrasings   int         `json:"phrasings"`   // trained phrasings per example (Prompt and Phrasings)
	Paraphrases int         `json:"paraphrases"` // held-out paraphrases per example (templates other examples train on)
	Novel       int         `json:"novel"`       // held-out phrasings per example from templates no example trains on
	Templates   int         `json:"templates"`   // templates in each relation's pool
	Choices     int         `json:"choices"`     // choices per example; 0 unless multiple_choice or first_char
	Description string      `json:"description"`
	Source      string      `json:"source"`  // package, version and registry of each source
	Licence     string      `json:"licence"` // SPDX identifiers
}

// TextEntry describes the general-text corpus in data/tasks.json: Files are pretrained on, HeldOut
// never is. Each file holds documents separated by a blank line.
type TextEntry struct {
	Files        []string `json:"files"`
	Bytes        int      `json:"bytes"`
	Documents    int      `json:"documents"`
	HeldOut      string   `json:"held_out"`
	HeldOutBytes int      `json:"held_out_bytes"`
	HeldOutDocs  int      `json:"held_out_documents"`
	Description  string   `json:"description"`
	Source       string   `json:"source"`
	Licence      string   `json:"licence"`
}

// Manifest is the content of data/tasks.json.
type Manifest struct {
	Seed    uint64    `json:"seed"`  // the generator's seed
	Tasks   []Entry   `json:"tasks"` // new-knowledge tasks, default round order
	Base    Entry     `json:"base"`
	General TextEntry `json:"general"`
}

// Options limits what Load and Base return.
type Options struct {
	// Limit is the most examples a task keeps, taken evenly spaced over the task's (subject-sorted)
	// items so that a small sample still covers the whole alphabet. Zero or less means all.
	Limit int
}

var manifest = sync.OnceValues(func() (Manifest, error) {
	var m Manifest
	b, err := data.ReadFile("data/tasks.json")
	if err != nil {
		return m, fmt.Errorf("packs: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("packs: data/tasks.json: %w", err)
	}
	return m, nil
})

// ReadManifest returns the parsed data/tasks.json.
func ReadManifest() (Manifest, error) { return manifest() }

// Names returns the new-knowledge tasks in the default round order.
func Names() []string {
	m, err := manifest()
	if err != nil {
		panic(err) // the manifest is embedded: failing to parse it is a build bug
	}
	names := make([]string, len(m.Tasks))
	for i, t := range m.Tasks {
		names[i] = t.Name
	}
	return names
}

// Load returns the new-knowledge task name. Train and Test hold the same facts in separate slices;
// Test is meant to be scored on each example's Prompt and Paraphrases.
func Load(name string, o Options) (eval.Task, error) {
	m, err := manifest()
	if err != nil {
		return eval.Task{}, err
	}
	for _, e := range m.Tasks {
		if e.Name == name {
			return load(e, o)
		}
	}
	return eval.Task{}, fmt.Errorf("%w %q", ErrUnknownTask, name)
}

// All loads every new-knowledge task in the default round order.
func All(o Options) ([]eval.Task, error) {
	var ts []eval.Task
	for _, n := range Names() {
		t, err := Load(n, o)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// Base returns the base facts, the old knowledge the base model is pretrained on, as a task named
// "base" (exact_match); ids are base-GROUP-NNNN.
func Base(o Options) (eval.Task, error) {
	m, err := manifest()
	if err != nil {
		return eval.Task{}, err
	}
	return load(m.Base, o)
}

// GeneralText returns the general English pretraining text (fortune cookies and WordNet's glosses as
// dictionary entries), documents separated by a blank line. The base model was pretrained on it.
func GeneralText() string {
	m, err := manifest()
	if err != nil {
		panic(err)
	}
	var sb strings.Builder
	for _, f := range m.General.Files {
		sb.Write(mustRead(f))
	}
	return sb.String()
}

// HeldOutText returns the held-out general text as documents: text of the same kind as GeneralText
// that no training ever sees, on which language ability is measured in bits per byte
// (eval.BitsPerByte).
func HeldOutText() []string {
	m, err := manifest()
	if err != nil {
		panic(err)
	}
	return Documents(string(mustRead(m.General.HeldOut)))
}

// Documents splits text into its blank-line-separated documents.
func Documents(text string) []string {
	var out []string
	for _, d := range strings.Split(text, "\n\n") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

func mustRead(name string) []byte {
	b, err := data.ReadFile(path.Join("data", name))
	if err != nil {
		panic(fmt.Errorf("packs: %w", err)) // embedded: a missing file is a build bug
	}
	return b
}

// ReadExamples decodes one JSONL file of examples; name is used in errors.
func ReadExamples(name string, b []byte) ([]eval.Example, error) {
	var out []eval.Example
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e eval.Example
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("packs: %s line %d: %w", name, line, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("packs: %s: %w", name, err)
	}
	return out, nil
}

func load(e Entry, o Options) (eval.Task, error) {
	p := path.Join("data", e.File)
	b, err := data.ReadFile(p)
	if err != nil {
		return eval.Task{}, fmt.Errorf("packs: %w", err)
	}
	ex, err := ReadExamples(p, b)
	if err != nil {
		return eval.Task{}, err
	}
	if o.Limit > 0 && o.Limit < len(ex) {
		picked := make([]eval.Example, o.Limit)
		for i := range picked {
			picked[i] = ex[i*len(ex)/o.Limit]
		}
		ex = picked
	}
	return eval.Task{Name: e.Name, Metric: e.Metric, Train: ex, Test: cloneExamples(ex)}, nil
}

func cloneExamples(ex []eval.Example) []eval.Example {
	out := make([]eval.Example, len(ex))
	for i, e := range ex {
		e.Paraphrases = append([]string(nil), e.Paraphrases...)
		e.Phrasings, e.Novel = append([]string(nil), e.Phrasings...), append([]string(nil), e.Novel...)
		e.Choices = append([]string(nil), e.Choices...)
		out[i] = e
	}
	return out
}
