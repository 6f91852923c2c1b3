package packs_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/packs"
)

// TestDocNumbers: the size of the template pools doc.go states is every pack's (the other numbers it
// gives, items and phrasings per task, are invariants TestTasksLoad checks).
func TestDocNumbers(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
	m, err := packs.ReadManifest()
	require.NoError(t, err)
	n := m.Base.Templates
	assert.Contains(t, doc, fmt.Sprintf("its relation's pool of %d templates", n))
	for _, e := range m.Tasks {
		assert.Equal(t, n, e.Templates, "%s: templates per relation", e.Name)
	}
}
