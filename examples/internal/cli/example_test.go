package cli_test

import (
	"fmt"

	"github.com/accrete/accrete/examples/internal/cli"
)

// A program's -packs and -rounds become the packs of its rounds, in order.
func ExampleChoosePacks() {
	names, err := cli.ChoosePacks("capitals,collectives,continents", 2)
	fmt.Println(names, err)
	_, err = cli.ChoosePacks("capitals,atlantis", 0)
	fmt.Println(err != nil)
	// Output:
	// [capitals collectives] <nil>
	// true
}
