package accrete

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
)

// runRecord is what a checkpoint directory is a run of, saved in every round's run.json: a resume
// compares it with the run that resumes and refuses a difference (RunOptions.ResumeMismatchOK).
// Every field is a printable description, compared as a string.
type runRecord struct {
	// Strategy is the strategy's name (Namer, else its Go type) and Settings its settings
	// (Configurable, else its exported fields; functions and writers left out).
	Strategy string `json:"strategy"`
	Settings string `json:"strategy_settings"`
	// Tasks holds "name sha256:…" per task, the hash over its metric and its train and test items.
	Tasks []string `json:"tasks"`
	// LoRA and Train are the learner's defaults (seeds, functions, writers, labels and the memory
	// budget left out), Template its template, Seed the seeds of LoRA and Train.
	LoRA     string `json:"lora"`
	Train    string `json:"train"`
	Template string `json:"template"`
	Seed     string `json:"seed"`
	// BaseModel is lora.Fingerprint of the learner's base weights.
	BaseModel string `json:"base_model"`
	// MaxTokens is eval's generation bound; Knowledge and GeneralText fingerprint what retention is
	// measured on ("" when not measured).
	MaxTokens   int      `json:"eval_max_tokens"`
	Knowledge   []string `json:"knowledge,omitempty"`
	GeneralText string   `json:"general_text,omitempty"`
}

// newRunRecord describes the run of s over tasks on l with options o.
func newRunRecord(l *Learner, s Strategy, tasks []Task, o RunOptions) *runRecord {
	tc := l.Train
	tc.Seed, tc.Progress, tc.Label, tc.ExtraLoss, tc.MemoryBudget = 0, nil, "", nil, 0
	lc := l.LoRA.WithDefaults()
	lc.Seed = 0
	r := &runRecord{
		Strategy:  strategyName(s),
		Settings:  describe(s),
		Tasks:     taskPrints(tasks),
		LoRA:      describe(lc),
		Train:     describe(tc),
		Template:  describe(fullTemplate(l.Template)),
		Seed:      fmt.Sprintf("lora %d, train %d", l.LoRA.Seed, l.Train.Seed),
		BaseModel: lora.Fingerprint(l.Model.Config, l.base),
		MaxTokens: o.Eval.MaxTokens,
		Knowledge: taskPrints(o.Knowledge),
	}
	if len(o.GeneralText) > 0 {
		h := sha256.New()
		for _, d := range o.GeneralText {
			fmt.Fprintf(h, "%d\x00%s", len(d), d)
		}
		r.GeneralText = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	return r
}

// fullTemplate is t with eval's defaults written out, so that templates that format alike compare equal.
func fullTemplate(t eval.Template) eval.Template {
	t.Prompt = cmp.Or(t.Prompt, eval.DefaultTemplate.Prompt)
	t.Answer = cmp.Or(t.Answer, eval.DefaultTemplate.Answer)
	return t
}

// taskPrints returns "name sha256:…" for each task: the hash of its metric, its train and test items
// and its own template (Task.Template, when set) as JSON.
func taskPrints(tasks []Task) []string {
	var out []string
	for _, t := range tasks {
		b, err := json.Marshal(struct {
			Metric      eval.Metric
			Train, Test []Example
			Template    eval.Template `json:",omitzero"` // left out when zero: the hashes of earlier checkpoints stand
		}{t.Metric, t.Train, t.Test, t.Template})
		if err != nil { // not expected: Example is strings
			b = []byte(fmt.Sprintf("%v", t))
		}
		sum := sha256.Sum256(b)
		out = append(out, t.Name+" sha256:"+hex.EncodeToString(sum[:]))
	}
	return out
}

// mismatch returns the first field in which the checkpoint's record c differs from this run's r, as
// "strategy differs: checkpoint has "a", this run "b"", or "" when they agree.
func (c *runRecord) mismatch(r *runRecord) string {
	type field struct{ name, was, is string }
	fields := []field{
		{"strategy", c.Strategy, r.Strategy},
		{"strategy settings", c.Settings, r.Settings},
		{"number of tasks", strconv.Itoa(len(c.Tasks)), strconv.Itoa(len(r.Tasks))},
	}
	if len(c.Tasks) == len(r.Tasks) {
		for i := range c.Tasks {
			fields = append(fields, field{fmt.Sprintf("task %d", i+1), c.Tasks[i], r.Tasks[i]})
		}
	}
	fields = append(fields,
		field{"learner LoRA config", c.LoRA, r.LoRA},
		field{"learner training config", c.Train, r.Train},
		field{"template", c.Template, r.Template},
		field{"seed", c.Seed, r.Seed},
		field{"base model", c.BaseModel, r.BaseModel},
		field{"eval MaxTokens", strconv.Itoa(c.MaxTokens), strconv.Itoa(r.MaxTokens)},
		field{"knowledge tasks", strings.Join(c.Knowledge, ", "), strings.Join(r.Knowledge, ", ")},
		field{"general text", c.GeneralText, r.GeneralText},
	)
	for _, f := range fields {
		if f.was != f.is {
			was, is := around(f.was, f.is)
			return fmt.Sprintf("%s differs: checkpoint has %q, this run %q", f.name, was, is)
		}
	}
	return ""
}

// around shortens two long differing strings to a window around their first difference.
func around(a, b string) (string, string) {
	const width, before = 100, 30
	if len(a) <= width && len(b) <= width {
		return a, b
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	cut := func(s string) string {
		lo := max(0, i-before)
		for lo > 0 && lo < len(s) && s[lo]&0xc0 == 0x80 { // not inside a UTF-8 sequence
			lo--
		}
		hi := min(len(s), lo+width)
		for hi < len(s) && s[hi]&0xc0 == 0x80 {
			hi++
		}
		out := s[min(lo, len(s)):hi]
		if lo > 0 {
			out = "…" + out
		}
		if hi < len(s) {
			out += "…"
		}
		return out
	}
	return cut(a), cut(b)
}

// Configurable is implemented by strategies whose settings are not simply their exported fields
// (unexported configuration, or exported state such as a history that grows every round). Settings
// returns what determines the strategy's rounds, not its state; Run records its exported fields
// with every checkpoint, and a resume refuses a strategy whose settings differ. A strategy without
// the method is described by its own exported fields.
type Configurable interface {
	Settings() any
}

var (
	writerType       = reflect.TypeFor[io.Writer]()
	configurableType = reflect.TypeFor[Configurable]()
)

// describe prints v's exported fields, recursively, deterministically: functions, channels and
// writers are left out, pointers followed, map keys sorted, a Configurable value described by its
// Settings.
func describe(v any) string {
	var b strings.Builder
	describeValue(&b, reflect.ValueOf(v), 0)
	return b.String()
}

func describeValue(b *strings.Builder, v reflect.Value, depth int) {
	if !v.IsValid() {
		b.WriteString("nil")
		return
	}
	if depth > 10 {
		b.WriteString("…")
		return
	}
	nilable := v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface
	if v.CanInterface() && v.Type().Implements(configurableType) && !(nilable && v.IsNil()) {
		b.WriteString(v.Type().String())
		b.WriteString(" settings ")
		describeValue(b, reflect.ValueOf(v.Interface().(Configurable).Settings()), depth+1)
		return
	}
	switch v.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		b.WriteString(v.Type().String())
	case reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		describeValue(b, v.Elem(), depth+1)
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		describeValue(b, v.Elem(), depth+1)
	case reflect.Struct:
		b.WriteByte('{')
		first := true
		for i := range v.NumField() {
			f := v.Type().Field(i)
			fv := v.Field(i)
			if !f.IsExported() || skipped(fv) {
				continue
			}
			if !first {
				b.WriteByte(' ')
			}
			first = false
			b.WriteString(f.Name)
			b.WriteByte(':')
			describeValue(b, fv, depth+1)
		}
		b.WriteByte('}')
	case reflect.Slice, reflect.Array:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(' ')
			}
			describeValue(b, v.Index(i), depth+1)
		}
		b.WriteByte(']')
	case reflect.Map:
		type kv struct {
			k string
			v reflect.Value
		}
		var kvs []kv
		for it := v.MapRange(); it.Next(); {
			var kb strings.Builder
			describeValue(&kb, it.Key(), depth+1)
			kvs = append(kvs, kv{kb.String(), it.Value()})
		}
		slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		b.WriteString("map[")
		for i, e := range kvs {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(e.k)
			b.WriteByte(':')
			describeValue(b, e.v, depth+1)
		}
		b.WriteByte(']')
	case reflect.Float32, reflect.Float64:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.String:
		b.WriteString(strconv.Quote(v.String()))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	default:
		fmt.Fprintf(b, "%v", v)
	}
}

// skipped reports whether a field is left out of a description: functions, channels, and writers
// (progress output), which do not change what a run computes.
func skipped(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return true
	case reflect.Interface:
		return v.Type().Implements(writerType) || !v.IsNil() && v.Elem().Type().Implements(writerType)
	}
	return v.Type().Implements(writerType)
}
