package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPaperFormatsRunAsIs: a folder laid out like the TRACE benchmark as distributed (one folder per
// dataset with train/eval/test JSON arrays of {"prompt","answer"}), with a GSM8K file for retention and
// no manifest, runs as is through -tasks: a 2-round sequential LoRA study on the shipped model, in the
// paper's task order, scored with the paper's metrics.
func TestPaperFormatsRunAsIs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two rounds on the shipped model")
	}
	src := filepath.Join("..", "..", "eval", "testdata", "paper")
	dir := t.TempDir()
	for _, f := range []string{"C-STANCE/train.json", "C-STANCE/eval.json", "C-STANCE/test.json",
		"20Minuten/train.json", "20Minuten/eval.json", "20Minuten/test.json", "gsm8k.jsonl"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	out, stdout := runStudy(t, "-tasks", dir, "-methods", "seq-lora", "-seq-rounds", "2", "-limit", "4",
		"-epochs", "1", "-min-steps", "0", "-seeds", "1", "-lr-grid=false", "-bpb-docs", "0", "-quiet")
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(report), "C-STANCE")
	require.Contains(t, string(report), "20Minuten")
	require.Contains(t, stdout, "1: C-STANCE")
}
