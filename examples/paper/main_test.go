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
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-methods", "nope"}, 2, `unknown method "nope"`},
		{[]string{"-rank", "0"}, 2, "-rank"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-model", "/nonexistent/model", "-quiet"}, 1, "/nonexistent/model"},
		{[]string{"-tasks", "/nonexistent/tasks", "-quiet"}, 1, "/nonexistent/tasks"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errb.String())
		require.Contains(t, errb.String(), tc.msg, "%v", tc.args)
		require.NotContains(t, errb.String(), "goroutine", "no stack traces")
	}
}

func TestSmallStudyWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two adapters on the shipped model")
	}
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-methods", "lora1,seq-lora", "-rounds", "2", "-limit", "6", "-epochs", "2",
		"-quiet", "-out", dir}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	for _, f := range []string{"report.md", "report.csv", "report.json", "figure1_one_round.png", "figure2_sequential.png"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		require.Positive(t, st.Size(), f)
	}
	require.Contains(t, out.String(), "LoRA sequential")
}
