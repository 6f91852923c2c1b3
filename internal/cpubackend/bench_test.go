package cpubackend_test

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/internal/peakmem"
	"github.com/accrete/accrete/model"
)

var benchBackends = []struct{ name, config string }{{"stock", "go:ops_sequential"}, {"accrete", "accrete"}}

// BenchmarkMatMul1024 times a 1024³ float32 matmul.
func BenchmarkMatMul1024(b *testing.B) {
	const n = 1024
	r := rand.New(rand.NewPCG(1, 2))
	for _, bc := range benchBackends {
		b.Run(bc.name, func(b *testing.B) {
			exec := MustNewExec(newBackend(b, bc.config), func(x, y *Node) *Node { return MatMul(x, y) })
			x, y := randTensor(r, n, n), randTensor(r, n, n)
			exec.MustExec(x, y)[0].FinalizeAll()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				exec.MustExec(x, y)[0].FinalizeAll()
			}
			b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkFFTStep times the full fine-tuning step's graph (forward, masked cross-entropy and the
// gradient of every weight; AdamW runs on the host and is not included) and reports its peak memory,
// at the d128 shape: hidden 128, 4 layers, 4 heads, 2 KV heads, intermediate 344, vocab 512, batch
// 8 × 64 tokens.
func BenchmarkFFTStep(b *testing.B) {
	cfg := model.Config{HiddenSize: 128, IntermediateSize: 344, NumHiddenLayers: 4, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: 512}
	const B, T = 8, 64
	w := model.RandomWeights(cfg, rand.New(rand.NewPCG(3, 4)), 0.05, 0)
	r := rand.New(rand.NewPCG(5, 6))
	tok, pos, tgt, mask := make([]int32, B*T), make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
	for i := range tok {
		tok[i], tgt[i], pos[i], mask[i] = int32(r.IntN(cfg.VocabSize)), int32(r.IntN(cfg.VocabSize)), int32(i%T), 1
	}
	for _, bc := range benchBackends {
		b.Run(bc.name, func(b *testing.B) {
			m, err := model.New(newBackend(b, bc.config), cfg, w.Clone())
			if err != nil {
				b.Fatal(err)
			}
			names := m.ParamNames()
			exec := MustNewExec(m.Backend(), func(in []*Node) []*Node {
				k := len(names)
				p := model.BuildParams(names, in[:k])
				h, _ := model.Forward(cfg, p, model.ForwardInput{Tokens: in[k], Positions: in[k+1]})
				loss := model.MaskedCrossEntropy(model.Logits(cfg, p, h), in[k+2], in[k+3])
				return append([]*Node{loss}, Gradient(loss, in[:k]...)...)
			})
			args := []any{}
			for _, t := range m.ParamTensors(names) {
				args = append(args, t)
			}
			args = append(args, tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T),
				tensors.FromFlatDataAndDimensions(tgt, B, T), tensors.FromFlatDataAndDimensions(mask, B, T))
			step := func() {
				for _, t := range exec.MustExec(args...) {
					t.FinalizeAll()
				}
			}
			step()
			b.ReportAllocs()
			mem := peakmem.Start()
			b.ResetTimer()
			for b.Loop() {
				step()
			}
			b.StopTimer()
			heapMB, rssMB := mem.Done()
			b.ReportMetric(heapMB, "peak-heap-MB")
			if rssMB > 0 {
				b.ReportMetric(rssMB, "peak-RSS-MB")
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(B*T*float64(b.N)/sec, "tokens/s")
			b.ReportMetric(6*float64(cfg.NumParams())*B*T*float64(b.N)/sec/1e9, "GFLOP/s")
		})
	}
}
