package moe_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/moe"
)

// Two LoRA experts mixed without a router give the base plus the mean of their deltas; with a router
// and top-1 softmax gating each token goes to exactly one expert.
func Example_mixtureOfExperts() {
	cfg := model.Config{HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 32}
	b, _ := model.Backend()
	m, _ := model.New(b, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(1, 1)), 0.1, 0))
	var experts []*lora.Adapter
	for i := range 2 {
		a, _ := lora.NewAdapter(fmt.Sprintf("e%d", i), cfg, lora.Config{Rank: 2, TargetModules: []string{"q_proj", "v_proj"}, Seed: uint64(i)})
		rng := rand.New(rand.NewPCG(uint64(i), 2))
		for _, t := range a.B {
			for j := range t.Data {
				t.Data[j] = float32(rng.NormFloat64() * 0.1)
			}
		}
		experts = append(experts, a)
	}
	seq := [][]int{{1, 7, 8, 9}}

	uniform, _ := moe.NewMixture("avg", experts, moe.MixtureConfig{Uniform: true})
	m.SetAdapter(uniform)
	mixed, _ := m.Logits(seq)
	m.SetAdapter(nil)
	folded := m.Weights.Clone()
	for _, a := range experts {
		for _, mod := range a.Modules() {
			W := folded[model.ModuleWeightName(mod.Layer, mod.Name)]
			for i, v := range a.DeltaW(mod).Data {
				W.Data[i] += v / 2
			}
		}
	}
	fm, _ := model.New(b, cfg, folded)
	want, _ := fm.Logits(seq)
	worst := 0.0
	for t := range want[0] {
		for v := range want[0][t] {
			worst = max(worst, math.Abs(float64(mixed[0][t][v]-want[0][t][v])))
		}
	}
	fmt.Printf("uniform mixture = base + mean ΔW: %v\n", worst < 1e-4)

	routed, _ := moe.NewMixture("top1", experts, moe.MixtureConfig{TopK: 1, Seed: 3})
	m.SetAdapter(routed)
	gates, _ := routed.Gates(m, seq)
	fmt.Println("q_proj gates per token:", gates[lora.Module{Layer: 0, Name: "q_proj"}][0])
	// Output:
	// uniform mixture = base + mean ΔW: true
	// q_proj gates per token: [[1 0] [1 0] [0 1] [0 1]]
}
