package statefile_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/accrete/accrete/internal/statefile"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// A strategy saves its history and one tensor per module, and reads them back when a run resumes.
func ExampleWriteTensors_roundTrip() {
	dir, err := os.MkdirTemp("", "statefile")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	mc := model.Config{HiddenSize: 8, IntermediateSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 10}.WithDefaults()

	type history struct{ Rounds []string }
	if err := statefile.WriteJSON(filepath.Join(dir, "state.json"), history{[]string{"r01-capitals"}}); err != nil {
		log.Fatal(err)
	}
	q := lora.Module{Layer: 0, Name: "q_proj"}
	w := model.NewTensor(8, 8)
	w.Data[9] = 0.5
	if err := statefile.WriteTensors(filepath.Join(dir, "weights.safetensors"), map[lora.Module]*model.Tensor{q: w},
		statefile.Weights, "example", 1); err != nil {
		log.Fatal(err)
	}

	var h history
	if err := statefile.ReadJSON(filepath.Join(dir, "state.json"), &h); err != nil {
		log.Fatal(err)
	}
	ts, err := statefile.ReadTensors(filepath.Join(dir, "weights.safetensors"), mc, statefile.Weights)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Rounds, len(ts), ts[q].Shape, ts[q].Data[9])
	// Output: [r01-capitals] 1 [8 8] 0.5
}
