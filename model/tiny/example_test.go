package tiny_test

import (
	"fmt"
	"log"

	"github.com/accrete/accrete/model/tiny"
)

// Loading the shipped base model and its tokenizer, as every study starts (nil: the default backend).
func ExampleLoad() {
	m, tok, err := tiny.Load(nil)
	if err != nil {
		log.Fatal(err)
	}
	c := m.Config
	fmt.Printf("hidden %d, %d layers, %d heads (%d key/value), vocabulary %d\n",
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, tok.VocabSize())
	ids := tok.Encode("The capital of France is Paris.", true, false)
	fmt.Printf("round trip: %q\n", tok.Decode(ids[1:]))
	// Output:
	// hidden 256, 6 layers, 8 heads (4 key/value), vocabulary 4096
	// round trip: "The capital of France is Paris."
}
