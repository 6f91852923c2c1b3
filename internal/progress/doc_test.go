package progress

import (
	"bytes"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/accrete/accrete/internal/docnum"
)

// TestDocNumbers: how often doc.go says a bar is redrawn on a terminal and written elsewhere is New's.
func TestDocNumbers(t *testing.T) {
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0) // a character device, as a terminal is
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	docnum.Check(t, "doc.go",
		fmt.Sprintf("terminal the line is redrawn at most every %s", spell(New(tty, "x", 1).every)),
		fmt.Sprintf("a plain line is written at most every %s", spell(New(&bytes.Buffer{}, "x", 1).every)),
	)
}

// spell writes d as doc.go does: "100 ms", "10 s".
func spell(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%g s", d.Seconds())
}
