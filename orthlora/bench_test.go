package orthlora

import (
	"testing"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// BenchmarkOverlap measures the host Overlap of a rank-8 adapter on all seven modules of a d128,
// 4-layer model against seven earlier rounds.
func BenchmarkOverlap(b *testing.B) {
	mc := model.Config{HiddenSize: 128, IntermediateSize: 344, NumHiddenLayers: 4, NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 512}
	var past []*lora.Adapter
	for i := range 7 {
		a, err := lora.NewAdapter("p", mc, lora.Config{Rank: 8, Seed: uint64(i)})
		if err != nil {
			b.Fatal(err)
		}
		past = append(past, a)
	}
	a, err := lora.NewAdapter("new", mc, lora.Config{Rank: 8, Seed: 99})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		Overlap(a, past)
	}
	var macs int
	for _, m := range a.Modules() {
		_, in := mc.ModuleShape(m.Name)
		macs += 8 * 8 * 7 * in
	}
	b.ReportMetric(2*float64(macs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
