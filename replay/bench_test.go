package replay

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/accrete/accrete"
)

func BenchmarkBufferAdd(b *testing.B) {
	stream := items("x", 10000)
	b.ReportAllocs()
	for b.Loop() {
		buf := NewBuffer(500, 1)
		buf.Add(stream...)
	}
	b.ReportMetric(float64(len(stream)*b.N)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkBufferSample(b *testing.B) {
	buf := NewBuffer(5000, 1)
	buf.Add(items("x", 20000)...)
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	for b.Loop() {
		buf.Sample(1000, rng)
	}
}

// BenchmarkMix is one round's mixing with the paper's sizes: six earlier tasks of 5,000 items, a
// current task of 5,000, w_hist 0.1.
func BenchmarkMix(b *testing.B) {
	var history []accrete.Task
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		history = append(history, task(n, 5000))
	}
	cur := task("g", 5000)
	s := Wrap(accrete.StrategyFunc(func(context.Context, *accrete.Learner, accrete.Round) error { return nil }), Config{Ratio: 0.1})
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Learn(context.Background(), nil, accrete.Round{Index: 6, Task: cur, History: history}); err != nil {
			b.Fatal(err)
		}
	}
}
