package orthlora

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model/tokenizer"
)

var syllables = []string{"ka", "zo", "mi", "tu", "re", "fa", "lo", "ne", "bi", "su", "da", "po"}

// tinyTasks returns n tasks of k made-up facts each ("zomi colour?" → "reka") and a tokenizer trained
// on their text.
func tinyTasks(t testing.TB, n, k int) ([]accrete.Task, tokenizer.Tokenizer) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	word := func() string { return syllables[rng.IntN(len(syllables))] + syllables[rng.IntN(len(syllables))] }
	var texts []string
	tasks := make([]accrete.Task, n)
	for i := range tasks {
		tasks[i].Name = fmt.Sprintf("t%d", i)
		for j := range k {
			ex := accrete.Example{ID: fmt.Sprintf("t%d-%d", i, j), Prompt: word() + " " + word() + "?", Answer: word()}
			tasks[i].Train = append(tasks[i].Train, ex)
			texts = append(texts, "Q: "+ex.Prompt+"\nA: "+ex.Answer+"\n")
		}
		tasks[i].Test = tasks[i].Train
	}
	tok, err := tokenizer.Train(texts, 300, tokenizer.TrainOptions{})
	require.NoError(t, err)
	return tasks, tok
}

func tinyLearner(t testing.TB, tok tokenizer.Tokenizer) *accrete.Learner {
	t.Helper()
	l := testkit.Learner(t, tok, testmodel.Config(0), rand.New(rand.NewPCG(3, 4)), 0.3)
	l.LoRA = lora.Config{Rank: 4, Seed: 11}
	l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 30, BatchSize: 8, Seed: 5, Schedule: lora.Linear}
	return l
}
