package safetensors_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/accrete/accrete/model/safetensors"
)

// Example_bf16RoundTrip stores float32 weights as BF16 and reads them back: values are rounded to
// bfloat16's 8 significant bits.
func Example_bf16RoundTrip() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	tensors := map[string]safetensors.Tensor{
		"model.norm.weight": {Shape: []int{3}, Data: []float32{1, 1.001, -0.3333333}},
		"lm_head.weight":    {Shape: []int{2, 3}, Data: []float32{0.5, 0.25, 3.14159, -2, 1e-3, 100.7}},
		"scale":             {Shape: []int{}, Data: []float32{7}},
	}
	if err := safetensors.Write(path, tensors, safetensors.BF16, map[string]string{"format": "pt"}); err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Read(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("metadata:", f.Metadata)
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		values, shape, err := f.Float32(name)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %v %.6g\n", name, info.DType, shape, values)
	}
	// Output:
	// metadata: map[format:pt]
	// lm_head.weight BF16 [2 3] [0.5 0.25 3.14062 -2 0.000999451 100.5]
	// model.norm.weight BF16 [3] [1 1 -0.333984]
	// scale BF16 [] [7]
}
