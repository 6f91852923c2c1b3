package adamw

import (
	"fmt"
	"testing"

	"github.com/accrete/accrete/internal/docnum"
)

// TestDocNumbers: the number of partial sums doc.go states is SumSquares'.
func TestDocNumbers(t *testing.T) {
	docnum.Check(t, "doc.go", fmt.Sprintf("a fixed structure of %d interleaved partial sums", sumLanes))
}
