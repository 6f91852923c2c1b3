// Package peakmem measures the peak memory of a stretch of work for benchmarks: the process's peak
// resident set and the peak of the Go heap. It is test plumbing shared by accrete's benchmarks.
//
// # Overview
//
// Call [Start] before the work (it first releases the buffers the accrete backend keeps for reuse,
// so that an earlier benchmark's do not count) and [Tracker.Done] after it. The resident set is the
// figure to compare across programs: the accrete backend keeps its reused float32 buffers outside
// the Go heap, so the heap peak leaves them out.
package peakmem
