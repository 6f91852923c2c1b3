package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanon(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{G{eorge} }Washington", "George Washington"},
		{"Hen[ry|] [I|1]", "Henry I"},
		{"W[illia|]m [I|1|the Conqueror]", "William I"},
		{"Andorra la V[ell|iej]a", "Andorra la Vella"},
		{"actors|soldiers", "actors"},
		{`To be{,} or not to be{\:}`, "To be, or not to be:"},
		{"The quality of mercy is not strain['|e]d", "The quality of mercy is not strain'd"},
		{"  two   spaces ", "two spaces"},
	} {
		t.Run(tc.in, func(t *testing.T) { assert.Equal(t, tc.want, canon(tc.in)) })
	}
}

func TestSplitTop(t *testing.T) {
	assert.Equal(t, []string{"{a:b}", "c", `d\:e`}, splitTop(`{a:b}:c:d\:e`, ':'))
	assert.Equal(t, []string{"x", "[y|z]"}, alternatives("x|[y|z]"))
}

func TestReadQuizContinuation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "q")
	require.NoError(t, os.WriteFile(p, []byte("a:\\\nb:c\nd:e\n"), 0o644))
	recs, err := readQuiz(p)
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"a", "b", "c"}, {"d", "e"}}, recs)
}

// TestRegenerate rebuilds the packs from the sources in $ACCRETE_PACK_SRC and requires them to be
// byte-identical to packs/data.
func TestRegenerate(t *testing.T) {
	src := os.Getenv("ACCRETE_PACK_SRC")
	if src == "" {
		t.Skip("ACCRETE_PACK_SRC not set (fill a folder with internal/packgen/fetch.sh)")
	}
	out := t.TempDir()
	require.NoError(t, generate(src, out, DefaultSeed))
	want := filepath.Join("..", "..", "packs", "data")
	seen := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		committed, err := os.ReadFile(filepath.Join(want, rel))
		require.NoError(t, err, "%s is generated but not in packs/data", rel)
		assert.True(t, string(got) == string(committed), "%s differs from packs/data: rerun packgen", rel)
		seen++
		return nil
	})
	require.NoError(t, err)
	var committed int
	require.NoError(t, filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			committed++
		}
		return err
	}))
	assert.Equal(t, committed, seen, "packs/data holds files packgen does not write")
}
