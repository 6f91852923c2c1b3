// Package testkit holds the fixtures that tests of accrete's strategy packages share: random LoRA
// adapters, learners on tiny random models, and tasks of made-up facts.
//
// # Overview
//
// [RandomAdapter] is a "trained-looking" adapter; [Learner] puts a tokenizer on a tiny random model
// (internal/testmodel); [ColourTask] and [ColourLearner] are the made-up facts and the learner the
// merge and moe strategy tests run rounds with, as in "Collaboratively adding new knowledge to an
// LLM" (Lee & Wynter, arXiv 2410.14753). Every fixture is drawn from seeds, so tests are
// reproducible.
//
// It imports accrete and lora, so their own tests cannot use it (lora's use internal/testmodel). It
// is for tests only.
package testkit

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

// RandomAdapter returns an adapter of rank r for mc (default target modules, A drawn by lora from
// seed) whose B is drawn N(0, std²) from rand.NewPCG(seed, 77), so that, unlike a fresh adapter,
// it changes the model's outputs.
func RandomAdapter(t testing.TB, mc model.Config, name string, r int, seed uint64, std float64) *lora.Adapter {
	t.Helper()
	a, err := lora.NewAdapter(name, mc, lora.Config{Rank: r, Seed: seed})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 77))
	for _, m := range a.Modules() {
		for i := range a.B[m].Data {
			a.B[m].Data[i] = float32(rng.NormFloat64() * std)
		}
	}
	return a
}

// Learner returns a learner with tokenizer tok on a model of cfg, its vocabulary set to tok's, with
// weights of std std drawn from rng (see testmodel.New). Its LoRA and training configs are zero.
func Learner(t testing.TB, tok tokenizer.Tokenizer, cfg model.Config, rng *rand.Rand, std float64) *accrete.Learner {
	t.Helper()
	cfg.VocabSize = tok.VocabSize()
	l, err := accrete.NewLearner(testmodel.New(t, cfg, rng, std), tok)
	require.NoError(t, err)
	return l
}

// Colours are the answers of [ColourTask]'s facts.
var Colours = []string{"red", "blue", "green", "black", "white", "pink"}

// ColourTask is a task of n made-up facts "NAME i?" → a colour drawn from rand.NewPCG(seed, 9),
// scored by exact match on the training items themselves.
func ColourTask(name string, n int, seed uint64) accrete.Task {
	rng := rand.New(rand.NewPCG(seed, 9))
	var items []accrete.Example
	for i := range n {
		items = append(items, accrete.Example{ID: fmt.Sprintf("%s-%d", name, i), Prompt: fmt.Sprintf("%s %d?", name, i),
			Answer: Colours[rng.IntN(len(Colours))]})
	}
	return accrete.Task{Name: name, Metric: eval.ExactMatch, Train: items, Test: items}
}

// ColourLearner returns the learner for [ColourTask]s named "ka" and "mo" with up to 8 items: a BPE
// tokenizer of 300 tokens trained on their templated prompts and answers, a
// tiny model (testmodel.Config, tied embeddings) with weights of std 0.05 from rand.NewPCG(1, 1),
// LoRA rank 4 (seed 3), and training at learning rate 1e-2 for 3 epochs in batches of 8 (seed 4).
func ColourLearner(t testing.TB) *accrete.Learner {
	t.Helper()
	var corpus []string
	for _, n := range []string{"ka", "mo"} {
		for i := range 8 {
			corpus = append(corpus, eval.DefaultTemplate.Format(fmt.Sprintf("%s %d?", n, i)))
		}
	}
	for _, c := range Colours {
		corpus = append(corpus, eval.DefaultTemplate.FormatAnswer(c))
	}
	tok, err := tokenizer.Train(corpus, 300, tokenizer.TrainOptions{})
	require.NoError(t, err)
	cfg := testmodel.Config(0)
	cfg.TieWordEmbeddings = true
	l := Learner(t, tok, cfg, rand.New(rand.NewPCG(1, 1)), 0.05)
	l.LoRA = lora.Config{Rank: 4, Seed: 3}
	l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 3, BatchSize: 8, Seed: 4}
	return l
}

// ValueAndGrads evaluates a scalar graph function of an adapter's tensors (a strategy's penalty) at
// the adapter's current values, and its gradient with respect to each tensor, by tensor name.
func ValueAndGrads(t testing.TB, a *lora.Adapter, f func(p model.Params) *graph.Node) (float64, map[string][]float32) {
	t.Helper()
	b, err := model.Backend()
	require.NoError(t, err)
	ts := a.Tensors()
	names := slices.Sorted(maps.Keys(ts))
	e := graph.MustNewExec(b, func(in []*graph.Node) []*graph.Node {
		v := f(model.BuildParams(names, in))
		return append([]*graph.Node{v}, graph.Gradient(v, in...)...)
	})
	defer e.Finalize()
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = tensors.FromFlatDataAndDimensions(ts[n].Data, ts[n].Shape...)
	}
	out, err := e.Exec(args...)
	require.NoError(t, err)
	var v float64
	tensors.ConstFlatData(out[0], func(x []float32) { v = float64(x[0]) })
	grads := map[string][]float32{}
	for i, n := range names {
		tensors.ConstFlatData(out[i+1], func(x []float32) { grads[n] = slices.Clone(x) })
	}
	return v, grads
}
