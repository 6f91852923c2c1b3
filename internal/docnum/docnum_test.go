package docnum

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestReadJoinsLinesAndDropsCommentMarkers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.go")
	if err := os.WriteFile(path, []byte("// Pooled buffers of 16K\n//\tfloats and more.\npackage x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := Read(t, path), "Pooled buffers of 16K floats and more. package x"; got != want {
		t.Errorf("Read = %q, want %q", got, want)
	}
	Check(t, path, fmt.Sprintf("buffers of %dK floats", 16))
}

// recorder counts the errors Says reports instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestSaysFailsForAMissingPhrase(t *testing.T) {
	r := &recorder{TB: t}
	Says(r, "doc.go", "the top-k experts (default 2)", "(default 2)", "(default 3)")
	if want := `doc.go does not say "(default 3)"`; len(r.errors) != 1 || r.errors[0] != want {
		t.Errorf("errors = %q, want [%q]", r.errors, want)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 4096: "4,096", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
