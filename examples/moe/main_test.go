package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMoETwoRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("trains experts on the shipped model")
	}
	var out, errb bytes.Buffer
	code := run([]string{"-rounds", "2", "-limit", "8", "-epochs", "1", "-calibration", "4", "-knowledge", "4", "-quiet"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Empty(t, errb.String(), "-quiet")
	s := out.String()
	require.Contains(t, s, "| moe-top2 | semi-cooperative |")
	require.Contains(t, s, "| 2: collectives |")
	// Each pack's row of top-1 shares sums to 1, and its last column repeats its own expert's share.
	for i, pack := range []string{"capitals", "collectives"} {
		m := regexp.MustCompile(`(?m)^\s*` + pack + `\s+([01]\.\d{3})\s+([01]\.\d{3})\s+([01]\.\d{3})\s*$`).FindStringSubmatch(s)
		require.NotNil(t, m, "routing row %s in\n%s", pack, s)
		var v [3]float64
		for j := range v {
			var err error
			v[j], err = strconv.ParseFloat(m[j+1], 64)
			require.NoError(t, err)
		}
		require.InDelta(t, 1, v[0]+v[1], 0.0015, pack)
		require.Equal(t, v[i], v[2], pack)
	}
	require.Regexp(t, `routing accuracy \(mean share routed to the own expert\): [01]\.\d{3}; chance 0\.500`, s)
}

func TestMoEBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-topk", "0"}, "-topk, -calibration and -router-epochs must be ≥ 1"},
		{[]string{"-packs", "nope"}, `unknown pack "nope"`},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, 2, run(tc.args, &out, &errb), "%v", tc.args)
		require.Contains(t, errb.String(), tc.msg, "%v", tc.args)
		require.Empty(t, out.String(), "%v", tc.args)
	}
}
