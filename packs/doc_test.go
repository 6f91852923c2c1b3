package packs_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/docnum"
	"github.com/accrete/accrete/packs"
)

// TestDocNumbers: the size of the template pools doc.go states is every pack's (the other numbers it
// gives, items and phrasings per task, are invariants TestTasksLoad checks).
func TestDocNumbers(t *testing.T) {
	m, err := packs.ReadManifest()
	require.NoError(t, err)
	n := m.Base.Templates
	docnum.Check(t, "doc.go", fmt.Sprintf("its relation's pool of %d templates", n))
	for _, e := range m.Tasks {
		assert.Equal(t, n, e.Templates, "%s: templates per relation", e.Name)
	}
}
