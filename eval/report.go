package eval

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// MethodResult is one method's outcome: its accuracy matrix, if it ran several rounds, and the two
// numbers the paper's figures compare, acquisition and retention.
type MethodResult struct {
	// Method names the method, e.g. "LoRA sequential" or "O-LoRA λ=0.5".
	Method string `json:"method"`
	// Setting is "semi-cooperative", "fully-cooperative", or empty.
	Setting string `json:"setting,omitempty"`
	// Acquisition is the mean score on the new tasks after training (NaN if not measured).
	Acquisition float64 `json:"-"`
	// Retention is the score on the base model's own knowledge (or earlier tasks) after training (NaN
	// if not measured).
	Retention float64 `json:"-"`
	// Matrix is the run's accuracy matrix; nil for a one-round result.
	Matrix *Matrix `json:"matrix,omitempty"`
}

// FromMatrix summarises a multi-round run: Acquisition is m.ACC() and Retention m.FinalKnowledge().
func FromMatrix(method, setting string, m *Matrix) MethodResult {
	return MethodResult{Method: method, Setting: setting, Acquisition: m.ACC(), Retention: m.FinalKnowledge(), Matrix: m}
}

type methodResultJSON struct {
	Method      string  `json:"method"`
	Setting     string  `json:"setting,omitempty"`
	Acquisition num     `json:"acquisition"`
	Retention   num     `json:"retention"`
	Matrix      *Matrix `json:"matrix,omitempty"`
}

// MarshalJSON encodes NaN as null.
func (r MethodResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(methodResultJSON{r.Method, r.Setting, num(r.Acquisition), num(r.Retention), r.Matrix})
}

// UnmarshalJSON decodes null (or an absent number) as NaN.
func (r *MethodResult) UnmarshalJSON(b []byte) error {
	j := methodResultJSON{Acquisition: num(math.NaN()), Retention: num(math.NaN())}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = MethodResult{j.Method, j.Setting, float64(j.Acquisition), float64(j.Retention), j.Matrix}
	return nil
}

// Report is the results of several methods on the same tasks.
type Report struct {
	// Title heads the Markdown and the bar chart. Zero means "Results".
	Title   string         `json:"title,omitempty"`
	Methods []MethodResult `json:"methods"`
}

func (r *Report) title() string {
	if r.Title == "" {
		return "Results"
	}
	return r.Title
}

// summaryColumns are the columns of the summary table and CSV, after the method and setting.
var summaryColumns = []string{"acquisition", "retention", "acc", "bwt", "fwt", "forgetting", "avg_inc_acc", "rounds"}

func summary(mr MethodResult) []float64 {
	v := []float64{mr.Acquisition, mr.Retention, math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	if m := mr.Matrix; m != nil {
		v[2], v[3], v[4], v[5], v[6], v[7] = m.ACC(), m.BWT(), m.FWT(), m.Forgetting(), m.AvgIncrementalAccuracy(), float64(m.Rounds())
	}
	return v
}

// WriteMarkdown writes a summary table (one row per method) and each method's accuracy matrix as
// Markdown tables, scores with four decimals and "–" for undefined values. BWT is GEM's (÷ T−1) and
// forgetting Chaudhry et al.'s (max-based), as the text under the table says.
func (r *Report) WriteMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("# %s\n\n", r.title())
	ew.printf("| method | setting | acquisition | retention | ACC | BWT | FWT | forgetting | avg. incr. acc. | rounds |\n")
	ew.printf("| --- | --- |%s\n", strings.Repeat(" ---: |", len(summaryColumns)))
	for _, mr := range r.Methods {
		v := summary(mr)
		ew.printf("| %s | %s |", mdEscape(mr.Method), mdEscape(mr.Setting))
		for i, x := range v {
			if i == len(v)-1 {
				ew.printf(" %s |", mdInt(x))
			} else {
				ew.printf(" %s |", mdFloat(x))
			}
		}
		ew.printf("\n")
	}
	ew.printf("\nAcquisition: mean score on the new tasks; retention: score on the base model's own knowledge. " +
		"ACC, BWT and FWT as in GEM (Lopez-Paz & Ranzato 2017; BWT and FWT divide by T−1); " +
		"forgetting as in Chaudhry et al. 2018 (max-based); avg. incr. acc. as in iCaRL.\n")
	for _, mr := range r.Methods {
		m := mr.Matrix
		if m == nil || len(m.R) == 0 {
			continue
		}
		ew.printf("\n## %s: accuracy matrix\n\nRow i: scores after round i (which trained task i).\n\n", mdEscape(mr.Method))
		withK := m.Knowledge != nil
		ew.printf("| after |")
		for _, t := range m.Tasks {
			ew.printf(" %s |", mdEscape(t))
		}
		cols := len(m.Tasks)
		if withK {
			ew.printf(" base knowledge |")
			cols++
		}
		ew.printf("\n| --- |%s\n", strings.Repeat(" ---: |", cols))
		row := func(label string, scores []float64, k float64) {
			ew.printf("| %s |", label)
			for j := range m.Tasks {
				ew.printf(" %s |", mdFloat(at(scores, j)))
			}
			if withK {
				ew.printf(" %s |", mdFloat(k))
			}
			ew.printf("\n")
		}
		if m.Base != nil || withK {
			row("base model", m.Base, m.BaseKnowledge)
		}
		for i, r := range m.R {
			row(fmt.Sprintf("%d: %s", i+1, mdEscape(m.Tasks[i])), r, at(m.Knowledge, i))
		}
	}
	return ew.err
}

// WriteCSV writes the summary as CSV: a header row "method,setting,acquisition,retention,acc,bwt,fwt,
// forgetting,avg_inc_acc,rounds", then one row per method, numbers in full precision and undefined
// values as empty fields. The matrices are in the JSON.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"method", "setting"}, summaryColumns...)); err != nil {
		return err
	}
	for _, mr := range r.Methods {
		rec := []string{mr.Method, mr.Setting}
		for _, x := range summary(mr) {
			rec = append(rec, csvFloat(x))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the whole report, matrices included, as indented JSON with NaN as null.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// Save writes the report into dir (created if needed), each file atomically: report.md, report.csv,
// report.json, the grouped bar chart acquisition_retention.png (when there are methods), and
// matrix_NAME.png for each method with a matrix, NAME being the method name reduced to letters, digits
// and '-' (a method whose name reduces to nothing is numbered instead: matrix_3.png).
func (r *Report) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"report.md", r.WriteMarkdown}, {"report.csv", r.WriteCSV}, {"report.json", r.WriteJSON}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.write); err != nil {
			return err
		}
	}
	if len(r.Methods) == 0 {
		return nil
	}
	p, err := PlotBars(r.title(), r.Methods)
	if err != nil {
		return err
	}
	if err := SavePlot(p, filepath.Join(dir, "acquisition_retention.png"), barWidth(len(r.Methods)), 0); err != nil {
		return err
	}
	used := map[string]bool{}
	for i, mr := range r.Methods {
		if mr.Matrix == nil || len(mr.Matrix.R) == 0 {
			continue
		}
		name := slug(mr.Method)
		if name == "" || used[name] {
			name = strconv.Itoa(i + 1)
		}
		used[name] = true
		p, err := PlotMatrix(mr.Method+": accuracy matrix", mr.Matrix)
		if err != nil {
			return err
		}
		w, h := matrixSize(mr.Matrix)
		if err := SavePlot(p, filepath.Join(dir, "matrix_"+name+".png"), w, h); err != nil {
			return err
		}
	}
	return nil
}

// slug keeps letters, digits and '-' of s, mapping runs of anything else to one '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func at(xs []float64, i int) float64 {
	if i < 0 || i >= len(xs) {
		return math.NaN()
	}
	return xs[i]
}

func mdFloat(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

func mdInt(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return strconv.Itoa(int(x))
}

func csvFloat(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// mdEscape keeps a cell's text from breaking the table.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// errWriter remembers the first write error so that table code can print freely.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
