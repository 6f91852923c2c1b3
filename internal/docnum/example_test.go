package docnum_test

import (
	"fmt"

	"github.com/accrete/accrete/internal/docnum"
)

// A doc-number test writes a count from the code the way the docs do, then checks that the doc says
// it: docnum.Check(t, "doc.go", "a vocabulary of "+docnum.Thousands(n)+" tokens").
func ExampleThousands() {
	fmt.Println(docnum.Thousands(4096), docnum.Thousands(1277), docnum.Thousands(-5401856), docnum.Thousands(42))
	// Output: 4,096 1,277 -5,401,856 42
}
