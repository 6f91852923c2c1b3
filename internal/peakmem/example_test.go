package peakmem_test

import (
	"fmt"
	"runtime"
	"time"

	"github.com/accrete/accrete/internal/peakmem"
)

// Measuring a stretch of work that holds a 32 MB buffer: the heap peak includes it.
func ExampleTracker_buffer() {
	t := peakmem.Start()
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	time.Sleep(10 * time.Millisecond) // the tracker samples every millisecond
	heapMB, rssMB := t.Done()
	runtime.KeepAlive(buf)
	fmt.Println("heap peak ≥ 32 MiB:", heapMB >= 32*1.048576)
	fmt.Println("resident set unknown or ≥ heap peak:", rssMB == 0 || rssMB >= heapMB)
	// Output:
	// heap peak ≥ 32 MiB: true
	// resident set unknown or ≥ heap peak: true
}
