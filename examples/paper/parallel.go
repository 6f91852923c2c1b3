package main

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sync"

	"github.com/gomlx/gomlx/backends"
)

const (
	// maxParallel bounds -parallel: each run holds a copy of the model.
	maxParallel = 64
	// maxAutoParallel and autoParallelParams bound the runs -parallel 0 starts at once: one per core,
	// up to maxAutoParallel, for a model of under autoParallelParams parameters on a CPU backend, where
	// a small model's step leaves cores idle (its matrices are too small to split well); else one, as
	// a large model fills the cores (and the memory) alone.
	maxAutoParallel    = 8
	autoParallelParams = 100_000_000
)

// parallelRuns is how many runs -parallel starts at once on backend b for a model of params
// parameters.
func parallelRuns(o options, b backends.Backend, params int) int {
	p := o.parallel
	if p == 0 {
		p = 1
		if name := b.String(); (name == "accrete" || name == "go") && params < autoParallelParams {
			p = min(runtime.NumCPU(), maxAutoParallel)
		}
	}
	return max(1, p)
}

// runJobs calls fn(ctx, i, out) for i in [0, n), at most parallel at a time, in order of i as
// workers come free. With parallel ≤ 1 the jobs run one after another and write to w as they go;
// otherwise each job's out writes whole lines to w, each prefixed with label(i), and a progress bar
// on out is a plain line every few seconds rather than one redrawn in place. The first error (by i)
// is returned, after the running jobs stop: a failing job cancels the others' context.
func runJobs(ctx context.Context, parallel, n int, w io.Writer, label func(i int) string, fn func(ctx context.Context, i int, out io.Writer) error) error {
	if parallel <= 1 || n <= 1 {
		for i := range n {
			if err := fn(ctx, i, w); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex // one line at a time on w
	for range min(parallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					continue // a job failed: start no other
				}
				out := &lineWriter{w: w, mu: &mu, prefix: []byte(label(i))}
				if err := fn(ctx, i, out); err != nil {
					errs[i] = err
					cancel()
				}
				out.flush()
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// lineWriter writes to w whole lines, each after prefix, under mu: concurrent jobs' lines do not mix.
// A carriage return (a progress bar redrawn in place) ends a line too.
type lineWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix []byte
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexAny(l.buf, "\r\n")
		if i < 0 {
			return len(p), nil
		}
		if i > 0 { // an empty line between sections is dropped: it separates nothing here
			if err := l.emit(l.buf[:i]); err != nil {
				return len(p), err
			}
		}
		l.buf = l.buf[i+1:]
	}
}

// flush writes what is left of an unfinished line.
func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

func (l *lineWriter) emit(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]byte, 0, len(l.prefix)+len(line)+1)
	out = append(append(append(out, l.prefix...), line...), '\n')
	_, err := l.w.Write(out)
	return err
}
