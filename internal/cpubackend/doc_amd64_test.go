package cpubackend

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDocNumbers: the micro-kernels' tiles and the pool's sizes doc.go states are the code's.
func TestDocNumbers(t *testing.T) {
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "//", "")), " ")
	for _, want := range []string{
		fmt.Sprintf("%d×%d with AVX-512 where the CPU has it, else %d×%d with AVX2/FMA", avx512Kernel.mr, avx512Kernel.nr,
			avx2Kernel.mr, avx2Kernel.nr),
		fmt.Sprintf("Pooled buffers of %dK floats and more live in anonymous memory maps", minMapped>>10),
		fmt.Sprintf("(at least %d MiB)", minKeepBytes>>20),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc.go does not say %q", want)
		}
	}
}
