package model_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/accrete/accrete/model"
)

// ExampleModel_Generate builds a tiny model with random weights and continues two prompts of
// different lengths greedily, in one batch through the KV cache.
func ExampleModel_Generate() {
	cfg := model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: 48}
	w := model.RandomWeights(cfg, rand.New(rand.NewPCG(42, 1)), 0.3, 0.1)
	backend, err := model.Backend() // GOMLX_BACKEND, or the pure-Go backend
	if err != nil {
		log.Fatal(err)
	}
	m, err := model.New(backend, cfg, w)
	if err != nil {
		log.Fatal(err)
	}
	out, err := m.Generate(context.Background(), [][]int{{1, 5, 9, 13}, {7}},
		model.GenerateOptions{MaxNewTokens: 8, StopTokens: []int{}}) // greedy; no stop token
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out[0])
	fmt.Println(out[1])

	lp, err := m.TokenLogProbs([][]int{append([]int{7}, out[1]...)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("log p of the first greedy token: %.4g\n", lp[0][0])
	// Output:
	// [20 1 34 40 45 12 36 19]
	// [24 28 24 21 24 44 8 21]
	// log p of the first greedy token: -1.479
}
