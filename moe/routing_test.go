package moe

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// tokenTask returns n facts [1, x, y] → [a, b, 2] whose tokens all lie in [lo, hi]: two such tasks
// with disjoint ranges are easy to tell apart from any token.
func tokenTask(n int, lo, hi int, seed uint64) []lora.Sequence {
	rng := rand.New(rand.NewPCG(seed, 3))
	tok := func() int { return lo + rng.IntN(hi-lo+1) }
	seen := map[[2]int]bool{}
	var out []lora.Sequence
	for len(out) < n {
		k := [2]int{tok(), tok()}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, lora.Sequence{Tokens: []int{1, k[0], k[1], tok(), tok(), 2}, PromptLen: 3})
	}
	return out
}

// mlpModules are the experts' targets in the routing test. With all seven modules the accuracy is
// about 0.78: in the last layer, q_proj and o_proj of a prompt token other than the last one receive
// no gradient at all (their output reaches no answer token), so nothing tells their router where to
// send it; the MLP modules, where a LoRA stores most facts, carry a routing signal at every layer.
var mlpModules = []string{"gate_proj", "up_proj", "down_proj"}

func trainExpert(t testing.TB, m *model.Model, name string, data []lora.Sequence, seed uint64) *lora.Adapter {
	t.Helper()
	a, err := lora.NewAdapter(name, m.Config, lora.Config{Rank: 8, Seed: seed, TargetModules: mlpModules})
	require.NoError(t, err)
	m.SetAdapter(a)
	defer m.SetAdapter(nil)
	res, err := lora.Train(context.Background(), m, slices.Sorted(maps.Keys(a.Tensors())), data, lora.TrainConfig{LearningRate: 1e-2, Epochs: 60, BatchSize: 8, Seed: seed, TargetLoss: 0.05})
	require.NoError(t, err)
	t.Logf("expert %s: %d steps, loss %.4f", name, res.Steps, res.Loss)
	return a
}

// routingAccuracy is the fraction of prompt tokens (BOS excluded: it is the same for every task)
// whose top-1 gate is their task's expert, averaged over modules.
func routingAccuracy(t testing.TB, m *model.Model, mix *Mixture, tasks [][]lora.Sequence) (mean float64, perModule map[lora.Module]float64) {
	t.Helper()
	var seqs [][]int
	var owner []int
	for e, data := range tasks {
		for _, ex := range data {
			seqs = append(seqs, ex.Tokens[:ex.PromptLen])
			owner = append(owner, e)
		}
	}
	g, err := mix.Gates(m, seqs)
	require.NoError(t, err)
	perModule = map[lora.Module]float64{}
	for mod, gs := range g {
		hit, n := 0, 0
		for i, s := range gs {
			for _, tok := range s[1:] {
				best := 0
				for e, v := range tok {
					if v > tok[best] {
						best = e
					}
				}
				if best == owner[i] {
					hit++
				}
				n++
			}
		}
		perModule[mod] = float64(hit) / float64(n)
		mean += perModule[mod]
	}
	return mean / float64(len(g)), perModule
}

func TestRouterSendsEachTaskToItsExpert(t *testing.T) {
	// Weights of std 0.15 (not 0.05) let the untrained LM head express confident predictions, so the
	// experts learn their facts and the router has something to choose between.
	b, err := model.Backend()
	require.NoError(t, err)
	m, err := model.New(b, tinyConfig, model.RandomWeights(tinyConfig, rand.New(rand.NewPCG(5, 2)), 0.15, 0))
	require.NoError(t, err)
	taskA, taskB := tokenTask(24, 3, 15, 1), tokenTask(24, 20, 35, 2)
	experts := []*lora.Adapter{trainExpert(t, m, "a", taskA, 1), trainExpert(t, m, "b", taskB, 2)}
	mix, err := NewMixture("mix", experts, MixtureConfig{TopK: 2, Seed: 3})
	require.NoError(t, err)
	m.SetAdapter(mix)
	tasks := [][]lora.Sequence{taskA, taskB}
	before, _ := routingAccuracy(t, m, mix, tasks)
	calib := append(append([]lora.Sequence(nil), taskA[:16]...), taskB[:16]...)
	expertsBefore := experts[0].B[experts[0].Modules()[0]].Clone()
	res, err := TrainRouter(context.Background(), m, mix, calib, 0.01, lora.TrainConfig{LearningRate: 3e-2, Epochs: 80, BatchSize: 8, Seed: 4})
	require.NoError(t, err)
	after, per := routingAccuracy(t, m, mix, tasks)
	t.Logf("routing accuracy %.3f before, %.3f after router training (loss %.4f, balance %.4f)", before, after, res.Loss, res.Extra)
	for mod, acc := range per {
		t.Logf("  %s: %.3f", mod.Path(), acc)
	}
	require.Greater(t, after, 0.8)
	require.Greater(t, res.Extra, 0.0, "the balancing loss is on")
	require.Equal(t, expertsBefore.Data, experts[0].B[experts[0].Modules()[0]].Data, "experts stay frozen")
}
