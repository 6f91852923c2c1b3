package nlora_test

import (
	"fmt"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/nlora"
)

// The L1 norm N-LoRA penalises, on a rank-1 adapter whose ΔW has four nonzero entries.
func ExampleL1() {
	mc := model.Config{HiddenSize: 8, IntermediateSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 16}
	a, _ := lora.NewAdapter("a", mc, lora.Config{Rank: 1, TargetModules: []string{"q_proj"}})
	m := lora.Module{Layer: 0, Name: "q_proj"}
	clear(a.A[m].Data)
	a.A[m].Data[1], a.A[m].Data[2] = 2, -1
	a.B[m].Data[3], a.B[m].Data[5] = 0.5, -1
	fmt.Printf("‖ΔW‖₁ = %.4g, ‖A‖₁+‖B‖₁ = %.4g, sparsity %.4g\n", nlora.L1(a), nlora.L1Factors(a), nlora.Sparsity(a, 1e-3))
	fmt.Println(nlora.New(nlora.Config{Lambda: 1e-4}).Name())
	// Output:
	// ‖ΔW‖₁ = 9, ‖A‖₁+‖B‖₁ = 4.5, sparsity 0.9375
	// n-lora λ=0.0001
}
