package tokenizer_test

import (
	"strings"
	"testing"

	"github.com/accrete/accrete/model/tokenizer"
)

func benchEncode(b *testing.B, tok tokenizer.Tokenizer, text string) {
	b.Helper()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	tokens := 0
	for b.Loop() {
		tokens += len(tok.Encode(text, true, false))
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkEncode(b *testing.B) {
	text := strings.Join(corpus(64<<10), "")
	train := strings.Join(corpus(256<<10), "")
	for _, flavour := range []tokenizer.Flavour{tokenizer.SentencePiece, tokenizer.ByteLevel} {
		tok, err := tokenizer.Train([]string{train}, 4096, tokenizer.TrainOptions{Flavour: flavour})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("trained-"+flavour.String(), func(b *testing.B) { benchEncode(b, tok, text) })
	}
	if l2, l3, ref := realDataIfAny(b); l2 != nil {
		real := strings.Repeat(strings.Join(ref.Strings, " "), 20)
		b.Run("llama2", func(b *testing.B) { benchEncode(b, l2, real) })
		b.Run("llama3", func(b *testing.B) { benchEncode(b, l3, real) })
	}
}

func BenchmarkDecode(b *testing.B) {
	text := strings.Join(corpus(64<<10), "")
	tok, err := tokenizer.Train(corpus(256<<10), 4096, tokenizer.TrainOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ids := tok.Encode(text, true, false)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		_ = tok.Decode(ids)
	}
	b.ReportMetric(float64(len(ids)*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkTrain(b *testing.B) {
	texts := corpus(1 << 20)
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokenizer.Train(texts, 4096, tokenizer.TrainOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
