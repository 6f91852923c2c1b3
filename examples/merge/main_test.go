package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
)

func TestMergeTwoAdapters(t *testing.T) {
	if testing.Short() {
		t.Skip("trains adapters on the shipped model")
	}
	var out, errb bytes.Buffer
	code := run([]string{"-packs", "capitals,collectives", "-limit", "8", "-epochs", "1", "-quiet"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Empty(t, errb.String(), "-quiet")
	s := out.String()
	row := func(name string) []string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s+([01]\.\d{3})\s+([01]\.\d{3})\s+([01]\.\d{3})\s*$`).FindStringSubmatch(s)
		require.NotNil(t, m, "row %q in\n%s", name, s)
		return m[1:]
	}
	for _, name := range []string{"base model", "own adapter", "ties", "dare_ties", "linear → rank 8"} {
		row(name)
	}
	// Concatenation is the linear average written exactly as one LoRA: the same scores.
	require.Equal(t, row("linear"), row("cat"))

	// The re-factoring error falls with the rank and vanishes at Σr = 16.
	errAt := func(r string) float64 {
		m := regexp.MustCompile(`rank +` + r + `: relative error (\S+)`).FindStringSubmatch(s)
		require.NotNil(t, m, "rank %s in\n%s", r, s)
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		return v
	}
	require.Greater(t, errAt("4"), errAt("8"))
	require.Greater(t, errAt("8"), errAt("16"))
	require.Less(t, errAt("16"), 1e-4)
}

func TestMergeBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-methods", "linear,nope"}, `unknown method "nope"`},
		{[]string{"-density", "0"}, "-density must be in (0, 1], got 0"},
		{[]string{"-packs", "nope"}, `unknown pack "nope"`},
		{[]string{"-methods", "linear,nuslerp", "-packs", "capitals,collectives,continents"}, "-methods nuslerp merges two adapters, but -packs names 3"},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, 2, run(tc.args, &out, &errb), "%v", tc.args)
		require.Contains(t, errb.String(), tc.msg, "%v", tc.args)
		require.Empty(t, out.String(), "%v", tc.args)
	}
}

func TestMergeParsesTheNewMethods(t *testing.T) {
	var errb bytes.Buffer
	o, err := parse([]string{"-packs", "capitals,collectives", "-methods", "della,della_linear,breadcrumbs,model_stock,nuslerp,karcher", "-interference=false"}, &errb)
	require.NoError(t, err, errb.String())
	require.Len(t, o.methods, 6)
	require.False(t, o.interference)
}

func TestInterferenceReport(t *testing.T) {
	mc := testmodel.Config(48)
	a := testkit.RandomAdapter(t, mc, "a", 4, 1, 0.1)
	b := testkit.RandomAdapter(t, mc, "b", 4, 2, 0.1)
	lines, err := interferenceReport([]*lora.Adapter{a, a.Clone(), b}, []string{"x", "y", "z"}, 0.2)
	require.NoError(t, err)
	require.Len(t, lines, 3)
	require.Regexp(t, `^x × y: cosine 1\.000, A angles mean 0\.0°, smallest 0\.0° \(overlap 1\.000\), sign conflicts 0\.000, trimmed 0\.000$`, lines[0])
	require.Regexp(t, `^x × z: cosine -?0\.\d{3}, A angles mean \d+\.\d°, smallest \d+\.\d° \(overlap 0\.\d{3}\), sign conflicts 0\.\d{3}, trimmed 0\.\d{3}$`, lines[1])
}
