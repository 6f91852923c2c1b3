package peakmem

import (
	"bytes"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/accrete/accrete/internal/cpubackend"
)

// Tracker tracks the peak memory of a stretch of work: the process's peak resident set (VmHWM,
// reset through /proc/self/clear_refs where Linux allows it) and the peak of the Go heap's live and
// unswept objects, sampled every millisecond through runtime/metrics (no stop-the-world).
type Tracker struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	heapPeak uint64
	rssReset bool
}

// Start returns a Tracker sampling from now on.
func Start() *Tracker {
	cpubackend.ReleaseMemory() // and the buffers the accrete backend keeps for reuse
	debug.FreeOSMemory()       // return earlier benchmarks' heap so that VmHWM starts near the live set
	p := &Tracker{stop: make(chan struct{})}
	p.rssReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			p.heapPeak = max(p.heapPeak, sample[0].Value.Uint64())
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Done stops sampling and returns the peak heap and, when it could be reset, the peak RSS, in MB
// (rssMB is 0 otherwise).
func (p *Tracker) Done() (heapMB, rssMB float64) {
	close(p.stop)
	p.wg.Wait()
	heapMB = float64(p.heapPeak) / 1e6
	if !p.rssReset {
		return heapMB, 0
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return heapMB, 0
	}
	for line := range bytes.Lines(status) {
		if f := bytes.Fields(line); len(f) == 3 && string(f[0]) == "VmHWM:" {
			if kb, err := strconv.ParseFloat(string(f[1]), 64); err == nil {
				return heapMB, kb / 1e3
			}
		}
	}
	return heapMB, 0
}
