package orthlora_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
	"github.com/accrete/accrete/orthlora"
)

// Two rounds of O-LoRA on a tiny random model: the second adapter is trained to stay out of the first
// adapter's input subspace.
func Example_twoRounds() {
	tasks := []accrete.Task{
		{Name: "colours", Metric: eval.ExactMatch, Train: []accrete.Example{
			{Prompt: "colour of the sky?", Answer: "blue"}, {Prompt: "colour of grass?", Answer: "green"},
			{Prompt: "colour of snow?", Answer: "white"}, {Prompt: "colour of coal?", Answer: "black"}}},
		{Name: "sounds", Metric: eval.ExactMatch, Train: []accrete.Example{
			{Prompt: "sound of a cat?", Answer: "meow"}, {Prompt: "sound of a dog?", Answer: "woof"},
			{Prompt: "sound of a cow?", Answer: "moo"}, {Prompt: "sound of a duck?", Answer: "quack"}}},
	}
	var texts []string
	for i := range tasks {
		tasks[i].Test = tasks[i].Train
		for _, ex := range tasks[i].Train {
			texts = append(texts, "Q: "+ex.Prompt+"\nA: "+ex.Answer+"\n")
		}
	}
	tok, err := tokenizer.Train(texts, 300, tokenizer.TrainOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: tok.VocabSize()}
	backend, err := model.Backend()
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := model.New(backend, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(1, 2)), 0.3, 0))
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := accrete.NewLearner(m, tok)
	if err != nil {
		fmt.Println(err)
		return
	}
	l.LoRA = lora.Config{Rank: 4, Seed: 1}
	l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 40, BatchSize: 4, Schedule: lora.Linear}

	var adapters []*lora.Adapter
	s := orthlora.New(orthlora.Config{Lambda: 5, OnAdapter: func(_ int, a *lora.Adapter, _ lora.Result) error {
		adapters = append(adapters, a.Clone())
		return nil
	}})
	if _, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range s.History {
		fmt.Printf("round %d (%s): penalty > 0: %v\n", r.Index+1, r.Task, r.Extra > 0)
	}
	// What λ = 0 would have started from and kept: the round-2 adapter's untrained A.
	init, _ := lora.NewAdapter("init", cfg, lora.Config{Rank: 4, Seed: 2})
	before := orthlora.Overlap(init, adapters[:1])
	after := orthlora.Overlap(adapters[1], adapters[:1])
	fmt.Println("overlap with round 1 below a tenth of its initial value:", after < before/10)
	fmt.Println(s.Name())
	// Output:
	// round 1 (colours): penalty > 0: false
	// round 2 (sounds): penalty > 0: true
	// overlap with round 1 below a tenth of its initial value: true
	// o-lora λ=5
}
