package moe

import (
	"fmt"
	"testing"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
)

// BenchmarkMixtureLogits runs the forward pass of a tiny model with a routed top-2 mixture of n
// rank-4 experts on all seven modules (n = 1 is the cost of one plain adapter plus a router).
func BenchmarkMixtureLogits(b *testing.B) {
	for _, n := range []int{1, 2, 7} {
		b.Run(fmt.Sprintf("experts=%d", n), func(b *testing.B) {
			m := testmodel.Tiny(b, tinyConfig, 1)
			var experts []*lora.Adapter
			for i := range n {
				experts = append(experts, randomAdapter(b, fmt.Sprintf("e%d", i), uint64(i)))
			}
			mix, err := NewMixture("mix", experts, MixtureConfig{TopK: 2})
			if err != nil {
				b.Fatal(err)
			}
			m.SetAdapter(mix)
			seqs := make([][]int, 8)
			for i := range seqs {
				seqs[i] = make([]int, 32)
				for j := range seqs[i] {
					seqs[i][j] = (i*7 + j) % tinyConfig.VocabSize
				}
			}
			if _, err := m.Logits(seqs); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Logits(seqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(8*32*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
