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
)

// MethodResult is one method's outcome: its accuracy matrix, if it ran several rounds, and the numbers
// the paper's figures compare: acquisition of the new knowledge (on held-out phrasings, the knowledge
// that generalises, and on the trained phrasings) and retention of the old (the base model's facts,
// and its general text's bits per byte).
type MethodResult struct {
	// Method names the method, e.g. "LoRA sequential" or "O-LoRA λ=0.5".
	Method string `json:"method"`
	// Setting is "semi-cooperative", "fully-cooperative", or empty.
	Setting string `json:"setting,omitempty"`
	// Acquisition is the mean headline score on the new tasks after training, on their held-out
	// phrasings where they have any (NaN if not measured).
	Acquisition float64 `json:"-"`
	// AcquisitionTrained is the mean score on the new tasks' trained phrasings after training (NaN if
	// not measured).
	AcquisitionTrained float64 `json:"-"`
	// Retention is the score on the base model's own knowledge (or earlier tasks) after training, on
	// held-out phrasings where it has any (NaN if not measured).
	Retention float64 `json:"-"`
	// DeltaBPB is the change in bits per byte on held-out general text, after training minus before:
	// positive means general text got less likely (NaN if not measured).
	DeltaBPB float64 `json:"-"`
	// Matrix is the run's accuracy matrix; nil for a one-round result. For an aggregate over seeds
	// (see Aggregate) it is the element-wise mean of the seeds' matrices.
	Matrix *Matrix `json:"matrix,omitempty"`
	// Seeds, when set, are the runs of this method over several seeds that this result aggregates
	// (Aggregate): the numbers above are their means, Intervals their 95% intervals, and reports
	// show mean ± half-width. nil for a single run.
	Seeds []MethodResult `json:"seeds,omitempty"`
}

// FromMatrix summarises a multi-round run: Acquisition is m.ACC(), AcquisitionTrained the ACC of
// m.TrainedMatrix() (NaN without one), Retention m.FinalKnowledge() and DeltaBPB m.DeltaBPB().
func FromMatrix(method, setting string, m *Matrix) MethodResult {
	acqT := math.NaN()
	if tm := m.TrainedMatrix(); tm != nil {
		acqT = tm.ACC()
	}
	return MethodResult{Method: method, Setting: setting, Acquisition: m.ACC(), AcquisitionTrained: acqT,
		Retention: m.FinalKnowledge(), DeltaBPB: m.DeltaBPB(), Matrix: m}
}

type methodResultJSON struct {
	Method             string  `json:"method"`
	Setting            string  `json:"setting,omitempty"`
	Acquisition        num     `json:"acquisition"`
	AcquisitionTrained num     `json:"acquisition_trained"`
	Retention          num     `json:"retention"`
	DeltaBPB           num     `json:"delta_bpb"`
	Matrix             *Matrix `json:"matrix,omitempty"`
	// Intervals are written for an aggregate (from Seeds) and ignored when read.
	Intervals map[string]Interval `json:"intervals,omitempty"`
	Seeds     []MethodResult      `json:"seeds,omitempty"`
}

// MarshalJSON encodes NaN as null.
func (r MethodResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(methodResultJSON{r.Method, r.Setting, num(r.Acquisition), num(r.AcquisitionTrained),
		num(r.Retention), num(r.DeltaBPB), r.Matrix, r.Intervals(), r.Seeds})
}

// UnmarshalJSON decodes null (or an absent number) as NaN.
func (r *MethodResult) UnmarshalJSON(b []byte) error {
	nan := num(math.NaN())
	j := methodResultJSON{Acquisition: nan, AcquisitionTrained: nan, Retention: nan, DeltaBPB: nan}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = MethodResult{j.Method, j.Setting, float64(j.Acquisition), float64(j.AcquisitionTrained),
		float64(j.Retention), float64(j.DeltaBPB), j.Matrix, j.Seeds}
	return nil
}

// Report is the results of several methods on the same tasks.
type Report struct {
	// Title heads the Markdown and the bar chart. Zero means "Results".
	Title string `json:"title,omitempty"`
	// Notes are paragraphs printed under the title (how many items were scored, the seeds, the
	// chosen learning rates, ...).
	Notes   []string       `json:"notes,omitempty"`
	Methods []MethodResult `json:"methods"`
	// LearningRates are the rates the study ran with, each with the grid it was chosen from (printed
	// after the summary). nil: none listed.
	LearningRates []LearningRate `json:"learning_rates,omitempty"`
	// Frontier are acquisition-retention points over learning rates (see FrontierPoint), printed as a
	// table after LearningRates. nil: none.
	Frontier []FrontierPoint `json:"frontier,omitempty"`
}

func (r *Report) title() string {
	if r.Title == "" {
		return "Results"
	}
	return r.Title
}

// summaryColumns are the columns of the summary table and CSV, after the method and setting.
var summaryColumns = []string{"acquisition", "acquisition_trained", "retention", "delta_bpb", "acc", "bwt",
	"fwt", "forgetting", "avg_inc_acc", "rounds"}

// summaryHeader is the Markdown header of summaryColumns.
var summaryHeader = []string{"acquisition (held-out) | acquisition (trained) | retention (base facts) | ΔBPB",
	"ACC | BWT | FWT | forgetting | avg. incr. acc. | rounds"}

// summary is the row of summaryColumns of mr: for an aggregate (Seeds set) the means over the seeds
// of each seed's values, with the rounds of its matrix.
func summary(mr MethodResult) []float64 {
	if len(mr.Seeds) > 0 {
		iv := mr.Intervals()
		v := make([]float64, len(summaryColumns))
		for k, name := range summaryColumns {
			v[k] = iv[name].Mean
		}
		v[len(v)-1] = math.NaN()
		if mr.Matrix != nil {
			v[len(v)-1] = float64(mr.Matrix.Rounds())
		}
		return v
	}
	return single(mr)
}

func single(mr MethodResult) []float64 {
	v := []float64{mr.Acquisition, mr.AcquisitionTrained, mr.Retention, mr.DeltaBPB,
		math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	if m := mr.Matrix; m != nil {
		v[4], v[5], v[6], v[7], v[8], v[9] = m.ACC(), m.BWT(), m.FWT(), m.Forgetting(), m.AvgIncrementalAccuracy(), float64(m.Rounds())
	}
	return v
}

// deltaColumn is the index of delta_bpb in summaryColumns, printed with its sign.
const deltaColumn = 3

// WriteMarkdown writes a summary table (one row per method) and each method's accuracy matrices as
// Markdown tables, on held-out and (when measured) trained phrasings, scores with four decimals and
// "–" for undefined values. The text under the summary says what each column means: BWT is GEM's
// (÷ T−1) and forgetting Chaudhry et al.'s (max-based). LearningRates and Frontier, when set, follow as
// tables before the matrices.
func (r *Report) WriteMarkdown(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("# %s\n\n", r.title())
	for _, n := range r.Notes {
		ew.printf("%s\n\n", n)
	}
	seeds := false
	for _, mr := range r.Methods {
		seeds = seeds || len(mr.Seeds) > 0
	}
	if seeds {
		ew.printf("| method | setting | seeds | %s | %s |\n", summaryHeader[0], summaryHeader[1])
		ew.printf("| --- | --- | ---: |%s\n", strings.Repeat(" ---: |", len(summaryColumns)))
	} else {
		ew.printf("| method | setting | %s | %s |\n", summaryHeader[0], summaryHeader[1])
		ew.printf("| --- | --- |%s\n", strings.Repeat(" ---: |", len(summaryColumns)))
	}
	for _, mr := range r.Methods {
		v := summary(mr)
		iv := mr.Intervals()
		ew.printf("| %s | %s |", mdEscape(mr.Method), mdEscape(mr.Setting))
		if seeds {
			ew.printf(" %d |", max(1, len(mr.Seeds)))
		}
		for i, x := range v {
			var cell string
			switch i {
			case len(v) - 1:
				cell = mdInt(x)
			case deltaColumn:
				cell = mdSigned(x)
			default:
				cell = mdFloat(x)
			}
			if h := iv[summaryColumns[i]].HalfWidth(); iv != nil && !math.IsNaN(h) && !math.IsNaN(x) {
				cell += " ± " + strconv.FormatFloat(h, 'f', 4, 64)
			}
			ew.printf(" %s |", cell)
		}
		ew.printf("\n")
	}
	if seeds {
		ew.printf("\nEach number is the mean over the seeds (each metric computed per seed, then averaged) ± the " +
			"half-width of its 95%% confidence interval from Student's t distribution, t_{0.975, n−1}·s/√n over " +
			"the n seeds (no interval for one seed). A seed moves the adapters' initialisation, the data order and " +
			"the item sample. The accuracy matrices below are the means over the seeds; report.json has each " +
			"seed's matrix and every interval's bounds.\n")
	}
	ew.printf("\nAcquisition (held-out): mean score on the new tasks on phrasings never trained on (paraphrases and " +
		"novel phrasings), the knowledge that generalises; this is what the accuracy matrix and ACC, BWT, FWT, " +
		"forgetting and avg. incr. acc. are computed on. Acquisition (trained): the same on the phrasings " +
		"trained on. Retention (base facts): score on the base model's own facts, on held-out phrasings, after " +
		"the last round. ΔBPB: bits per byte on held-out general text after the last round minus the base " +
		"model's (positive: general text got less likely). " +
		"ACC, BWT and FWT as in GEM (Lopez-Paz & Ranzato 2017; BWT and FWT divide by T−1); " +
		"forgetting as in Chaudhry et al. 2018 (max-based); avg. incr. acc. as in iCaRL.\n")
	r.writeLearningRates(ew)
	for _, mr := range r.Methods {
		m := mr.Matrix
		if m == nil || len(m.R) == 0 {
			continue
		}
		title := "accuracy matrix"
		if len(mr.Seeds) > 1 {
			title = fmt.Sprintf("accuracy matrix, mean of %d seeds", len(mr.Seeds))
		}
		ew.printf("\n## %s: %s\n\nRow i: scores after round i (which trained task i), on held-out "+
			"phrasings where a task has them", mdEscape(mr.Method), title)
		if m.Knowledge != nil {
			ew.printf("; base knowledge: retention of the base model's facts")
		}
		if m.BPB != nil {
			ew.printf("; bpb: bits per byte on held-out general text (lower is better)")
		}
		ew.printf(".\n\n")
		writeMatrixTable(ew, m.Tasks, m.Base, m.R, m.Knowledge, m.BaseKnowledge, m.BPB, m.BaseBPB)
		if m.Trained != nil {
			ew.printf("\n## %s: accuracy matrix, trained phrasings\n\nRow i: scores after round i on the phrasing "+
				"each task was trained with.\n\n", mdEscape(mr.Method))
			writeMatrixTable(ew, m.Tasks, m.BaseTrained, m.Trained, nil, math.NaN(), nil, math.NaN())
		}
	}
	return ew.err
}

// writeMatrixTable writes one accuracy matrix as a Markdown table: a base row (when base, knowledge or
// bpb is set) and one row per round, with a knowledge column and a bpb column when those are set.
func writeMatrixTable(ew *errWriter, tasks []string, base []float64, rows [][]float64, knowledge []float64,
	baseKnowledge float64, bpb []float64, baseBPB float64) {
	withK, withB := knowledge != nil, bpb != nil
	ew.printf("| after |")
	for _, t := range tasks {
		ew.printf(" %s |", mdEscape(t))
	}
	cols := len(tasks)
	if withK {
		ew.printf(" base knowledge |")
		cols++
	}
	if withB {
		ew.printf(" bpb |")
		cols++
	}
	ew.printf("\n| --- |%s\n", strings.Repeat(" ---: |", cols))
	row := func(label string, scores []float64, k, b float64) {
		ew.printf("| %s |", label)
		for j := range tasks {
			ew.printf(" %s |", mdFloat(at(scores, j)))
		}
		if withK {
			ew.printf(" %s |", mdFloat(k))
		}
		if withB {
			ew.printf(" %s |", mdFloat(b))
		}
		ew.printf("\n")
	}
	if base != nil || withK || withB {
		row("base model", base, baseKnowledge, baseBPB)
	}
	for i, r := range rows {
		row(fmt.Sprintf("%d: %s", i+1, mdEscape(tasks[i])), r, at(knowledge, i), at(bpb, i))
	}
}

// WriteCSV writes the summary as CSV: a header row "method,setting,acquisition,acquisition_trained,
// retention,delta_bpb,acc,bwt,fwt,forgetting,avg_inc_acc,rounds" (the columns of WriteMarkdown's
// summary; means over the seeds for an aggregate), then "seeds" and, for each column but rounds, its
// 95% Student-t interval as NAME_lo and NAME_hi; then one row per method, numbers in full precision
// and undefined values (an interval of a single run) as empty fields. The matrices are in the JSON.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := append([]string{"method", "setting"}, summaryColumns...)
	header = append(header, "seeds")
	for _, c := range summaryColumns[:len(summaryColumns)-1] {
		header = append(header, c+"_lo", c+"_hi")
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, mr := range r.Methods {
		rec := []string{mr.Method, mr.Setting}
		for _, x := range summary(mr) {
			rec = append(rec, csvFloat(x))
		}
		iv := mr.Intervals()
		rec = append(rec, strconv.Itoa(max(1, len(mr.Seeds))))
		for _, c := range summaryColumns[:len(summaryColumns)-1] {
			i, ok := iv[c]
			if !ok {
				i = Interval{Lo: math.NaN(), Hi: math.NaN()}
			}
			rec = append(rec, csvFloat(i.Lo), csvFloat(i.Hi))
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

// Save writes the report into dir (created if needed), each file atomically: report.md, report.csv
// and report.json. Package eval/plot's SaveReport writes the same files and the report's figures.
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
	return nil
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

func mdSigned(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%+.4f", x)
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
