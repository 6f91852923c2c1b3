package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReplayTwoRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("trains adapters on the shipped model")
	}
	var out, errb bytes.Buffer
	code := run([]string{"-rounds", "2", "-limit", "8", "-epochs", "1", "-knowledge", "4", "-ratio", "0.5", "-quiet"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Empty(t, errb.String(), "-quiet")
	s := out.String()
	require.Contains(t, s, "| sequential LoRA | semi-cooperative |")
	require.Contains(t, s, "| sequential LoRA + replay (ratio 0.5) | fully-cooperative |")
	require.Contains(t, s, "## sequential LoRA: accuracy matrix")
	require.Contains(t, s, "## sequential LoRA + replay (ratio 0.5): accuracy matrix")
	require.Contains(t, s, "## Retention of round 1's pack (capitals) after round 2")
	require.Regexp(t, `(?m)^sequential LoRA +[01]\.\d{3} after round 1 → [01]\.\d{3} after round 2 \((\d+%|–) of it kept\)$`, s)
	require.Regexp(t, `(?m)^sequential LoRA \+ replay \(ratio 0\.5\) +[01]\.\d{3} after round 1 → [01]\.\d{3} after round 2`, s)
}

func TestReplayBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-ratio", "0"}, "-ratio must be > 0 and finite, got 0"},
		{[]string{"-rounds", "1"}, "replay needs at least 2 rounds, got 1"},
		{[]string{"-budget", "-3"}, "-budget must be ≥ 0, got -3"},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, 2, run(tc.args, &out, &errb), "%v", tc.args)
		require.Contains(t, errb.String(), tc.msg, "%v", tc.args)
		require.Empty(t, out.String(), "%v", tc.args)
	}
}
