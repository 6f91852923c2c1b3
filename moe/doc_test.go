package moe_test

import (
	"fmt"
	"testing"

	"github.com/accrete/accrete/internal/docnum"
	"github.com/accrete/accrete/moe"
)

// TestDocNumbers: the defaults doc.go states are Config.WithDefaults'.
func TestDocNumbers(t *testing.T) {
	c := moe.Config{}.WithDefaults()
	docnum.Check(t, "doc.go",
		fmt.Sprintf("the top-k experts (default %d)", c.TopK),
		fmt.Sprintf("Its coefficient defaults to %g,", c.BalanceCoef),
		fmt.Sprintf("CalibrationPerTask (default %d)", c.CalibrationPerTask),
	)
}
