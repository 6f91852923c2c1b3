package lora_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Train a LoRA adapter on a tiny synthetic task, keep it in a Store, and load it back.
func Example_trainAndStore() {
	cfg := model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: 48}
	be, err := model.Backend()
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	m, err := model.New(be, cfg, model.RandomWeights(cfg, rng, 0.05, 0))
	if err != nil {
		log.Fatal(err)
	}

	// The task: after the prompt [1, k], answer [v, 2] for 8 random key → value facts.
	var facts []lora.Sequence
	var prompts [][]int
	for k := 3; k < 11; k++ {
		facts = append(facts, lora.Sequence{Tokens: []int{1, k, 20 + rng.IntN(28), 2}, PromptLen: 2})
		prompts = append(prompts, []int{1, k})
	}
	score := func() float64 {
		gen, err := m.Generate(context.Background(), prompts, model.GenerateOptions{MaxNewTokens: 2, StopTokens: []int{2}})
		if err != nil {
			log.Fatal(err)
		}
		ok := 0
		for i, g := range gen {
			if slices.Equal(g, facts[i].Tokens[2:3]) {
				ok++
			}
		}
		return float64(ok) / float64(len(facts))
	}

	a, err := lora.NewAdapter("facts", m.Config, lora.Config{Rank: 4, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	m.SetAdapter(a)
	var trainable []string
	for name := range a.Tensors() {
		trainable = append(trainable, name)
	}
	slices.Sort(trainable)
	res, err := lora.Train(context.Background(), m, trainable, facts,
		lora.TrainConfig{LearningRate: 1e-2, Epochs: 100, BatchSize: 8, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	acc := score()
	fmt.Printf("trained %d steps: loss %.3g → %.3g, accuracy %.4g\n", res.Steps, res.EpochLoss[0], res.Loss, acc)

	dir, err := os.MkdirTemp("", "lora-store-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := lora.OpenStore(dir, lora.Fingerprint(m.Config, m.Weights))
	if err != nil {
		log.Fatal(err)
	}
	err = store.Add("facts-1", a, lora.Meta{Task: "facts", Round: 1, Metrics: map[string]float64{"acc": acc}})
	if err != nil {
		log.Fatal(err)
	}

	m.SetAdapter(nil)
	fmt.Printf("base model: accuracy %.4g\n", score())

	loaded, meta, err := store.Get("facts-1", m.Config)
	if err != nil {
		log.Fatal(err)
	}
	m.SetAdapter(loaded)
	fmt.Printf("loaded %s (task %s, round %d, rank %d, %d modules): stored acc %.4g, accuracy now %.4g\n",
		meta.Name, meta.Task, meta.Round, loaded.Config.Rank, len(loaded.Modules()), meta.Metrics["acc"], score())
	// Output:
	// trained 100 steps: loss 3.95 → 2.43, accuracy 1
	// base model: accuracy 0
	// loaded facts-1 (task facts, round 1, rank 4, 14 modules): stored acc 1, accuracy now 1
}
