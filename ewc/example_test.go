package ewc_test

import (
	"fmt"

	"github.com/accrete/accrete/ewc"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// The quadratic EWC weighs by the Fisher: one ΔW entry of 2 where F = 3 costs ½·3·2² = 6 (times λ).
func ExampleQuadratic() {
	mc := model.Config{HiddenSize: 8, IntermediateSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 16}
	a, _ := lora.NewAdapter("a", mc, lora.Config{Rank: 1, TargetModules: []string{"q_proj"}})
	m := lora.Module{Layer: 0, Name: "q_proj"}
	clear(a.A[m].Data)
	a.A[m].Data[1], a.B[m].Data[3] = 2, 0.5 // ΔW[3][1] = Scale·0.5·2 = 2
	F := model.NewTensor(8, 8)
	F.Data[3*8+1] = 3
	fmt.Printf("½ΣF·ΔW² = %.4g\n", ewc.Quadratic(a, ewc.Fisher{m: F}))
	fmt.Println(ewc.New(ewc.Config{Lambda: 0.1}).Name())
	// Output:
	// ½ΣF·ΔW² = 6
	// ewc λ=0.1
}
