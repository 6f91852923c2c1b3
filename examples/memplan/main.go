// Command memplan prints lora.PlanMemory's table of what fits: Llama-3.2-1B, Llama-3.2-3B and
// Llama-3.1-8B shapes, LoRA (rank 8, all seven modules) and full fine-tuning with AdamW, on a 24 GB
// CPU machine in float32 and, for LoRA, with bf16 base weights (the accrete backend's host layout),
// and on 80 GB and 141 GB GPUs in bf16
// (the device-resident layout of an XLA backend). For each it gives the bytes that do not depend on
// the batch (weights, gradients, optimizer state), the total at micro-batches of 1, 4 and 16
// sequences, and the largest micro-batch that fits; gradient accumulation (lora.TrainConfig's
// MicroBatchSize) reaches an effective batch of 16 from any micro-batch that fits.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Shapes of the paper's models (Hugging Face config.json values).
var shapes = []struct {
	name string
	cfg  model.Config
}{
	{"Llama-3.2-1B", model.Config{HiddenSize: 2048, NumHiddenLayers: 16, NumAttentionHeads: 32, NumKeyValueHeads: 8,
		IntermediateSize: 8192, VocabSize: 128256, TieWordEmbeddings: true}},
	{"Llama-3.2-3B", model.Config{HiddenSize: 3072, NumHiddenLayers: 28, NumAttentionHeads: 24, NumKeyValueHeads: 8,
		IntermediateSize: 8192, VocabSize: 128256, TieWordEmbeddings: true}},
	{"Llama-3.1-8B", model.Config{HiddenSize: 4096, NumHiddenLayers: 32, NumAttentionHeads: 32, NumKeyValueHeads: 8,
		IntermediateSize: 14336, VocabSize: 128256}},
}

// targets are the machines of the table.
var targets = []struct {
	name   string
	bytes  int64
	dtype  lora.DType
	device bool
}{
	{"CPU 24 GB f32", 24e9, lora.F32, false},
	{"CPU 24 GB bf16 base", 24e9, lora.BF16, false}, // LoRA only: the CPU trains float32 weights
	{"GPU 80 GB bf16", 80e9, lora.BF16, true},
	{"GPU 141 GB bf16", 141e9, lora.BF16, true},
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("memplan", flag.ContinueOnError)
	seq := fs.Int("seq", 512, "sequence length (tokens)")
	detail := fs.Bool("detail", false, "also print each plan's categories at micro-batch 1")
	gpuDType := fs.String("gpu-dtype", "bf16", "the GPU rows' weight type: bf16 (the frozen base stored as bfloat16, model.LoadOptions.BF16; FFT assumes bf16 weights with float32 master weights), or f32")
	if fs.SetOutput(stderr); fs.Parse(args) != nil {
		return 2
	}
	if *gpuDType != string(lora.BF16) && *gpuDType != string(lora.F32) {
		fmt.Fprintf(stderr, "memplan: -gpu-dtype must be bf16 or f32, got %q\n", *gpuDType)
		return 2
	}
	fmt.Fprintf(stdout, "Memory plans (lora.PlanMemory), sequences of %d tokens, AdamW; GB = 10⁹ bytes.\n\n", *seq)
	fmt.Fprintln(stdout, "| model | method | machine | fixed GB | B1 GB | B4 GB | B16 GB | largest micro-batch |")
	fmt.Fprintln(stdout, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
	var details []lora.Plan
	for _, s := range shapes {
		for _, method := range []lora.Method{lora.MethodLoRA, lora.MethodFFT} {
			for _, t := range targets {
				if !t.device && t.dtype == lora.BF16 && method == lora.MethodFFT {
					// On the CPU, FFT in bf16 saves nothing: the bf16 weights, their float32 master and
					// their bf16 restore copy (2 + 4 + 2 bytes) hold what the float32 weights and their
					// restore copy do (4 + 4).
					continue
				}
				if t.device {
					t.dtype = lora.DType(*gpuDType)
					t.name = t.name[:len(t.name)-len("bf16")] + *gpuDType
				}
				plan := func(b int) lora.Plan {
					return lora.PlanMemory(s.cfg, lora.PlanOptions{Method: method, Batch: b, SeqLen: *seq, DType: t.dtype,
						Device: t.device, Accumulate: b < 16})
				}
				p1, p16 := plan(1), plan(16)
				fixed := p16.Weights + p16.Gradients + p16.Optimizer + p16.Snapshot
				largest := "none"
				for b := 1; b <= 64 && plan(b).Fits(t.bytes); b *= 2 {
					largest = fmt.Sprint(b)
				}
				cell := func(b int) string {
					p := plan(b)
					mark := ""
					if !p.Fits(t.bytes) {
						mark = " ✗"
					}
					return fmt.Sprintf("%.1f%s", float64(p.Total())/1e9, mark)
				}
				fmt.Fprintf(stdout, "| %s | %s | %s | %.1f | %s | %s | %s | %s |\n", s.name, method, t.name,
					float64(fixed)/1e9, cell(1), cell(4), cell(16), largest)
				details = append(details, p1)
			}
		}
	}
	fmt.Fprintln(stdout, "\n✗: over the machine's memory. Fixed: weights, gradients, optimizer state (and the host layout's")
	fmt.Fprintln(stdout, "restore snapshot), independent of the batch; micro-batches under 16 accumulate gradients, which")
	fmt.Fprintln(stdout, "holds a second gradient copy. The CPU rows are the accrete backend's host layout, which holds")
	fmt.Fprintln(stdout, "each weight once (the backend reads the host tensors in place) and computes in float32; \"bf16 base\"")
	fmt.Fprintln(stdout, "keeps the frozen base weights as bfloat16 (model.LoadOptions.BF16), for LoRA. The GPU rows assume the")
	fmt.Fprintln(stdout, "device-resident layout (weights once in bf16, f32 adapters, AdamW moments and FFT master weights).")
	if *detail {
		for _, p := range details {
			fmt.Fprintf(stdout, "\n%s\n", p)
		}
	}
	return 0
}
