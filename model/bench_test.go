package model_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/accrete/accrete/internal/peakmem"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// reportPeak reports a peakmem.Tracker's figures (peak-RSS-MB is the one to compare with other
// programs: the accrete backend's reused buffers are outside the Go heap).
func reportPeak(b *testing.B, mem *peakmem.Tracker) {
	heapMB, rssMB := mem.Done()
	b.ReportMetric(heapMB, "peak-heap-MB")
	if rssMB > 0 {
		b.ReportMetric(rssMB, "peak-RSS-MB")
	}
}

// The benchmark shapes are those of shared/torchref's bench and of llm.c's CPU runs, so the figures
// compare directly: d128 is bound by per-op overhead, s15m (the stories15M shape) by the matmuls and
// by the 32000-way head.
//
//	go test ./model -run '^$' -bench '/d128' -benchtime=2x
//	go test ./model -run '^$' -bench '/s15m' -benchtime=1x
//
// Work is counted as in the torch reference: forward 2·N·tokens, training 6·N·tokens, with N =
// Config.MatmulParams() (attention's T² FLOPs not counted).
var benchShapes = []struct {
	name string
	cfg  model.Config
	B, T int // forward and training batch
}{
	{"d128", model.Config{HiddenSize: 128, IntermediateSize: 344, NumHiddenLayers: 4, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: 512}, 8, 64},
	{"s15m", model.Config{HiddenSize: 288, IntermediateSize: 768, NumHiddenLayers: 6, NumAttentionHeads: 6,
		NumKeyValueHeads: 6, VocabSize: 32000, TieWordEmbeddings: true, MaxPositionEmbeddings: 256}, 8, 256},
}

var benchModels sync.Map // shape name → *model.Model

// benchModel returns a model with random weights (std 0.02, as llama_ref.py's) for a shape, shared by
// the forward and decode benchmarks; fresh returns one of its own (training changes its weights).
func benchModel(b *testing.B, name string, cfg model.Config, fresh bool) *model.Model {
	b.Helper()
	if m, ok := benchModels.Load(name); ok && !fresh {
		return m.(*model.Model)
	}
	be, err := model.Backend()
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.New(be, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(1, 2)), 0.02, 0))
	if err != nil {
		b.Fatal(err)
	}
	if !fresh {
		benchModels.Store(name, m)
	}
	return m
}

func randomSeqs(rng *rand.Rand, B, T, vocab int) [][]int {
	seqs := make([][]int, B)
	for i := range seqs {
		seqs[i] = make([]int, T)
		for j := range seqs[i] {
			seqs[i][j] = rng.IntN(vocab)
		}
	}
	return seqs
}

func reportRates(b *testing.B, perOp time.Duration, tokens, flopsPerToken float64) {
	s := perOp.Seconds()
	b.ReportMetric(tokens/s, "tok/s")
	b.ReportMetric(flopsPerToken*tokens/s/1e9, "GFLOP/s")
}

// BenchmarkForward times Model.Logits on a B×T batch: one full forward pass including the logits'
// copy back to the host.
func BenchmarkForward(b *testing.B) {
	for _, sh := range benchShapes {
		b.Run(sh.name, func(b *testing.B) {
			m := benchModel(b, sh.name, sh.cfg, false)
			seqs := randomSeqs(rand.New(rand.NewPCG(3, 4)), sh.B, sh.T, sh.cfg.VocabSize)
			if _, err := m.Logits(seqs); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := m.Logits(seqs); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRates(b, b.Elapsed()/time.Duration(b.N), float64(sh.B*sh.T), 2*float64(sh.cfg.MatmulParams()))
		})
	}
}

// stampWriter records when lora.Train's progress bar writes. The bar always writes after the first
// step and after the last, so the time between the first and the last write is that of the warm steps:
// compilation and the first step's allocations are left out.
type stampWriter struct{ at []time.Time }

func (w *stampWriter) Write(p []byte) (int, error) {
	w.at = append(w.at, time.Now())
	return len(p), nil
}

// BenchmarkTrainStep times full fine-tuning steps through lora.Train: loss, gradients of every weight
// and AdamW on the host. ns/op is one warm step (b.N+1 steps run; the first, which compiles, is not
// counted).
func BenchmarkTrainStep(b *testing.B) {
	for _, sh := range benchShapes {
		b.Run(sh.name, func(b *testing.B) {
			m := benchModel(b, sh.name, sh.cfg, true)
			rng := rand.New(rand.NewPCG(5, 6))
			data := make([]lora.Sequence, sh.B*(b.N+1))
			for i := range data {
				data[i] = lora.Sequence{Tokens: randomSeqs(rng, 1, sh.T, sh.cfg.VocabSize)[0], PromptLen: 1}
			}
			trainable := slices.Sorted(func(yield func(string) bool) {
				for n := range m.Weights {
					if !yield(n) {
						return
					}
				}
			})
			stamps := &stampWriter{}
			b.ReportAllocs()
			mem := peakmem.Start()
			b.ResetTimer()
			res, err := lora.Train(context.Background(), m, trainable, data, lora.TrainConfig{
				LearningRate: 1e-4, WeightDecay: 0.01, BatchSize: sh.B, MaxSteps: b.N + 1, Progress: stamps})
			b.StopTimer()
			reportPeak(b, mem)
			if err != nil {
				b.Fatal(err)
			}
			if res.Steps != b.N+1 || len(stamps.at) < 2 {
				b.Fatalf("lora.Train ran %d steps with %d progress writes, want %d steps and ≥ 2 writes", res.Steps, len(stamps.at), b.N+1)
			}
			step := stamps.at[len(stamps.at)-1].Sub(stamps.at[0]) / time.Duration(b.N)
			b.ReportMetric(float64(step.Nanoseconds()), "ns/op")
			reportRates(b, step, float64(sh.B*sh.T), 6*float64(sh.cfg.MatmulParams()))
		})
	}
}

// BenchmarkDecode times greedy Generate with a 16-token prompt and 128 new tokens (EOS disabled),
// as the torch reference's generation bench does. tok/s counts all new tokens over the whole call;
// decode-tok/s leaves out the prefill (timed apart on the same compiled shapes).
func BenchmarkDecode(b *testing.B) {
	const prompt, newTokens = 16, 128
	for _, sh := range benchShapes {
		for _, B := range []int{1, 16} {
			b.Run(sh.name+"/B"+strconv.Itoa(B), func(b *testing.B) {
				m := benchModel(b, sh.name, sh.cfg, false)
				prompts := randomSeqs(rand.New(rand.NewPCG(7, 8)), B, prompt, sh.cfg.VocabSize)
				ctx := context.Background()
				opt := model.GenerateOptions{MaxNewTokens: newTokens, StopTokens: []int{}}
				if _, err := m.Generate(ctx, prompts, opt); err != nil { // compile outside the timing
					b.Fatal(err)
				}
				// The prefill alone: same shapes, stopped after the first token.
				pre := opt
				pre.Stop = func(int, []int) bool { return true }
				var prefill []time.Duration
				for range 3 {
					t0 := time.Now()
					if _, err := m.Generate(ctx, prompts, pre); err != nil {
						b.Fatal(err)
					}
					prefill = append(prefill, time.Since(t0))
				}
				slices.Sort(prefill)
				b.ReportAllocs()
				mem := peakmem.Start()
				b.ResetTimer()
				for range b.N {
					out, err := m.Generate(ctx, prompts, opt)
					if err != nil {
						b.Fatal(err)
					}
					if len(out[B-1]) != newTokens {
						b.Fatalf("row %d generated %d tokens, want %d", B-1, len(out[B-1]), newTokens)
					}
				}
				b.StopTimer()
				reportPeak(b, mem)
				perOp := b.Elapsed() / time.Duration(b.N)
				reportRates(b, perOp, float64(B*newTokens), 2*float64(sh.cfg.MatmulParams()))
				b.ReportMetric(float64(B*(newTokens-1))/(perOp-prefill[1]).Seconds(), "decode-tok/s")
				b.ReportMetric(float64(prefill[1].Microseconds())/1e3, "prefill-ms")
			})
		}
	}
}
