package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBadFlagsAndPathsFailClearly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	readOnly := filepath.Join(dir, "ro")
	require.NoError(t, os.Mkdir(readOnly, 0o555))
	type testCase struct {
		args []string
		code int
		msg  string
	}
	var extra []testCase
	if os.Geteuid() != 0 { // root writes into a read-only folder
		extra = append(extra, testCase{[]string{"-out", readOnly, "-quiet"}, 1, "-out " + readOnly + " is not writable"})
	}
	for _, tc := range append([]testCase{
		{[]string{"-methods", "nope"}, 2, `unknown method "nope"`},
		{[]string{"-rank", "0"}, 2, "-rank must be in [1, 4096], got 0"},
		{[]string{"-rank", "100000"}, 2, "-rank must be in [1, 4096], got 100000"},
		{[]string{"-replay-ratio", "1e9"}, 2, "-replay-ratio must be in (0, 100], got 1e+09"},
		{[]string{"-lr-lora", "1e3"}, 2, "-lr-lora must be in (0, 1], got 1000"},
		{[]string{"-limit", "-5"}, 2, "-limit must be ≥ 0, got -5"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-model", "/nonexistent/model", "-quiet"}, 1, "/nonexistent/model"},
		{[]string{"-tasks", "/nonexistent/tasks", "-quiet"}, 1, "/nonexistent/tasks"},
		{[]string{"-epochs", "0"}, 2, "-epochs must be ≥ 1, got 0"},
		{[]string{"-parallel", "-1"}, 2, "-parallel must be in [0, 64], got -1"},
		{[]string{"-lr-grid-fft", "1e-4,-1"}, 2, `-lr-grid-fft: "-1" is not a positive learning rate`},
		// A bad -out is refused before any training: the run would fail only when the report is saved.
		{[]string{"-out", file, "-quiet"}, 1, "-out " + file},
		{[]string{"-out", filepath.Join(file, "sub"), "-quiet"}, 1, "not a directory"},
	}, extra...) {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errb.String())
		require.Contains(t, errb.String(), tc.msg, "%v", tc.args)
		require.NotContains(t, errb.String(), "goroutine", "no stack traces")
	}
}

// runStudy runs the program with args and -out a new temporary folder, requires it to succeed, and
// returns the folder and what it printed.
func runStudy(t *testing.T, args ...string) (dir, stdout string) {
	t.Helper()
	dir = t.TempDir()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "-out", dir), &out, &errb)
	require.Equal(t, 0, code, errb.String())
	return dir, out.String()
}

func TestSmallStudyWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two adapters on the shipped model")
	}
	dir, out := runStudy(t, "-methods", "lora1,seq-lora", "-rounds", "2", "-limit", "6", "-epochs", "2",
		"-lr-grid-lora", "1e-3,1e-2", "-quiet")
	for _, f := range []string{"report.md", "report.csv", "report.json", "figure1_one_round.png", "figure2_sequential.png",
		"figure6_frontier.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		require.Positive(t, st.Size(), f)
	}
	require.Contains(t, out, "LoRA sequential")
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Learning rates")
	require.Contains(t, string(md), "chosen from {1e-03, 1e-02}")
	require.Contains(t, string(md), "Validation items: 20%")
}
