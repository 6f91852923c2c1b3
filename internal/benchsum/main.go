// Command benchsum reads the raw markdown that scripts/bench.sh collects (Go benchmark output for the
// stock "go:ops_sequential" backend and the "accrete" backend, the accrete kernel benchmarks, and the
// PyTorch reference's `llama_ref.py bench` output) and prints a markdown table that summarises it: one
// row per headline figure, with columns for the stock backend, the accrete backend, PyTorch on the same
// machine, the ratio accrete ÷ PyTorch, and the PyTorch figures quoted in issue 8, followed by notes.
//
// Usage:
//
//	go run ./internal/benchsum [FILE]   # reads standard input without FILE
//
// scripts/bench.sh runs it to put a "## Summary" section at the top of BENCHMARKS.md. Only rows with at
// least one measured value are printed; a value that is missing (a benchmark that was not run, failed,
// or printed a line benchsum cannot parse) shows as "—". It is internal plumbing, not API.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	var in io.Reader = os.Stdin
	switch len(os.Args) {
	case 1:
	case 2:
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchsum:", err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	default:
		fmt.Fprintln(os.Stderr, "usage: benchsum [BENCHMARKS.md]   (reads standard input without an argument)")
		os.Exit(2)
	}
	r, err := parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsum:", err)
		os.Exit(1)
	}
	fmt.Print(render(r))
}

// metrics are one Go benchmark line's values by unit ("tok/s", "peak-RSS-MB", ...).
type metrics map[string]float64

// results is what parse finds in the raw markdown.
type results struct {
	stock, accrete, kernels map[string]metrics // benchmark name without the -GOMAXPROCS suffix
	torch                   map[string]metrics // "fft d128 B8 T64", "gen s15m B16": "tok/s", "decode tok/s", "peakRSS MB"
	torchTable              map[string]metrics // the same from llama_ref.py's markdown tables (a fallback)
	torchSection            bool               // a "## PyTorch reference" heading was seen
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads the raw markdown section by section. Lines it does not recognise are ignored.
func parse(in io.Reader) (*results, error) {
	r := &results{stock: map[string]metrics{}, accrete: map[string]metrics{}, kernels: map[string]metrics{},
		torch: map[string]metrics{}, torchTable: map[string]metrics{}}
	var goSec map[string]metrics // the section Go benchmark lines go to; nil outside those sections
	inTorch := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if h, ok := strings.CutPrefix(line, "## "); ok {
			goSec, inTorch = nil, false
			switch {
			case h == "Backend `accrete`" || strings.HasPrefix(h, "Real shapes"):
				goSec = r.accrete
			case strings.HasPrefix(h, "Backend `"):
				goSec = r.stock
			case strings.HasPrefix(h, "accrete backend kernels"):
				goSec = r.kernels
			case strings.HasPrefix(h, "PyTorch reference"):
				inTorch, r.torchSection = true, true
			}
			continue
		}
		switch {
		case goSec != nil:
			if name, m, ok := parseGoBench(line); ok {
				if _, dup := goSec[name]; !dup {
					goSec[name] = m
				}
			}
		case inTorch:
			if key, m, ok := parseTorchLine(line); ok {
				r.torch[key] = m
			} else if key, m, ok := parseTorchTableRow(line); ok {
				r.torchTable[key] = m
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for k, m := range r.torchTable {
		if _, ok := r.torch[k]; !ok {
			r.torch[k] = m
		}
	}
	return r, nil
}

// parseGoBench parses a `go test -bench` result line: name, iterations, then value-unit pairs. A pair
// whose value does not parse ends the line (what came before it is kept).
func parseGoBench(line string) (string, metrics, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", nil, false
	}
	m := metrics{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			break
		}
		m[f[i+1]] = v
	}
	if len(m) == 0 {
		return "", nil, false
	}
	return procSuffix.ReplaceAllString(f[0], ""), m, true
}

// parseTorchLine parses one of llama_ref.py bench's per-case lines:
//
//	fft  d128  B8   T64 cfg 2:2:passive    894.5 ms/step    572.4 tok/s    2.7 GFLOP/s(6N)  peakRSS 305 MB  ...
//	gen  d128  B16  cfg 2:2:passive    899.5 tok/s total (decode    976.7 tok/s, prefill 150.4 ms)  peakRSS 255 MB  ...
func parseTorchLine(line string) (string, metrics, bool) {
	f := strings.Fields(line)
	// bench.sh's own line: "matmul 1024^3 torch.mm (2 threads): 151.2 GFLOP/s"
	if len(f) >= 3 && f[0] == "matmul" && f[1] == "1024^3" {
		if v, ok := valueBefore(f, "GFLOP/s"); ok {
			return "matmul 1024", metrics{"GFLOP/s": v}, true
		}
		return "", nil, false
	}
	if len(f) < 4 {
		return "", nil, false
	}
	kind, shape, batch := f[0], f[1], f[2]
	if !strings.HasPrefix(batch, "B") || !isInt(batch[1:]) {
		return "", nil, false
	}
	m := metrics{}
	var key string
	switch kind {
	case "fft", "lora":
		if !strings.HasPrefix(f[3], "T") || !isInt(f[3][1:]) {
			return "", nil, false
		}
		key = kind + " " + shape + " " + batch + " " + f[3]
		if v, ok := valueBefore(f, "tok/s"); ok {
			m["tok/s"] = v
		}
	case "gen":
		key = kind + " " + shape + " " + batch
		if v, ok := valueBefore(f, "tok/s"); ok {
			m["tok/s"] = v
		}
		if v, ok := valueAfter(f, "(decode"); ok {
			m["decode tok/s"] = v
		}
	default:
		return "", nil, false
	}
	if v, ok := valueAfter(f, "peakRSS"); ok {
		m["peakRSS MB"] = v
	}
	if len(m) == 0 {
		return "", nil, false
	}
	return key, m, true
}

// parseTorchTableRow parses a row of llama_ref.py bench's markdown tables, used when the per-case line
// is missing (the script keeps only the output's last 40 lines):
//
//	| fft | d128 | 8×64 | 2:2:passive | 894.5 ms (683.9) | 572 | 2.7 |  | 305 |
//	| gen | d128 | 16 | 2:2:passive | 16+128 | 899 | 977 | 150.4 | 255 |
func parseTorchTableRow(line string) (string, metrics, bool) {
	if !strings.HasPrefix(line, "|") {
		return "", nil, false
	}
	c := strings.Split(strings.Trim(line, "|"), "|")
	for i := range c {
		c[i] = strings.TrimSpace(c[i])
	}
	if len(c) < 9 {
		return "", nil, false
	}
	m := metrics{}
	var key string
	switch c[0] {
	case "fft", "lora":
		b, t, ok := strings.Cut(c[2], "×")
		if !ok || !isInt(b) || !isInt(t) {
			return "", nil, false
		}
		key = c[0] + " " + c[1] + " B" + b + " T" + t
		if v, ok := num(c[5]); ok {
			m["tok/s"] = v
		}
	case "gen":
		if !isInt(c[2]) {
			return "", nil, false
		}
		key = "gen " + c[1] + " B" + c[2]
		if v, ok := num(c[5]); ok {
			m["tok/s"] = v
		}
		if v, ok := num(c[6]); ok {
			m["decode tok/s"] = v
		}
	default:
		return "", nil, false
	}
	if v, ok := num(c[8]); ok {
		m["peakRSS MB"] = v
	}
	if len(m) == 0 {
		return "", nil, false
	}
	return key, m, true
}

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

func num(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimRight(s, ","), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// valueBefore returns the number just before the first field equal to unit.
func valueBefore(f []string, unit string) (float64, bool) {
	for i := 1; i < len(f); i++ {
		if f[i] == unit {
			return num(f[i-1])
		}
	}
	return 0, false
}

// valueAfter returns the number just after the first field equal to label.
func valueAfter(f []string, label string) (float64, bool) {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == label {
			return num(f[i+1])
		}
	}
	return 0, false
}

// cell is one measured value; mark is appended to it (a footnote sign).
type cell struct {
	v    float64
	ok   bool
	mark string
}

type row struct {
	label             string
	stock, acc, torch cell
	issue             string
}

// fallbackMark flags a train-step value taken from ./model's BenchmarkTrainStep because ./lora's line
// was missing.
const fallbackMark = "†"

// pick returns the value of unit in the first of names that sec has; the names after the first are
// fallbacks, and a value from them carries fallbackMark.
func pick(sec map[string]metrics, unit string, names ...string) cell {
	for i, n := range names {
		if v, ok := sec[n][unit]; ok {
			c := cell{v: v, ok: true}
			if i > 0 {
				c.mark = fallbackMark
			}
			return c
		}
	}
	return cell{}
}

func torchCell(r *results, key, unit string) cell {
	v, ok := r.torch[key][unit]
	return cell{v: v, ok: ok}
}

// rows builds the summary rows in order, keeping those with at least one measured value.
func rows(r *results) []row {
	var out []row
	add := func(x row) {
		if x.stock.ok || x.acc.ok || x.torch.ok {
			out = append(out, x)
		}
	}
	train := func(sec map[string]metrics, shape, mode, unit string) cell {
		names := []string{"BenchmarkTrainStep/" + shape + "/" + mode}
		if mode == "fft" && unit == "tok/s" {
			names = append(names, "BenchmarkTrainStep/"+shape)
		}
		return pick(sec, unit, names...)
	}
	type trainRow struct{ label, shape, mode, torchKey, unit, torchUnit, issue string }
	for _, t := range []trainRow{
		{"FFT train step d128 B8 T64 (tok/s)", "d128", "fft", "fft d128 B8 T64", "tok/s", "tok/s", "~9,700"},
		{"LoRA step d128 B8 T64 (tok/s)", "d128", "lora", "lora d128 B8 T64", "tok/s", "tok/s", "~10,100"},
		{"FFT step s15m B8 T256 (tok/s)", "s15m", "fft", "fft s15m B8 T256", "tok/s", "tok/s", "~990"},
		{"FFT step s15m B8 T256 (peak RSS MB)", "s15m", "fft", "fft s15m B8 T256", "peak-RSS-MB", "peakRSS MB", "—"},
		{"LoRA step s15m B8 T256 (tok/s)", "s15m", "lora", "lora s15m B8 T256", "tok/s", "tok/s", "~1,190"},
		{"LoRA step s15m B8 T256 (peak RSS MB)", "s15m", "lora", "lora s15m B8 T256", "peak-RSS-MB", "peakRSS MB", "target ≤ 1.5 GB"},
	} {
		add(row{label: t.label, stock: train(r.stock, t.shape, t.mode, t.unit), acc: train(r.accrete, t.shape, t.mode, t.unit),
			torch: torchCell(r, t.torchKey, t.torchUnit), issue: t.issue})
	}
	for _, d := range []struct{ shape, batch, issue string }{
		{"d128", "B1", "—"}, {"d128", "B16", "—"}, {"s15m", "B1", "—"}, {"s15m", "B16", "~1,200"},
	} {
		name := "BenchmarkDecode/" + d.shape + "/" + d.batch
		add(row{label: "decode " + d.shape + " " + d.batch + " (decode tok/s)",
			stock: pick(r.stock, "decode-tok/s", name), acc: pick(r.accrete, "decode-tok/s", name),
			torch: torchCell(r, "gen "+d.shape+" "+d.batch, "decode tok/s"), issue: d.issue})
	}
	for _, shape := range []string{"d128", "s15m"} {
		for _, mode := range []string{"fft", "lora"} {
			for _, layout := range []string{"host", "device"} {
				name := "BenchmarkTrainLayout/" + shape + "/" + mode + "/" + layout
				add(row{label: fmt.Sprintf("%s step %s, %s layout (tok/s)", map[string]string{"fft": "FFT", "lora": "LoRA"}[mode], shape, layout),
					stock: pick(r.stock, "tok/s", name), acc: pick(r.accrete, "tok/s", name), issue: "—"})
			}
		}
	}
	add(row{label: "matmul 1024³ (GFLOP/s)", stock: pick(r.kernels, "GFLOP/s", "BenchmarkMatMul1024/stock"),
		acc: pick(r.kernels, "GFLOP/s", "BenchmarkMatMul1024/accrete"), torch: torchCell(r, "matmul 1024", "GFLOP/s"),
		issue: "206 (OpenBLAS)"})
	return out
}

// realCases are lora's BenchmarkRealShape cases in table order: the case, the PyTorch reference's key
// for it, and the weights' storage.
var realCases = []struct{ name, torchKey, label string }{
	{"fft-smol-b4", "fft smol B4 T128", "FFT step, SmolLM2-135M shape, B4 T128"},
	{"lora-smol-b4", "lora smol B4 T128", "LoRA step, SmolLM2-135M shape, B4 T128"},
	{"lora-smol-b4-bf16", "lora smol B4 T128", "LoRA step, SmolLM2-135M shape, B4 T128, bf16 base"},
	{"gen-smol-b1", "gen smol B1", "greedy decoding, SmolLM2-135M shape, B1"},
	{"gen-smol-b1-memlimit", "gen smol B1", "the same, Go soft memory limit (GOMEMLIMIT) at the plan"},
	{"gen-smol-b1-bf16", "gen smol B1", "greedy decoding, SmolLM2-135M shape, B1, bf16 weights"},
	{"gen-smol-b16", "gen smol B16", "greedy decoding, SmolLM2-135M shape, B16"},
	{"gen-smol-b16-memlimit", "gen smol B16", "the same, Go soft memory limit (GOMEMLIMIT) at the plan"},
	{"gen-smol-b16-bf16", "gen smol B16", "greedy decoding, SmolLM2-135M shape, B16, bf16 weights"},
	{"lora-tl1b-b1", "lora tl1b B1 T128", "LoRA step, TinyLlama-1.1B shape, B1 T128"},
	{"lora-tl1b-b1-bf16", "lora tl1b B1 T128", "LoRA step, TinyLlama-1.1B shape, B1 T128, bf16 base"},
	{"lora-tl1b-b1-t1024-bf16", "lora tl1b B1 T1024", "LoRA step, TinyLlama-1.1B shape, B1 T1024, bf16 base"},
	{"lora-tl1b-b1-t1024-bf16-recompute", "lora tl1b B1 T1024", "the same, activations recomputed (TrainConfig.Recompute)"},
	{"lora-l3b-b1-bf16", "lora l3b B1 T128", "LoRA step, Llama-3.2-3B shape, B1 T128, bf16 base"},
	{"lora-l8b-b1-bf16", "lora l8b B1 T128", "LoRA step, Llama-3.1-8B shape, B1 T128, bf16 base"},
}

// renderReal prints the real-shape table: tok/s (decode tok/s for decoding) and peak RSS beside the
// PyTorch reference's, with their ratios; "" when no real-shape case ran.
func renderReal(r *results) string {
	var b strings.Builder
	for _, c := range realCases {
		m, ok := r.accrete["BenchmarkRealShape/"+c.name]
		if !ok {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("| real shape (random weights from bf16 checkpoint files) | accrete tok/s | PyTorch tok/s | ÷ | accrete peak RSS MB | PyTorch peak RSS MB | ÷ |\n")
			b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		}
		unit, tunit := "tok/s", "tok/s"
		if strings.HasPrefix(c.name, "gen-") {
			unit, tunit = "decode-tok/s", "decode tok/s"
		}
		acc, accOK := m[unit]
		rss, rssOK := m["peak-RSS-MB"]
		tt := torchCell(r, c.torchKey, tunit)
		tr := torchCell(r, c.torchKey, "peakRSS MB")
		ratio := func(a float64, aok bool, t cell) string {
			if !aok || !t.ok || t.v <= 0 {
				return "—"
			}
			return fmtRatio(a / t.v)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", c.label, fmtCell(cell{v: acc, ok: accOK}), fmtCell(tt),
			ratio(acc, accOK, tt), fmtCell(cell{v: rss, ok: rssOK}), fmtCell(tr), ratio(rss, rssOK, tr))
	}
	if b.Len() == 0 {
		return ""
	}
	b.WriteString("\n- Each case ran in its own process (lora's `BenchmarkRealShape/<case>`, PyTorch's `llama_ref.py bench --only`), " +
		"and its peak RSS is the whole process's (the kernel's VmHWM; PyTorch's ru_maxrss): accrete's includes loading the " +
		"checkpoint files, PyTorch's its random initialisation in float32. Decoding rows compare decode tok/s (prefill excluded), " +
		"16 prompt + 128 new tokens. In the RSS column, ÷ below 1× means accrete uses less memory. PyTorch holds every weight " +
		"as float32; the bf16 rows compare accrete's bf16-stored base weights with that. The memlimit rows set Go's soft memory limit " +
		"(debug.SetMemoryLimit, which GOMEMLIMIT sets) to the run's memory plan without the garbage collector's slack: by default " +
		"(GOGC=100) Go lets garbage grow to the size of the live heap, here mostly the weights, where PyTorch frees by reference count.\n")
	return b.String()
}

// render prints the tables and the notes under them.
func render(r *results) string {
	rs := rows(r)
	var b strings.Builder
	real := renderReal(r)
	if len(rs) == 0 {
		if real != "" {
			return real
		}
		b.WriteString("(no benchmark results found in the raw output)\n")
		return b.String()
	}
	b.WriteString("| benchmark | stock backend | accrete backend | PyTorch, this machine | accrete ÷ PyTorch | PyTorch in issue 8 (Zen 4) |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	marked, s15m, matmul := false, false, false
	for _, x := range rs {
		ratio := "—"
		if x.acc.ok && x.torch.ok && x.torch.v > 0 {
			ratio = fmtRatio(x.acc.v / x.torch.v)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.label, fmtCell(x.stock), fmtCell(x.acc), fmtCell(x.torch), ratio, x.issue)
		marked = marked || x.stock.mark != "" || x.acc.mark != ""
		s15m = s15m || strings.Contains(x.label, "s15m")
		matmul = matmul || strings.HasPrefix(x.label, "matmul")
	}
	b.WriteString("\n")
	b.WriteString("- The FFT and LoRA rows are ./lora's `BenchmarkTrainStep/<shape>/fft` and `/lora`, which time the same " +
		"AdamW-on-host training step that PyTorch's `llama_ref.py bench` times (./model's `BenchmarkTrainStep/<shape>`, " +
		"full fine-tuning through `lora.Train`, is in the raw output below).\n")
	if marked {
		b.WriteString("- " + fallbackMark + " ./lora's line is missing from the raw output; this value is ./model's " +
			"`BenchmarkTrainStep/<shape>` instead.\n")
	}
	if hasLayoutRows(r) {
		b.WriteString("- The layout rows are ./lora's `BenchmarkTrainLayout/<shape>/<mode>/<layout>`, the same training step with the " +
			"trained tensors and AdamW on the host (`LayoutHost`: gradients down and weights up every step, AdamW in Go) or in " +
			"device buffers (`LayoutDevice`: AdamW in the graph, donated buffers). `lora.Train` picks the host layout on the CPU " +
			"backends and the device layout elsewhere (`LayoutAuto`).\n")
	}
	b.WriteString("- Decode rows compare decode tok/s (prefill excluded) with PyTorch's `decode` figure: greedy with a KV cache, " +
		"16 prompt + 128 new tokens.\n")
	if s15m {
		b.WriteString("- The stock backend is not run on the stories15M (s15m) shape; PyTorch's s15m figures come from " +
			"`llama_ref.py bench --quick` (1 warm-up and 3 timed steps). In the peak-RSS rows, accrete ÷ PyTorch below 1× " +
			"means accrete uses less memory; the issue's target for LoRA on s15m is 1.5 GB.\n")
	}
	if matmul {
		b.WriteString("- PyTorch's matmul is `torch.mm` of two 1024×1024 float32 matrices on 2 threads, through the BLAS " +
			"named at the top; the issue's 206 GFLOP/s is OpenBLAS on its Zen 4 machine.\n")
	}
	if !r.torchSection {
		b.WriteString("- The PyTorch reference did not run (see the end of this file).\n")
	}
	b.WriteString("- The last column quotes PyTorch's figures from issue 8, measured on another machine (Zen 4); " +
		"the ratio column compares with PyTorch on this machine only.\n")
	if real != "" {
		b.WriteString("\n### Real shapes\n\n" + real)
	}
	return b.String()
}

func fmtCell(c cell) string {
	if !c.ok {
		return "—"
	}
	return fmtNum(c.v) + c.mark
}

// fmtNum prints v with thousands separators: as an integer from 100 up, with 3 significant digits below.
func fmtNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'e', 2, 64), 64)
	if math.Abs(r) >= 100 {
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	}
	if r == 0 {
		return "0"
	}
	dec := max(0, 2-int(math.Floor(math.Log10(math.Abs(r)))))
	return group(strconv.FormatFloat(r, 'f', dec, 64))
}

// fmtRatio prints a ratio with 2 significant digits and a "×".
func fmtRatio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'e', 1, 64), 64)
	if r == 0 {
		return "0×"
	}
	dec := max(0, 1-int(math.Floor(math.Log10(math.Abs(r)))))
	return group(strconv.FormatFloat(r, 'f', dec, 64)) + "×"
}

// group puts thousands separators into a formatted decimal number.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// hasLayoutRows reports whether any BenchmarkTrainLayout line was read.
func hasLayoutRows(r *results) bool {
	for _, sec := range []map[string]metrics{r.stock, r.accrete} {
		for name := range sec {
			if strings.HasPrefix(name, "BenchmarkTrainLayout/") {
				return true
			}
		}
	}
	return false
}
