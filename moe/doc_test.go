package moe_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/moe"
)

// TestDocNumbers: the defaults doc.go states are Config.WithDefaults'.
func TestDocNumbers(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
	c := moe.Config{}.WithDefaults()
	for _, want := range []string{
		fmt.Sprintf("the top-k experts (default %d)", c.TopK),
		fmt.Sprintf("Its coefficient defaults to %g,", c.BalanceCoef),
		fmt.Sprintf("CalibrationPerTask (default %d)", c.CalibrationPerTask),
	} {
		assert.True(t, strings.Contains(doc, want), "doc.go does not say %q", want)
	}
}
