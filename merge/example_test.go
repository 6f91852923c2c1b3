package merge_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/merge"
	"github.com/accrete/accrete/model"
)

// Two adapters trained apart are averaged, TIES-merged, concatenated exactly, and re-factored into a
// LoRA of a lower rank with its error reported.
func Example_mergeAdapters() {
	mc := model.Config{HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 32}
	var ads []*lora.Adapter
	for i := range 2 {
		a, _ := lora.NewAdapter(fmt.Sprintf("task%d", i), mc, lora.Config{Rank: 4, TargetModules: []string{"q_proj"}, Seed: uint64(i)})
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		for _, b := range a.B {
			for j := range b.Data {
				b.Data[j] = float32(rng.NormFloat64())
			}
		}
		ads = append(ads, a)
	}
	q := lora.Module{Layer: 0, Name: "q_proj"}

	avg, _ := merge.Dense(ads, merge.Config{Method: merge.Linear})
	ties, _ := merge.Dense(ads, merge.Config{Method: merge.TIES, Density: 0.2})
	zeros := 0
	for _, v := range ties[q].Data {
		if v == 0 {
			zeros++
		}
	}
	fmt.Printf("linear: ΔW[0,0] = (%.4g + %.4g)/2 = %.4g\n", ads[0].DeltaW(q).Data[0], ads[1].DeltaW(q).Data[0], avg[q].Data[0])
	fmt.Printf("ties at density 0.2: %d of %d entries are zero\n", zeros, len(ties[q].Data))

	cat, _ := merge.Concatenate("both", ads, merge.Config{})
	worst := 0.0
	for j, v := range cat.DeltaW(q).Data {
		worst = max(worst, math.Abs(float64(v-avg[q].Data[j])))
	}
	fmt.Printf("concatenation: rank %d, exact: %v\n", cat.Config.Rank, worst < 1e-6)

	for _, r := range []int{8, 2} {
		f, _ := merge.Refactor("low", ads, merge.Config{}, r)
		fmt.Printf("re-factored at rank %d: relative error %.2f\n", r, f.Error)
	}
	// Output:
	// linear: ΔW[0,0] = (-1.201 + 0.1135)/2 = -0.5439
	// ties at density 0.2: 162 of 256 entries are zero
	// concatenation: rank 8, exact: true
	// re-factored at rank 8: relative error 0.00
	// re-factored at rank 2: relative error 0.67
}

// Before merging, Interference shows how two adapters' updates collide: the cosine of their ΔW, the
// principal angles between the input subspaces their A's read, and the sign conflicts TIES resolves.
func ExampleInterference() {
	mc := model.Config{HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 32}
	var ads []*lora.Adapter
	for i := range 2 {
		a, _ := lora.NewAdapter(fmt.Sprintf("task%d", i), mc, lora.Config{Rank: 2, TargetModules: []string{"q_proj"}, Seed: uint64(i)})
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		for _, b := range a.B {
			for j := range b.Data {
				b.Data[j] = float32(rng.NormFloat64())
			}
		}
		ads = append(ads, a)
	}
	twin := ads[0].Clone()
	for _, pair := range [][]*lora.Adapter{{ads[0], twin}, ads} {
		mods, _ := merge.Interference(pair, 1)
		p := mods[0].Pairs[0]
		fmt.Printf("cosine %.2f, principal angles %.0f° and %.0f°, sign conflicts %.2f\n",
			p.Cosine, p.Angles[0]*180/math.Pi, p.Angles[1]*180/math.Pi, p.SignConflict)
	}
	// Output:
	// cosine 1.00, principal angles 0° and 0°, sign conflicts 0.00
	// cosine -0.11, principal angles 58° and 73°, sign conflicts 0.53
}
