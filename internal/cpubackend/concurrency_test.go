package cpubackend_test

import (
	"fmt"
	"sync"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestConcurrentExecutions runs 1,000 small executions (including a matmul big enough to use
// goroutines inside) from two goroutines on one executable and checks every result.
func TestConcurrentExecutions(t *testing.T) {
	runs := 1000
	if testing.Short() || raceEnabled {
		runs = 100
	}
	b := newBackend(t, "accrete")
	exec := MustNewExec(b, func(x, w *Node) *Node {
		return ReduceAllSum(Einsum("ij,jk->ik", x, w))
	})
	const m, k, n = 64, 48, 96 // 2·m·k·n > the parallel threshold
	xs, ws := make([]float32, m*k), make([]float32, k*n)
	for i := range xs {
		xs[i] = 1
	}
	for i := range ws {
		ws[i] = float32(i % 3)
	}
	// Σ_ik Σ_j x_ij·w_jk = m · Σ_jk w_jk
	var sumW float64
	for _, v := range ws {
		sumW += float64(v)
	}
	want := float32(m * sumW)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range runs / 2 {
				out, err := exec.Exec(tensors.FromFlatDataAndDimensions(xs, m, k), tensors.FromFlatDataAndDimensions(ws, k, n))
				if err != nil {
					errs <- err
					return
				}
				if got := tensors.MustCopyFlatData[float32](out[0])[0]; got != want {
					errs <- errorf("goroutine %d run %d: got %g, want %g", g, i, got, want)
					return
				}
				out[0].FinalizeAll()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
