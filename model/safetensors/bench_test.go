package safetensors

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func benchTensors(n int) map[string]Tensor {
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return map[string]Tensor{"w": {Shape: []int{n}, Data: data}}
}

func BenchmarkFloat32(b *testing.B) {
	const n = 1 << 20
	for _, dt := range []DType{F32, BF16, F16} {
		b.Run(string(dt), func(b *testing.B) {
			var buf bytes.Buffer
			if err := Encode(&buf, benchTensors(n), dt, nil); err != nil {
				b.Fatal(err)
			}
			f, err := Parse(buf.Bytes())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(n * dt.Size()))
			for b.Loop() {
				if _, _, err := f.Float32("w"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	const n = 1 << 20
	tensors := benchTensors(n)
	for _, dt := range []DType{F32, BF16, F16} {
		b.Run(string(dt), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n * dt.Size()))
			for b.Loop() {
				if err := Encode(io.Discard, tensors, dt, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
