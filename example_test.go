package accrete_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

// exampleLearner builds a tiny random model with a tokenizer trained on the example's own text.
func exampleLearner(tasks []accrete.Task) *accrete.Learner {
	var corpus []string
	for _, t := range tasks {
		for _, ex := range t.Train {
			corpus = append(corpus, eval.DefaultTemplate.Format(ex.Prompt)+eval.DefaultTemplate.FormatAnswer(ex.Answer))
		}
	}
	tok, err := tokenizer.Train(corpus, 300, tokenizer.TrainOptions{})
	if err != nil {
		panic(err)
	}
	cfg := model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: tok.VocabSize(), TieWordEmbeddings: true}
	b, err := model.Backend()
	if err != nil {
		panic(err)
	}
	m, err := model.New(b, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(1, 1)), 0.05, 0))
	if err != nil {
		panic(err)
	}
	l, err := accrete.NewLearner(m, tok)
	if err != nil {
		panic(err)
	}
	l.LoRA = lora.Config{Rank: 8}
	l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 25}
	return l
}

func exampleTask(name string, facts map[string]string) accrete.Task {
	var items []accrete.Example
	for _, k := range []string{"one", "two", "three", "four", "five", "six"} {
		if a, ok := facts[k]; ok {
			items = append(items, accrete.Example{ID: name + "-" + k, Prompt: name + " " + k + "?", Answer: a})
		}
	}
	return accrete.Task{Name: name, Metric: eval.ExactMatch, Train: items, Test: items}
}

// Sequential LoRA: each round trains a fresh adapter on the current model and folds it in. The
// accuracy matrix shows what each round learned and what the next one made it forget.
func ExampleSequential() {
	tasks := []accrete.Task{
		exampleTask("ka", map[string]string{"one": "red", "two": "blue", "three": "gold", "four": "red", "five": "pink", "six": "blue"}),
		exampleTask("mo", map[string]string{"one": "gold", "two": "pink", "three": "red", "four": "blue", "five": "blue", "six": "red"}),
	}
	l := exampleLearner(tasks)
	mat, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks, accrete.RunOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("after round 1: ka %.4g\n", mat.R[0][0])
	fmt.Printf("after round 2: mo %.4g\n", mat.R[1][1])
	// Output:
	// after round 1: ka 1
	// after round 2: mo 1
}

// Joint training is fully cooperative: each round trains from the base on every task so far.
func ExampleJoint() {
	tasks := []accrete.Task{
		exampleTask("ka", map[string]string{"one": "red", "two": "blue", "three": "gold"}),
		exampleTask("mo", map[string]string{"one": "gold", "two": "pink", "three": "red"}),
	}
	l := exampleLearner(tasks)
	mat, err := accrete.Run(context.Background(), l, accrete.Joint{}, tasks, accrete.RunOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("after round 2: ka %.4g, mo %.4g\n", mat.R[1][0], mat.R[1][1])
	// Output:
	// after round 2: ka 1, mo 1
}
