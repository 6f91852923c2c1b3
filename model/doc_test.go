package model

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/accrete/accrete/internal/docnum"
)

// TestDocNumbers: the shape buckets, program-cache sizes and weight overhead doc.go states are the code's
// (and GoMLX's).
func TestDocNumbers(t *testing.T) {
	docnum.Check(t, "doc.go",
		fmt.Sprintf("lengths to powers of two from %d, batches to powers of two", Bucket(1)),
		fmt.Sprintf("dropping the least recently used beyond %d, so GoMLX's per-Exec limit of %d cached shapes",
			maxPrograms, graph.DefaultExecMaxCacheSize),
		fmt.Sprintf("(TestWeightsHeldOnce: the model holds its weights plus under %.0f%%)", 100*weightsOverhead),
	)
	if Bucket(Bucket(1)+1) != 2*Bucket(1) || batchBucket(3) != 4 {
		t.Errorf("buckets are not powers of two: Bucket(%d) = %d, batchBucket(3) = %d", Bucket(1)+1, Bucket(Bucket(1)+1), batchBucket(3))
	}
}
