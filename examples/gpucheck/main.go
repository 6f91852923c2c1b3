// Command gpucheck exercises accrete on the backend GOMLX_BACKEND names (an XLA GPU through a PJRT
// plugin, for scripts/gpu-check.sh): it compares the logits of a small random model with accrete's
// CPU backend, then takes LoRA and full fine-tuning steps and decodes on a Hugging Face checkpoint,
// printing tokens per second and the memory plan of each run.
//
//	go run ./examples/gpucheck -write DIR                   # a random Llama-3.2-1B-shaped bf16 checkpoint
//	GOMLX_BACKEND=xla:/abs/xla_cuda_plugin.so go run ./examples/gpucheck -compare
//	GOMLX_BACKEND=xla:/abs/xla_cuda_plugin.so go run ./examples/gpucheck -model DIR
//
// Training on a backend other than the CPU ones uses lora.LayoutDevice: the trained tensors and
// AdamW's moments stay on the device.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// llama1B is Llama-3.2-1B's shape (hidden 2048, 16 layers, 32 heads, 8 KV heads, MLP 8192,
// vocabulary 128256, llama3 rope, tied).
var llama1B = model.Config{HiddenSize: 2048, IntermediateSize: 8192, NumHiddenLayers: 16, NumAttentionHeads: 32,
	NumKeyValueHeads: 8, HeadDim: 64, VocabSize: 128256, RMSNormEps: 1e-5, RopeTheta: 500000, MaxPositionEmbeddings: 131072,
	TieWordEmbeddings: true, RopeScaling: &model.RopeScaling{RopeType: "llama3", Factor: 32, LowFreqFactor: 1,
		HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192}}

// small is the logits comparison's model: d128, 4 layers, GQA, llama3 rope.
var small = model.Config{HiddenSize: 128, IntermediateSize: 344, NumHiddenLayers: 4, NumAttentionHeads: 4,
	NumKeyValueHeads: 2, VocabSize: 512, RopeTheta: 500000, RopeScaling: llama1B.RopeScaling}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gpucheck", flag.ContinueOnError)
	write := fs.String("write", "", "write a random Llama-3.2-1B-shaped bf16 checkpoint (2 GB shards) to this directory and exit")
	compare := fs.Bool("compare", false, "compare a small random model's logits on GOMLX_BACKEND with the accrete CPU backend")
	tol := fs.Float64("tol", 2e-2, "largest |Δlogit| accepted by -compare (GPUs may compute f32 matmuls in TF32)")
	dir := fs.String("model", "", "Hugging Face checkpoint to train and decode")
	batch, seq := fs.Int("batch", 4, "training batch (sequences)"), fs.Int("seq", 256, "training sequence length")
	steps := fs.Int("steps", 5, "timed training steps per method")
	newTokens := fs.Int("new", 64, "tokens to decode per sequence")
	if fs.SetOutput(stderr); fs.Parse(args) != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "gpucheck:", err); return 1 }
	if *write != "" {
		if err := writeCheckpoint(*write); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "wrote a random Llama-3.2-1B-shaped bf16 checkpoint to %s\n", *write)
		return 0
	}
	b, err := model.NewBackend()
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "backend: %s (%s), %d device(s)\n", b.Name(), b.Description(), b.NumDevices())
	if *compare {
		if err := compareLogits(b, *tol, stdout); err != nil {
			return fail(err)
		}
	}
	if *dir != "" {
		if err := trainAndDecode(b, *dir, *batch, *seq, *steps, *newTokens, stdout); err != nil {
			return fail(err)
		}
	}
	return 0
}

func writeCheckpoint(dir string) error {
	w := model.RandomWeights(llama1B, rand.New(rand.NewPCG(1, 1)), 0.02, 0)
	return model.SaveHF(dir, llama1B, w, model.SaveOptions{DType: "BF16", MaxShardBytes: 2 << 30})
}

// compareLogits runs the same random weights on b and on the accrete CPU backend.
func compareLogits(b backends.Backend, tol float64, stdout io.Writer) error {
	cpu, err := backends.NewWithConfig(model.DefaultBackendConfig)
	if err != nil {
		return err
	}
	w := model.RandomWeights(small, rand.New(rand.NewPCG(2, 2)), 0.05, 0)
	seqs := [][]int{{1, 17, 300, 42, 9, 511, 3}, {1, 5}}
	var lg [2][][][]float32
	for i, be := range []backends.Backend{b, cpu} {
		m, err := model.New(be, small, w)
		if err != nil {
			return err
		}
		if lg[i], err = m.Logits(seqs); err != nil {
			return fmt.Errorf("logits on %s: %w", be.Name(), err)
		}
	}
	var maxDiff, maxAbs float64
	for s := range lg[0] {
		for t := range lg[0][s] {
			for v := range lg[0][s][t] {
				maxDiff = max(maxDiff, math.Abs(float64(lg[0][s][t][v]-lg[1][s][t][v])))
				maxAbs = max(maxAbs, math.Abs(float64(lg[1][s][t][v])))
			}
		}
	}
	fmt.Fprintf(stdout, "logits vs accrete CPU (d128, 4 layers): max |Δ| %.3g (max |logit| %.3g)\n", maxDiff, maxAbs)
	if maxDiff > tol {
		return fmt.Errorf("logits differ from the CPU backend's by %.3g > %g", maxDiff, tol)
	}
	return nil
}

func trainAndDecode(b backends.Backend, dir string, B, T, steps, newTokens int, stdout io.Writer) error {
	start := time.Now()
	cfg, w, err := model.LoadHF(dir)
	if err != nil {
		return err
	}
	m, err := model.New(b, cfg, w)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %s: %.3gB parameters in %s\n", dir, float64(cfg.NumParams())/1e9, time.Since(start).Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(3, 3))
	data := make([]lora.Sequence, (steps+1)*B)
	for i := range data {
		toks := make([]int, T)
		for j := range toks {
			toks[j] = rng.IntN(cfg.VocabSize)
		}
		data[i] = lora.Sequence{Tokens: toks, PromptLen: 1}
	}
	for _, method := range []lora.Method{lora.MethodLoRA, lora.MethodFFT} {
		var trainable []string
		if method == lora.MethodLoRA {
			a, err := lora.NewAdapter("check", cfg, lora.Config{Rank: 8, Seed: 1})
			if err != nil {
				return err
			}
			m.SetAdapter(a)
			trainable = slices.Sorted(maps.Keys(a.Tensors()))
		} else {
			m.SetAdapter(nil)
			trainable = slices.Sorted(maps.Keys(m.Weights))
		}
		tc := lora.TrainConfig{LearningRate: 1e-5, BatchSize: B, MemoryBudget: -1}
		timed := func(n int) (time.Duration, float64, error) {
			tc.MaxSteps = n
			t0 := time.Now()
			res, err := lora.Train(context.Background(), m, trainable, data[:n*B], tc)
			return time.Since(t0), res.Loss, err
		}
		one, _, err := timed(1)
		if err != nil {
			return fmt.Errorf("%s step: %w", method, err)
		}
		all, loss, err := timed(steps + 1)
		if err != nil {
			return fmt.Errorf("%s steps: %w", method, err)
		}
		step := (all - one) / time.Duration(steps)
		fmt.Fprintf(stdout, "%s B%d T%d: %.1f ms/step, %.0f tok/s, loss %.3f (first call with compilation %s)\n", method, B, T,
			float64(step.Microseconds())/1e3, float64(B*T)/step.Seconds(), loss, one.Round(time.Millisecond))
		p := lora.PlanMemory(cfg, lora.PlanOptions{Method: method, Batch: B, SeqLen: model.Bucket(T), Device: true})
		fmt.Fprintln(stdout, p)
	}
	m.SetAdapter(nil)
	for _, rows := range []int{1, 16} {
		prompts := make([][]int, rows)
		for i := range prompts {
			prompts[i] = []int{1, 100 + i, 200 + i, 300 + i}
		}
		opt := model.GenerateOptions{MaxNewTokens: newTokens, StopTokens: []int{}}
		if _, err := m.Generate(context.Background(), prompts, opt); err != nil { // compiles the programs
			return fmt.Errorf("decoding: %w", err)
		}
		t0 := time.Now()
		out, err := m.Generate(context.Background(), prompts, opt)
		if err != nil {
			return fmt.Errorf("decoding: %w", err)
		}
		n := 0
		for _, o := range out {
			n += len(o)
		}
		if n == 0 {
			return errors.New("decoding produced no tokens")
		}
		fmt.Fprintf(stdout, "greedy decoding B%d: %d tokens, %.0f tok/s\n", rows, n, float64(n)/time.Since(t0).Seconds())
	}
	return nil
}
