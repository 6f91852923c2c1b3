package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParallelRunsGiveTheSameReport: the report of a study (its interference study too) does not
// depend on how many of its runs go at once; concurrent runs share the caches (one trains an adapter,
// the others wait for it). Only the interference study's own timing differs.
func TestParallelRunsGiveTheSameReport(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small study twice on the shipped model")
	}
	report := func(parallel int) ([]byte, string) {
		dir, out := runStudy(t, "-methods", "lora1,seq-lora,merge-avg", "-rounds", "2", "-seq-rounds", "2",
			"-seeds", "2", "-limit", "6", "-knowledge", "6", "-epochs", "1", "-min-steps", "4", "-lr-grid=false",
			"-strength-grid=false", "-parallel", fmt.Sprint(parallel))
		b, err := os.ReadFile(filepath.Join(dir, "report.json"))
		require.NoError(t, err)
		var r map[string]any
		require.NoError(t, json.Unmarshal(b, &r))
		ir, ok := r["interference"].(map[string]any)
		require.True(t, ok, "the run has an interference study")
		require.Contains(t, ir, "seconds")
		delete(ir, "seconds")
		b, err = json.Marshal(r)
		require.NoError(t, err)
		return b, out
	}
	one, log1 := report(1)
	three, log3 := report(3)
	require.Equal(t, string(one), string(three))
	require.NotContains(t, log1, "[lora1 s1]")
	require.Contains(t, log3, "Running 3 of the 6 runs")
	require.Contains(t, log3, "[interference s2] ")
	for _, line := range strings.Split(log3, "\n") {
		if strings.Contains(line, "r01-capitals [") { // every progress line names its run
			require.Regexp(t, `^\[(lora1|seq-lora|merge-avg) s[12]\] r01-capitals \[`, line)
		}
	}
}

// TestRunJobs: jobs run at most parallel at a time and all of them run; the first failing job (by
// index) is the error and cancels the rest; each job's lines come whole and prefixed.
func TestRunJobs(t *testing.T) {
	var running, most, ran atomic.Int32
	var w bytes.Buffer
	err := runJobs(context.Background(), 3, 20, &w, func(i int) string { return fmt.Sprintf("[%d] ", i) },
		func(ctx context.Context, i int, out io.Writer) error {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			defer running.Add(-1)
			ran.Add(1)
			fmt.Fprintf(out, "a%d\n", i)
			fmt.Fprint(out, "bar 1/2\rbar 2/2")
			fmt.Fprintf(out, "\nb%d", i) // flushed when the job ends
			return nil
		})
	require.NoError(t, err)
	require.EqualValues(t, 20, ran.Load())
	require.LessOrEqual(t, most.Load(), int32(3))
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	require.Len(t, lines, 20*4)
	for i := range 20 {
		p := fmt.Sprintf("[%d] ", i)
		require.Contains(t, lines, p+fmt.Sprintf("a%d", i))
		require.Contains(t, lines, p+"bar 1/2")
		require.Contains(t, lines, p+"bar 2/2")
		require.Contains(t, lines, p+fmt.Sprintf("b%d", i))
	}

	boom := errors.New("boom")
	var cancelled atomic.Int32
	err = runJobs(context.Background(), 2, 50, io.Discard, func(int) string { return "" },
		func(ctx context.Context, i int, out io.Writer) error {
			if i == 3 {
				return fmt.Errorf("job 3: %w", boom)
			}
			if i > 3 {
				<-ctx.Done() // the failure cancels the jobs still running
				cancelled.Add(1)
				return ctx.Err()
			}
			return nil
		})
	require.ErrorIs(t, err, boom)
	require.LessOrEqual(t, cancelled.Load(), int32(2), "no job starts after the failure but those already fed")

	// One at a time: straight to w, no prefix.
	w.Reset()
	require.NoError(t, runJobs(context.Background(), 1, 2, &w, func(int) string { return "x" },
		func(ctx context.Context, i int, out io.Writer) error { fmt.Fprintf(out, "%d\n", i); return nil }))
	require.Equal(t, "0\n1\n", w.String())
}

// TestStudyTally: after each run, the runs and rounds done and the time left at the rate of the rounds
// done so far.
func TestStudyTally(t *testing.T) {
	s := studyTally{start: time.Now().Add(-10 * time.Minute), runs: 4, rounds: 40}
	line := s.done(10)
	require.Regexp(t, `^study: 1 of 4 runs done \(10 of 40 rounds\) in 10m0s; about 30m0s left$`, line)
	s.start = time.Now().Add(-30 * time.Second)
	require.Regexp(t, `^study: 2 of 4 runs done \(20 of 40 rounds\) in 30s; about 30s left$`, s.done(10))
}
