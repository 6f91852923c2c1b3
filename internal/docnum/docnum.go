package docnum

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// Read returns the file at path with every "//" dropped and its words joined by single spaces; it
// stops t when the file cannot be read.
func Read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
}

// Says reports an error on t, naming the document name, for each of wants that text (from [Read])
// does not contain.
func Says(t testing.TB, name, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not say %q", name, want)
		}
	}
}

// Check is [Says] on the file at path, read with [Read].
func Check(t testing.TB, path string, wants ...string) {
	t.Helper()
	Says(t, path, Read(t, path), wants...)
}

// Thousands writes n with commas between groups of three digits: 4,096.
func Thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
