package progress

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDocNumbers: how often doc.go says a bar is redrawn on a terminal and written elsewhere is New's.
func TestDocNumbers(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0) // a character device, as a terminal is
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	for _, c := range []struct {
		bar  *Bar
		want string
	}{
		{New(tty, "x", 1), "terminal the line is redrawn at most every %s"},
		{New(&bytes.Buffer{}, "x", 1), "a plain line is written at most every %s"},
	} {
		if want := fmt.Sprintf(c.want, spell(c.bar.every)); !strings.Contains(doc, want) {
			t.Errorf("doc.go does not say %q", want)
		}
	}
}

// spell writes d as doc.go does: "100 ms", "10 s".
func spell(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%g s", d.Seconds())
}
