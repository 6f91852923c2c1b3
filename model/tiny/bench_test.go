package tiny_test

import (
	"context"
	"testing"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/packs"
)

// BenchmarkScorePack200 scores a 200-item pack (exact match, trained phrasing and one paraphrase
// each: 400 greedy generations through the KV cache) on the shipped base model. Target: under 10 s.
func BenchmarkScorePack200(b *testing.B) {
	m, tok, err := tiny.Load(nil)
	if err != nil {
		b.Fatal(err)
	}
	l, err := accrete.NewLearner(m, tok)
	if err != nil {
		b.Fatal(err)
	}
	task, err := packs.Base(packs.Options{Limit: 200})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := eval.Score(ctx, l.EvalModel(), task, eval.Options{}); err != nil { // compile the graphs
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := eval.Score(ctx, l.EvalModel(), task, eval.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N), "s/pack")
	b.ReportMetric(float64(len(task.Test)*(1+len(task.Test[0].Paraphrases))*b.N)/b.Elapsed().Seconds(), "items/s")
}
