package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model/tiny"
)

func TestQuickstartTrainsAndSavesAnAdapter(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an adapter on the shipped model")
	}
	dir := filepath.Join(t.TempDir(), "adapter")
	var out, errb bytes.Buffer
	code := run([]string{"-limit", "8", "-epochs", "1", "-out", dir}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Regexp(t, `^capitals: [01]\.\d{3} before, [01]\.\d{3} after; adapter saved in `+regexp.QuoteMeta(dir)+"\n$", out.String())

	// What it saved is a PEFT adapter for the shipped model.
	m, _, err := tiny.Load(nil)
	require.NoError(t, err)
	a, err := lora.LoadPEFT(dir, m.Config)
	require.NoError(t, err)
	require.Equal(t, 8, a.Config.Rank)
	require.Len(t, a.Modules(), 7*m.Config.NumHiddenLayers)
}

func TestQuickstartBadInput(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 2, run([]string{"-bogus"}, &out, &errb))
	require.Contains(t, errb.String(), "flag provided but not defined: -bogus")
	require.Empty(t, out.String())

	if testing.Short() {
		return // the rest loads the shipped model
	}
	errb.Reset()
	require.Equal(t, 1, run([]string{"-pack", "nope", "-out", t.TempDir()}, &out, &errb))
	require.Contains(t, errb.String(), `quickstart: packs: unknown task "nope"`)
	require.NotContains(t, errb.String(), "goroutine", "no stack trace")
	require.Empty(t, out.String())
}
