package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOrthLoRATwoRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("trains adapters on the shipped model")
	}
	var out, errb bytes.Buffer
	code := run([]string{"-rounds", "2", "-limit", "8", "-epochs", "1", "-knowledge", "4", "-lambda", "5", "-quiet"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Empty(t, errb.String(), "-quiet")
	s := out.String()
	require.Contains(t, s, "| o-lora λ=5 | semi-cooperative |")
	require.Contains(t, s, "| o-lora λ=0 | semi-cooperative |", "the λ = 0 baseline runs by default")
	require.Contains(t, s, "| 2: collectives |")
	require.Contains(t, s, "## o-lora λ=5: task loss vs orthogonality penalty")
	// Round 1 has no earlier adapter; round 2 is penalised, and its overlap at initialisation is positive.
	require.Regexp(t, `(?m)^\s+1\s+capitals\s+\d+\s+\S+\s+0\s+0\s+0\s+0\s+1\s*$`, s)
	m := regexp.MustCompile(`(?m)^\s+2\s+collectives\s+\d+\s+\S+\s+([0-9.e+-]+)\s+\S+\s+([0-9.e+-]+)\s+\S+\s+\S+\s*$`).FindStringSubmatch(s)
	require.NotNil(t, m, s)
	require.NotEqual(t, "0", m[1], "penalty of round 2")
	require.NotEqual(t, "0", m[2], "overlap at init of round 2")
}

func TestOrthLoRABadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-lambda", "-1"}, "-lambda must be ≥ 0, got -1"},
		{[]string{"-scale", "max"}, `-scale must be initial, mean or sum, got "max"`},
		{[]string{"-packs", "capitals,nope"}, `unknown pack "nope"`},
		{[]string{"-rounds", "9"}, "-rounds must be between 0 and the 3 packs"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, 2, run(tc.args, &out, &errb), "%v", tc.args)
		require.Contains(t, errb.String(), tc.msg, "%v", tc.args)
		require.Empty(t, out.String(), "%v", tc.args)
	}
}
