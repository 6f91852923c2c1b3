package main

import (
	"strings"
	"testing"
)

// rawSample is BENCHMARKS.md as scripts/bench.sh -s15m writes it: the d128 output of a real run plus s15m
// lines written in the same formats (the PyTorch s15m section is a real run's output). Fences are
// written ~~~ and backticks ' so that it fits in a raw string literal; sample() puts them back.
const rawSample = `# Benchmarks

Written by 'scripts/bench.sh ' on 2026-11-27 (go1.26.8).

- CPU: Intel(R) Xeon(R) Processor, 2 cores, 23 GiB
- load average before the run: 1.08 1.48 1.43

## Backend 'go:ops_sequential'

~~~
BenchmarkForward/d128-2         	       2	 337074058 ns/op	         2.402 GFLOP/s	      1519 tok/s	 4029276 B/op	    2780 allocs/op
BenchmarkTrainStep/d128-2       	       2	1024754694 ns/op	         2.370 GFLOP/s	       499.6 tok/s	43992608 B/op	   22715 allocs/op
BenchmarkDecode/d128/B1-2       	       2	 774972653 ns/op	         0.2611 GFLOP/s	       171.3 decode-tok/s	        33.53 prefill-ms	       165.2 tok/s	80521584 B/op	  138413 allocs/op
BenchmarkDecode/d128/B16-2      	       2	15333372476 ns/op	         0.2112 GFLOP/s	       135.5 decode-tok/s	       336.5 prefill-ms	       133.6 tok/s	1115402368 B/op	  161482 allocs/op
ok  	github.com/accrete/accrete/model	88.835s
BenchmarkTrainStep/d128/fft-2         	       2	1788484655 ns/op	         1.997 GFLOP/s	      1216 ms/step	       125.8 peak-RSS-MB	       105.6 peak-heap-MB	       421.0 tok/s	42592604 B/op	   22875 allocs/op
BenchmarkTrainStep/d128/lora-2        	       2	1590543741 ns/op	         2.314 GFLOP/s	         0.8628 lora/fft	      1049 ms/step	       107.4 peak-RSS-MB	        85.86 peak-heap-MB	       487.9 tok/s	52122056 B/op	   63526 allocs/op
ok  	github.com/accrete/accrete/lora	14.931s
~~~

## Backend 'accrete'

~~~
BenchmarkForward/d128-2         	       2	  56913056 ns/op	        14.22 GFLOP/s	      8996 tok/s	76017952 B/op	    3072 allocs/op
BenchmarkTrainStep/d128-2       	       2	 224753217 ns/op	        10.81 GFLOP/s	      2278 tok/s	329983896 B/op	   22282 allocs/op
BenchmarkDecode/d128/B1-2       	       2	 105033662 ns/op	         1.927 GFLOP/s	      1260 decode-tok/s	         4.223 prefill-ms	      1219 tok/s	115652312 B/op	  171125 allocs/op
BenchmarkDecode/d128/B16-2      	       2	1234276972 ns/op	         2.623 GFLOP/s	      1727 decode-tok/s	        57.93 prefill-ms	      1659 tok/s	1746929088 B/op	  208117 allocs/op
BenchmarkTrainStep/s15m-2         	       2	26893412331 ns/op	         9.812 GFLOP/s	        76.15 tok/s	2119876544 B/op	   40211 allocs/op
BenchmarkDecode/s15m/B1-2         	       2	 874123456 ns/op	         4.011 GFLOP/s	       152.4 decode-tok/s	        31.07 prefill-ms	       147.1 tok/s	301234112 B/op	  181250 allocs/op
BenchmarkDecode/s15m/B16-2        	       2	4857123456 ns/op	         9.544 GFLOP/s	       431.7 decode-tok/s	       412.9 prefill-ms	       421.3 tok/s	3101234688 B/op	  222118 allocs/op
ok  	github.com/accrete/accrete/model	8.198s
BenchmarkTrainStep/d128/fft-2         	       2	 329155188 ns/op	        11.03 GFLOP/s	       220.1 ms/step	       124.0 peak-RSS-MB	       103.0 peak-heap-MB	      2326 tok/s	330644268 B/op	   22492 allocs/op
BenchmarkTrainStep/d128/lora-2        	       2	 382869752 ns/op	         8.580 GFLOP/s	         1.286 lora/fft	       283.0 ms/step	       110.0 peak-RSS-MB	        85.25 peak-heap-MB	      1809 tok/s	398569236 B/op	   63566 allocs/op
BenchmarkTrainStep/s15m/fft-2         	       2	27611234567 ns/op	         9.981 GFLOP/s	     27600 ms/step	      1423 peak-RSS-MB	      1290 peak-heap-MB	        74.20 tok/s	2121334272 B/op	   40377 allocs/op
BenchmarkTrainStep/s15m/lora-2        	       2	20771234567 ns/op	        13.27 GFLOP/s	         0.7505 lora/fft	     20770 ms/step	      1012 peak-RSS-MB	       880.4 peak-heap-MB	        98.60 tok/s	1977334272 B/op	  101377 allocs/op
ok  	github.com/accrete/accrete/lora	3.271s
~~~

## accrete backend kernels

~~~
BenchmarkMatMul1024/stock-2         	       3	 387808364 ns/op	         5.537 GFLOP/s	  207808 B/op	    4705 allocs/op
BenchmarkMatMul1024/accrete-2       	       3	  23984921 ns/op	        89.53 GFLOP/s	 4195616 B/op	      22 allocs/op
BenchmarkFFTStep/stock-2            	       3	 902445464 ns/op	         2.918 GFLOP/s	       567.3 tokens/s	17714626 B/op	    7575 allocs/op
BenchmarkFFTStep/accrete-2          	       3	 193775548 ns/op	        13.59 GFLOP/s	      2642 tokens/s	209118885 B/op	    7372 allocs/op
ok  	github.com/accrete/accrete/internal/cpubackend	6.115s
~~~

## PyTorch reference (Debian python3-torch, 'llama_ref.py bench --only fft-d128-b8,lora-d128-b8,gen-d128-b16,gen-d128-b1')

~~~
fft  d128  B8   T64 cfg 2:2:passive    894.5 ms/step    572.4 tok/s    2.7 GFLOP/s(6N)  peakRSS 305 MB  busy-before 0.0  steal 0.0
lora d128  B8   T64 cfg 2:2:passive    831.8 ms/step    615.5 tok/s    2.9 GFLOP/s(6N)  peakRSS 308 MB  busy-before 0.0  steal 0.0031
gen  d128  B1   cfg 2:2:passive    401.1 tok/s total (decode    416.6 tok/s, prefill 10.9 ms)  peakRSS 247 MB  busy-before 0.005  steal 0.0117
gen  d128  B16  cfg 2:2:passive    899.5 tok/s total (decode    976.7 tok/s, prefill 150.4 ms)  peakRSS 255 MB  busy-before 0.0  steal 0.0032

| case | shape | B×T | threads torch:blas:wait | median step (min) | tok/s | GFLOP/s (6N) | LoRA/FFT | peak RSS MB |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| fft | d128 | 8×64 | 2:2:passive | 894.5 ms (683.9) | 572 | 2.7 |  | 305 |
| lora | d128 | 8×64 | 2:2:passive | 831.8 ms (679.6) | 616 | 2.9 | 0.93 | 308 |

| generation (greedy, KV cache) | shape | batch | threads torch:blas:wait | prompt+new | total tok/s (incl. prefill) | decode tok/s | prefill ms | peak RSS MB |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| gen | d128 | 1 | 2:2:passive | 16+128 | 401 | 417 | 10.9 | 247 |
| gen | d128 | 16 | 2:2:passive | 16+128 | 899 | 977 | 150.4 | 255 |
~~~

## PyTorch reference, stories15M shape ('llama_ref.py bench --quick --only fft-s15m-b8,lora-s15m-b8,gen-s15m-b16,gen-s15m-b1': 1 warm-up and 3 timed steps)

~~~
fft  s15m  B8   T256 cfg 2:2:passive 106388.6 ms/step     19.3 tok/s    1.8 GFLOP/s(6N)  peakRSS 1855 MB  busy-before 0.005  steal 0.0026
lora s15m  B8   T256 cfg 2:2:passive  79021.5 ms/step     25.9 tok/s    2.4 GFLOP/s(6N)  peakRSS 1911 MB  busy-before 0.91  steal 0.0011
gen  s15m  B1   cfg 2:2:passive     40.3 tok/s total (decode     41.9 tok/s, prefill 149.5 ms)  peakRSS 344 MB  busy-before 0.748  steal 0.001
gen  s15m  B16  cfg 2:2:passive     56.8 tok/s total (decode     59.9 tok/s, prefill 2085.4 ms)  peakRSS 344 MB  busy-before 0.589  steal 0.0013

| case | shape | B×T | threads torch:blas:wait | median step (min) | tok/s | GFLOP/s (6N) | LoRA/FFT | peak RSS MB |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| fft | s15m | 8×256 | 2:2:passive | 106388.6 ms (100039.8) | 19 | 1.8 |  | 1855 |
| lora | s15m | 8×256 | 2:2:passive | 79021.5 ms (62936.8) | 26 | 2.4 | 0.74 | 1911 |

| generation (greedy, KV cache) | shape | batch | threads torch:blas:wait | prompt+new | total tok/s (incl. prefill) | decode tok/s | prefill ms | peak RSS MB |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| gen | s15m | 1 | 2:2:passive | 16+128 | 40 | 42 | 149.5 | 344 |
| gen | s15m | 16 | 2:2:passive | 16+128 | 57 | 60 | 2085.4 | 344 |
~~~
`

func sample() string {
	return strings.NewReplacer("~~~", "```", "'", "`").Replace(rawSample)
}

// table runs the whole summary and returns its table rows, keyed by the first cell, as cells.
func table(t *testing.T, raw string) (map[string][]string, string) {
	t.Helper()
	r, err := parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := render(r)
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| benchmark |") || strings.HasPrefix(line, "| --- |") {
			continue
		}
		c := strings.Split(strings.Trim(line, "|"), "|")
		for i := range c {
			c[i] = strings.TrimSpace(c[i])
		}
		if len(c) != 6 {
			t.Fatalf("row %q has %d cells, want 6", line, len(c))
		}
		rows[c[0]] = c[1:]
	}
	return rows, out
}

func checkRows(t *testing.T, got map[string][]string, want map[string][]string) {
	t.Helper()
	for label, w := range want {
		g, ok := got[label]
		if !ok {
			t.Errorf("row %q missing", label)
			continue
		}
		if strings.Join(g, " | ") != strings.Join(w, " | ") {
			t.Errorf("row %q:\n got %q\nwant %q", label, g, w)
		}
	}
	for label := range got {
		if _, ok := want[label]; !ok {
			t.Errorf("unexpected row %q: %q", label, got[label])
		}
	}
}

var fullWant = map[string][]string{
	"FFT train step d128 B8 T64 (tok/s)":   {"421", "2,326", "572", "4.1×", "~9,700"},
	"LoRA step d128 B8 T64 (tok/s)":        {"488", "1,809", "616", "2.9×", "~10,100"},
	"FFT step s15m B8 T256 (tok/s)":        {"—", "74.2", "19.3", "3.8×", "~990"},
	"FFT step s15m B8 T256 (peak RSS MB)":  {"—", "1,423", "1,855", "0.77×", "—"},
	"LoRA step s15m B8 T256 (tok/s)":       {"—", "98.6", "25.9", "3.8×", "~1,190"},
	"LoRA step s15m B8 T256 (peak RSS MB)": {"—", "1,012", "1,911", "0.53×", "target ≤ 1.5 GB"},
	"decode d128 B1 (decode tok/s)":        {"171", "1,260", "417", "3.0×", "—"},
	"decode d128 B16 (decode tok/s)":       {"136", "1,727", "977", "1.8×", "—"},
	"decode s15m B1 (decode tok/s)":        {"—", "152", "41.9", "3.6×", "—"},
	"decode s15m B16 (decode tok/s)":       {"—", "432", "59.9", "7.2×", "~1,200"},
	"matmul 1024³ (GFLOP/s)":               {"5.54", "89.5", "—", "—", "206 (OpenBLAS)"},
}

func TestSummaryFull(t *testing.T) {
	rows, out := table(t, sample())
	checkRows(t, rows, fullWant)
	t.Logf("summary:\n%s", out)
	for _, s := range []string{"./lora's `BenchmarkTrainStep/<shape>/fft`", "--quick", "1.5 GB"} {
		if !strings.Contains(out, s) {
			t.Errorf("notes lack %q", s)
		}
	}
	if strings.Contains(out, "†") || strings.Contains(out, "did not run") {
		t.Errorf("unexpected fallback or missing-PyTorch note:\n%s", out)
	}
	// The row order is fixed.
	var order []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| benchmark") && !strings.HasPrefix(line, "| ---") {
			order = append(order, strings.TrimSpace(strings.Split(line, "|")[1]))
		}
	}
	if len(order) != 11 || order[0] != "FFT train step d128 B8 T64 (tok/s)" || order[10] != "matmul 1024³ (GFLOP/s)" {
		t.Errorf("row order %q", order)
	}
}

// A BENCHMARKS.md that already has a summary section gives the same summary.
func TestSummaryIdempotent(t *testing.T) {
	_, out := table(t, sample())
	raw := sample()
	i := strings.Index(raw, "## Backend")
	rows, _ := table(t, raw[:i]+"## Summary\n\n"+out+"\n"+raw[i:])
	checkRows(t, rows, fullWant)
}

func TestModelTrainStepFallback(t *testing.T) {
	var kept []string
	for _, line := range strings.Split(sample(), "\n") {
		if !strings.HasPrefix(line, "BenchmarkTrainStep/d128/") && !strings.HasPrefix(line, "BenchmarkTrainStep/s15m/") {
			kept = append(kept, line)
		}
	}
	rows, out := table(t, strings.Join(kept, "\n"))
	want := map[string][]string{
		"FFT train step d128 B8 T64 (tok/s)": {"500†", "2,278†", "572", "4.0×", "~9,700"},
		"LoRA step d128 B8 T64 (tok/s)":      {"—", "—", "616", "—", "~10,100"},
		"FFT step s15m B8 T256 (tok/s)":      {"—", "76.2†", "19.3", "3.9×", "~990"},
	}
	for label, w := range want {
		if strings.Join(rows[label], " | ") != strings.Join(w, " | ") {
			t.Errorf("row %q: got %q, want %q", label, rows[label], w)
		}
	}
	if !strings.Contains(out, "† ./lora's line is missing") {
		t.Errorf("no fallback note:\n%s", out)
	}
}

func TestNoPyTorch(t *testing.T) {
	raw := sample()
	raw = raw[:strings.Index(raw, "## PyTorch reference")] + "(PyTorch reference skipped: scripts/torchref/llama_ref.py or PyTorch (python3-torch) not found.)\n"
	rows, out := table(t, raw)
	for label, w := range fullWant {
		g := rows[label]
		if g == nil {
			t.Errorf("row %q missing", label)
			continue
		}
		if g[0] != w[0] || g[1] != w[1] || g[2] != "—" || g[3] != "—" || g[4] != w[4] {
			t.Errorf("row %q: got %q", label, g)
		}
	}
	if !strings.Contains(out, "did not run") {
		t.Errorf("no note on the missing PyTorch reference:\n%s", out)
	}
}

// With only llama_ref.py's markdown tables left (its per-case lines cut off by tail), PyTorch's
// values come from the tables.
func TestPyTorchTableOnly(t *testing.T) {
	var kept []string
	for _, line := range strings.Split(sample(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == "fft" || f[0] == "lora" || f[0] == "gen") {
			continue
		}
		kept = append(kept, line)
	}
	rows, _ := table(t, strings.Join(kept, "\n"))
	want := map[string][]string{
		"FFT train step d128 B8 T64 (tok/s)":   {"421", "2,326", "572", "4.1×", "~9,700"},
		"LoRA step s15m B8 T256 (peak RSS MB)": {"—", "1,012", "1,911", "0.53×", "target ≤ 1.5 GB"},
		"decode d128 B16 (decode tok/s)":       {"136", "1,727", "977", "1.8×", "—"},
		"decode s15m B1 (decode tok/s)":        {"—", "152", "42.0", "3.6×", "—"},
	}
	for label, w := range want {
		if strings.Join(rows[label], " | ") != strings.Join(w, " | ") {
			t.Errorf("row %q: got %q, want %q", label, rows[label], w)
		}
	}
}

// Malformed, truncated and failed lines give "—", never a crash or a wrong value.
func TestMalformed(t *testing.T) {
	raw := "# Benchmarks\n\n## Backend `go:ops_sequential`\n\n```\n" +
		"BenchmarkTrainStep/d128/fft-2\n" + // name only: output interleaved with logs
		"BenchmarkTrainStep/d128/lora-2  --- FAIL: BenchmarkTrainStep/d128/lora-2\n" +
		"BenchmarkDecode/d128/B1-2  2  abc ns/op  12 decode-tok/s\n" + // unparsable value ends the line
		"BenchmarkDecode/d128/B16-2  2  1234 ns/op  135.5\n" + // truncated: unit missing
		"FAIL\tgithub.com/accrete/accrete/model\t1.0s\n" +
		"```\n\n## Backend `accrete`\n\n```\n" +
		"BenchmarkTrainStep/d128/fft-2  2  1 ns/op  NaN tok/s  77 peak-RSS-MB\n" +
		"BenchmarkTrainStep/d128/lora-2  2  1 ns/op  1809 tok/s\n" +
		"```\n\n## accrete backend kernels\n\n" + // unclosed fence, no lines
		"## PyTorch reference (garbage)\n\n```\n" +
		"fft  d128  B8   T64 cfg 2:2:passive  tok/s\n" +
		"lora d128  Bx   T64 cfg 2:2:passive  615.5 tok/s\n" +
		"gen  d128  B1   cfg 2:2:passive  oops\n" +
		"| fft | d128 | 8×64 |\n" +
		"| gen | d128 | sixteen | 2:2:passive | 16+128 | 899 | 977 | 150.4 | 255 |\n" +
		"| case | shape | B×T | threads | median | tok/s | GFLOP/s | LoRA/FFT | peak RSS MB |\n" +
		"## PyTorch reference, stories15M shape\n"
	rows, _ := table(t, raw)
	checkRows(t, rows, map[string][]string{
		"LoRA step d128 B8 T64 (tok/s)": {"—", "1,809", "—", "—", "~10,100"},
	})

	for _, in := range []string{"", "# Benchmarks\n", "## Backend `accrete`\n", "## PyTorch reference\n|\n| |\n", "Benchmark\n## \n"} {
		rows, out := table(t, in)
		if len(rows) != 0 || !strings.Contains(out, "no benchmark results") {
			t.Errorf("input %q: got rows %q, output %q", in, rows, out)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {5.537, "5.54"}, {89.53, "89.5"}, {99.96, "100"}, {421.0, "421"}, {499.6, "500"},
		{2326, "2,326"}, {12345.6, "12,346"}, {1234567, "1,234,567"}, {0.8628, "0.863"}, {-1234.4, "-1,234"},
	} {
		if got := fmtNum(c.v); got != c.want {
			t.Errorf("fmtNum(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		v    float64
		want string
	}{
		{4.0636, "4.1×"}, {0.5296, "0.53×"}, {1, "1.0×"}, {9.96, "10×"}, {12.3, "12×"}, {123, "120×"},
		{1234, "1,200×"}, {0.0456, "0.046×"},
	} {
		if got := fmtRatio(c.v); got != c.want {
			t.Errorf("fmtRatio(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestPyTorchMatmul checks that bench.sh's torch.mm line fills the matmul row's PyTorch cells.
func TestPyTorchMatmul(t *testing.T) {
	raw := "## accrete backend kernels\n\n```\n" +
		"BenchmarkMatMul1024/stock-2 3 396833702 ns/op 5.412 GFLOP/s\n" +
		"BenchmarkMatMul1024/accrete-2 3 12393050 ns/op 173.3 GFLOP/s\n```\n\n" +
		"## PyTorch reference (x)\n\n```\nmatmul 1024^3 torch.mm (2 threads): 151.2 GFLOP/s\n```\n"
	rows, _ := table(t, raw)
	checkRows(t, rows, map[string][]string{"matmul 1024³ (GFLOP/s)": {"5.41", "173", "151", "1.1×", "206 (OpenBLAS)"}})
}

func TestRealShapes(t *testing.T) {
	raw := "## Real shapes, backend `accrete`\n\n```\n" +
		"BenchmarkRealShape/lora-tl1b-b1-2 \t 1 \t 123 ns/op \t 4.1 load-s \t 2500 ms/step \t 5100 peak-RSS-MB \t 51.2 tok/s\n" +
		"BenchmarkRealShape/lora-tl1b-b1-bf16-2 \t 1 \t 123 ns/op \t 2500 ms/step \t 2900 peak-RSS-MB \t 60 tok/s\n" +
		"BenchmarkRealShape/gen-smol-b1-2 \t 1 \t 123 ns/op \t 44.5 decode-tok/s \t 1127 peak-RSS-MB \t 44.2 tok/s\n" +
		"```\n\n## PyTorch reference, real shapes\n\n```\n" +
		"lora tl1b  B1   T128 cfg 2:2:passive     3011.2 ms/step     42.5 tok/s   10.0 GFLOP/s(6N)  peakRSS 5675 MB  busy-before 0.0  steal 0.0\n" +
		"gen  smol  B1   cfg 2:2:passive       26.9 tok/s total (decode     27.0 tok/s, prefill 60.1 ms)  peakRSS 766 MB  busy-before 0.0  steal 0.0\n" +
		"```\n"
	r, err := parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := render(r)
	for _, want := range []string{
		"| LoRA step, TinyLlama-1.1B shape, B1 T128 | 51.2 | 42.5 | 1.2× | 5,100 | 5,675 | 0.90× |",
		"| LoRA step, TinyLlama-1.1B shape, B1 T128, bf16 base | 60.0 | 42.5 | 1.4× | 2,900 | 5,675 | 0.51× |",
		"| greedy decoding, SmolLM2-135M shape, B1 | 44.5 | 27.0 | 1.6× | 1,127 | 766 | 1.5× |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing row %q in:\n%s", want, out)
		}
	}
}
