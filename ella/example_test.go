package ella_test

import (
	"fmt"

	"github.com/accrete/accrete/ella"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// ELLA's overlap ‖ΔW ⊙ W_past‖²: a new update of 2 where the past update was 3 costs (2·3)² = 36.
func ExampleOverlap() {
	mc := model.Config{HiddenSize: 8, IntermediateSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 16}
	a, _ := lora.NewAdapter("a", mc, lora.Config{Rank: 1, TargetModules: []string{"q_proj"}})
	m := lora.Module{Layer: 0, Name: "q_proj"}
	clear(a.A[m].Data)
	a.A[m].Data[1], a.B[m].Data[3] = 2, 0.5 // ΔW[3][1] = Scale·0.5·2 = 2
	past := model.NewTensor(8, 8)
	past.Data[3*8+1] = 3
	fmt.Printf("Σ‖ΔW ⊙ W_past‖² = %.4g\n", ella.Overlap(a, ella.Past{m: past}.Weights(false)))
	fmt.Println(ella.New(ella.Config{Lambda: 0.01}).Name())
	// Output:
	// Σ‖ΔW ⊙ W_past‖² = 36
	// ella λ=0.01
}
