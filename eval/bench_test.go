package eval

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// benchPairs returns n (prediction, reference) pairs of about words words each, drawn from a small
// vocabulary so that they overlap like a summary and its reference.
func benchPairs(n, words int) [][2]string {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := strings.Fields("the council approved budget for new park road school meeting vote city members " +
		"said plan public funding project motion second discussion item agenda staff report")
	sentence := func() string {
		w := make([]string, words)
		for i := range w {
			w[i] = vocab[rng.IntN(len(vocab))]
		}
		return strings.Join(w, " ")
	}
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{sentence(), sentence()}
	}
	return out
}

func BenchmarkRougeLF1(b *testing.B) {
	for _, words := range []int{20, 100} {
		pairs := benchPairs(200, words)
		b.Run(strconv.Itoa(words)+"words", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range pairs {
					RougeLF1(p[0], p[1])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pairs)), "ns/item")
		})
	}
}

func BenchmarkEditSimilarity(b *testing.B) {
	for _, words := range []int{5, 20} {
		pairs := benchPairs(200, words)
		b.Run(strconv.Itoa(words)+"words", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range pairs {
					EditSimilarity(p[0], p[1])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pairs)), "ns/item")
		})
	}
}

func BenchmarkNormalize(b *testing.B) {
	pairs := benchPairs(200, 20)
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range pairs {
			Normalize(p[0])
		}
	}
}
