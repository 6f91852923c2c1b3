package lora

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model"
)

// Real-shape benchmarks (issues 14 and 15): LoRA and full fine-tuning steps and greedy decoding on
// random-weight checkpoints of real models' shapes, written in Hugging Face's layout (bf16, sharded)
// and loaded from the files as a user's checkpoint would be. The cases are the PyTorch reference's
// opt-in real shapes (scripts/torchref/llama_ref.py bench --only fft-smol-b4,lora-smol-b4,
// gen-smol-b1,gen-smol-b16,lora-tl1b-b1), each with the base weights held as float32 and, where the
// weights are frozen, as bfloat16; and LoRA steps at Llama-3.2-3B's and Llama-3.1-8B's shapes with
// bfloat16 base weights. Each case runs in its own process (scripts/bench-real.sh), so that its
// peak RSS, read from the kernel (VmHWM) at the end, covers loading the checkpoint and nothing else,
// as PyTorch's ru_maxrss does.
//
//	go test ./lora -run '^$' -bench 'BenchmarkRealShape/write-smol$' -benchtime 1x   # writes the checkpoint
//	go test ./lora -run '^$' -bench 'BenchmarkRealShape/lora-smol-b4$' -benchtime 1x
//
// The checkpoints go to $ACCRETE_REALSHAPE_DIR (default out/realshape at the repository root).

var (
	llama3B = model.Config{HiddenSize: 3072, IntermediateSize: 8192, NumHiddenLayers: 28, NumAttentionHeads: 24,
		NumKeyValueHeads: 8, HeadDim: 128, VocabSize: 128256, RopeTheta: 500000, TieWordEmbeddings: true}
	llama8B = model.Config{HiddenSize: 4096, IntermediateSize: 14336, NumHiddenLayers: 32, NumAttentionHeads: 32,
		NumKeyValueHeads: 8, HeadDim: 128, VocabSize: 128256, RopeTheta: 500000}
	realShapes = map[string]model.Config{"smol": smolConfig, "tl1b": tinyLlamaConfig, "l3b": llama3B, "l8b": llama8B}
)

// realCase is one case: kind fft, lora or gen; batch B; for training, sequence length T; bf16: the base
// weights are held as bfloat16.
type realCase struct {
	kind, shape string
	B, T        int
	bf16        bool
	recompute   bool // TrainConfig.Recompute
	// memlimit sets the Go runtime's soft memory limit (what GOMEMLIMIT sets) to the run's memory plan
	// without the garbage collector's slack, or to 1.25× the resident memory after loading if that
	// is more. By default (GOGC=100) the collector lets garbage grow to the size of the live heap,
	// which here is mostly the weights; PyTorch frees by reference count and holds no such slack.
	memlimit bool
	steps    int // timed training steps
}

func (c realCase) name() string {
	n := fmt.Sprintf("%s-%s-b%d", c.kind, c.shape, c.B)
	if c.T > 128 {
		n += fmt.Sprintf("-t%d", c.T)
	}
	if c.bf16 {
		n += "-bf16"
	}
	if c.recompute {
		n += "-recompute"
	}
	if c.memlimit {
		n += "-memlimit"
	}
	return n
}

var realCases = []realCase{
	{kind: "fft", shape: "smol", B: 4, T: 128, steps: 5},
	{kind: "lora", shape: "smol", B: 4, T: 128, steps: 7},
	{kind: "lora", shape: "smol", B: 4, T: 128, bf16: true, steps: 7},
	{kind: "gen", shape: "smol", B: 1},
	{kind: "gen", shape: "smol", B: 1, memlimit: true},
	{kind: "gen", shape: "smol", B: 1, bf16: true},
	{kind: "gen", shape: "smol", B: 16},
	{kind: "gen", shape: "smol", B: 16, memlimit: true},
	{kind: "gen", shape: "smol", B: 16, bf16: true},
	{kind: "lora", shape: "tl1b", B: 1, T: 128, steps: 5},
	{kind: "lora", shape: "tl1b", B: 1, T: 128, bf16: true, steps: 5},
	{kind: "lora", shape: "tl1b", B: 1, T: 1024, bf16: true, steps: 2},
	{kind: "lora", shape: "tl1b", B: 1, T: 1024, bf16: true, recompute: true, steps: 2},
	{kind: "lora", shape: "l3b", B: 1, T: 128, bf16: true, steps: 3},
	{kind: "lora", shape: "l8b", B: 1, T: 128, bf16: true, steps: 2},
}

func realShapeDir(shape string) string {
	root := os.Getenv("ACCRETE_REALSHAPE_DIR")
	if root == "" {
		root = filepath.Join("..", "out", "realshape") // tests run in lora/
	}
	return filepath.Join(root, shape)
}

// writeRealShape writes a random checkpoint of cfg: weights N(0, 0.02²), norms 1, as bf16 in shards
// of at most 2 GB, one tensor drawn at a time so that writing an 8B model needs its bf16 size.
func writeRealShape(cfg model.Config, dir string) error {
	names, shapes := cfg.TensorShapes()
	rng := rand.New(rand.NewPCG(2024, 10))
	w := make(model.Weights, len(names))
	for _, name := range names {
		t := model.NewTensor(shapes[name]...)
		for i := range t.Data {
			if len(t.Shape) == 1 {
				t.Data[i] = 1
			} else {
				t.Data[i] = float32(0.02 * rng.NormFloat64())
			}
		}
		w[name] = t
		if err := w.ToBF16(name); err != nil {
			return err
		}
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := model.SaveHF(tmp, cfg, w, model.SaveOptions{DType: "BF16", MaxShardBytes: 2 << 30}); err != nil {
		return err
	}
	return os.Rename(tmp, dir) // a checkpoint appears whole or not at all
}

// memLimit is a case's soft memory limit: its memory plan less the garbage collector's slack
// (Plan.Transient), or 1.25× the resident memory now, after loading, whichever is more.
func memLimit(cfg model.Config, c realCase) int64 {
	o := PlanOptions{Method: Method(c.kind), Batch: c.B, SeqLen: c.T, Recompute: c.recompute}
	if c.kind == "gen" {
		o.Method, o.SeqLen = MethodDecode, 16+128
	}
	if c.bf16 {
		o.DType = BF16
	}
	p := PlanMemory(cfg, o)
	return max(p.Total()-p.Transient, int64(vmRSS()*1.25e6))
}

// vmRSS returns the process's resident set now (MB).
func vmRSS() float64 { return procStatusMB("VmRSS:") }

// vmHWM returns the process's peak resident set (MB) as the kernel reports it.
func vmHWM() float64 { return procStatusMB("VmHWM:") }

// procStatusMB reads one kB field of /proc/self/status, in MB (0 where there is none).
func procStatusMB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024 * 1.048576 // kB → MB
		}
	}
	return 0
}

func BenchmarkRealShape(b *testing.B) {
	for shape, cfg := range realShapes {
		b.Run("write-"+shape, func(b *testing.B) {
			dir := realShapeDir(shape)
			if _, err := os.Stat(filepath.Join(dir, model.ConfigFile)); err == nil {
				b.Skipf("%s exists", dir)
			}
			require.NoError(b, writeRealShape(cfg, dir))
		})
	}
	for _, c := range realCases {
		b.Run(c.name(), func(b *testing.B) {
			if testing.Short() {
				b.Skip("real shapes: run without -short, one case per process (scripts/bench-real.sh)")
			}
			dir := realShapeDir(c.shape)
			if _, err := os.Stat(filepath.Join(dir, model.ConfigFile)); err != nil {
				b.Skipf("no checkpoint at %s: run BenchmarkRealShape/write-%s first", dir, c.shape)
			}
			t0 := time.Now()
			cfg, w, err := model.LoadHFWith(dir, model.LoadOptions{BF16: c.bf16})
			require.NoError(b, err)
			be, err := model.Backend()
			require.NoError(b, err)
			m, err := model.New(be, cfg, w)
			require.NoError(b, err)
			b.ReportMetric(time.Since(t0).Seconds(), "load-s")
			if c.memlimit {
				limit := memLimit(cfg, c)
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(limit))
				b.ReportMetric(float64(limit)/1e6, "memlimit-MB")
			}
			rng := rand.New(rand.NewPCG(1, 1))
			if c.kind == "gen" {
				realDecode(b, m, c, rng)
			} else {
				realTrain(b, m, c, rng)
			}
			b.ReportMetric(vmHWM(), "peak-RSS-MB")
		})
	}
}

func realTrain(b *testing.B, m *model.Model, c realCase, rng *rand.Rand) {
	trainable, data := benchRun(b, m, c.kind, (c.steps+1)*c.B, c.T, rng)
	cfg := TrainConfig{LearningRate: 1e-4, WeightDecay: 0.01, BatchSize: c.B, Seed: 1, Recompute: c.recompute}
	run := func(steps int) time.Duration {
		cfg.MaxSteps = steps
		start := time.Now()
		res, err := Train(context.Background(), m, trainable, data[:steps*c.B], cfg)
		require.NoError(b, err)
		require.Equal(b, steps, res.Steps)
		return time.Since(start)
	}
	run(1)        // warms the backend's buffer pool, so that neither timed call pays for first use
	one := run(1) // graph building, one step and the restore snapshot
	all := run(c.steps + 1)
	step := max(all-one, time.Millisecond) / time.Duration(c.steps)
	b.ReportMetric(float64(step.Microseconds())/1e3, "ms/step")
	b.ReportMetric(float64(c.B*c.T)/step.Seconds(), "tok/s")
}

func realDecode(b *testing.B, m *model.Model, c realCase, rng *rand.Rand) {
	const prompt, newTokens = 16, 128
	prompts := make([][]int, c.B)
	for i := range prompts {
		prompts[i] = make([]int, prompt)
		for j := range prompts[i] {
			prompts[i][j] = rng.IntN(m.Config.VocabSize)
		}
	}
	ctx := context.Background()
	opt := model.GenerateOptions{MaxNewTokens: newTokens, StopTokens: []int{}}
	_, err := m.Generate(ctx, prompts, opt) // compile outside the timing
	require.NoError(b, err)
	pre := opt
	pre.Stop = func(int, []int) bool { return true }
	t0 := time.Now()
	_, err = m.Generate(ctx, prompts, pre)
	require.NoError(b, err)
	prefill := time.Since(t0)
	var runs []time.Duration
	for range 3 {
		t0 := time.Now()
		out, err := m.Generate(ctx, prompts, opt)
		require.NoError(b, err)
		require.Len(b, out[c.B-1], newTokens)
		runs = append(runs, time.Since(t0))
	}
	slices.Sort(runs)
	total := runs[1]
	b.ReportMetric(float64(c.B*newTokens)/total.Seconds(), "tok/s")
	b.ReportMetric(float64(c.B*(newTokens-1))/(total-prefill).Seconds(), "decode-tok/s")
	b.ReportMetric(float64(prefill.Microseconds())/1e3, "prefill-ms")
}
