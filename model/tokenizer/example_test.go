package tokenizer_test

import (
	"fmt"
	"strings"

	"github.com/accrete/accrete/model/tokenizer"
)

// Train a small Llama 2 style vocabulary, then encode and decode with it.
func Example_train() {
	texts := []string{
		"The llama learns new facts.",
		"The llama forgets old facts.",
		"New adapters learn new facts about the world.",
	}
	// 259 fixed tokens (<unk>, <s>, </s> and 256 byte tokens) leave 61 for characters and merges.
	tok, err := tokenizer.Train(texts, 320, tokenizer.TrainOptions{MinFrequency: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	ids := tok.Encode("The llama learns.", true, false)
	pieces := make([]string, len(ids))
	for i, id := range ids {
		pieces[i] = fmt.Sprintf("%q", tok.Token(id))
	}
	fmt.Println(strings.Join(pieces, " "))
	fmt.Println(tok.VocabSize(), tok.Decode(ids))
	// Output:
	// "<s>" "▁The" "▁llama" "▁learn" "s" "."
	// 320 The llama learns.
}
