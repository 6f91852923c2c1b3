package cpubackend

import (
	"fmt"
	"testing"

	"github.com/accrete/accrete/internal/docnum"
)

// TestDocNumbers: the micro-kernels' tiles and the pool's sizes doc.go states are the code's.
func TestDocNumbers(t *testing.T) {
	docnum.Check(t, "doc.go",
		fmt.Sprintf("%d×%d with AVX-512 where the CPU has it, else %d×%d with AVX2/FMA", avx512Kernel.mr, avx512Kernel.nr,
			avx2Kernel.mr, avx2Kernel.nr),
		fmt.Sprintf("Pooled buffers of %dK floats and more live in anonymous memory maps", minMapped>>10),
		fmt.Sprintf("(at least %d MiB)", minKeepBytes>>20),
	)
}
