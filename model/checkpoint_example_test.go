package model_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"

	"github.com/accrete/accrete/model"
)

// ExampleSaveHF writes a tiny model as a sharded BF16 Hugging Face checkpoint and loads it back.
func ExampleSaveHF() {
	dir, err := os.MkdirTemp("", "checkpoint-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg := model.Config{HiddenSize: 8, IntermediateSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2,
		VocabSize: 10, TieWordEmbeddings: true}
	w := model.RandomWeights(cfg, rand.New(rand.NewPCG(1, 2)), 0.02, 0)
	w["model.norm.weight"].Data[0] = 1.001 // not representable in bfloat16
	if err := model.SaveHF(dir, cfg, w, model.SaveOptions{DType: "BF16", MaxShardBytes: 256}); err != nil {
		log.Fatal(err)
	}

	loaded, lw, err := model.LoadHF(dir)
	if err != nil {
		log.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	fmt.Println("files:", len(entries))
	fmt.Println("torch_dtype:", loaded.TorchDType, "tensors:", len(lw))
	fmt.Printf("norm[0]: %.4g\n", lw["model.norm.weight"].Data[0])
	// Output:
	// files: 9
	// torch_dtype: bfloat16 tensors: 11
	// norm[0]: 1
}
