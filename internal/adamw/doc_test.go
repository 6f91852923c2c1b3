package adamw

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDocNumbers: the number of partial sums doc.go states is SumSquares'.
func TestDocNumbers(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
	if want := fmt.Sprintf("a fixed structure of %d interleaved partial sums", sumLanes); !strings.Contains(doc, want) {
		t.Errorf("doc.go does not say %q", want)
	}
}
