package eval

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The values are those documented by Hugging Face evaluate's sari metric (metrics/sari/README.md and the
// docstring of metrics/sari/sari.py, github.com/huggingface/evaluate): its score is 100 × SARIScore.
func TestSARIScoreEvaluateExamples(t *testing.T) {
	refs := []string{"About 95 species are currently known.", "About 95 species are now accepted.", "95 species are now accepted."}
	for _, tc := range []struct {
		name         string
		source, pred string
		refs         []string
		want         float64
	}{
		{"README partial match", "About 95 species are currently accepted.", "About 95 you now get in.", refs, 26.953601953601954},
		{"docstring, pre-tokenised", "About 95 species are currently accepted .", "About 95 you now get in .",
			[]string{"About 95 species are currently known .", "About 95 species are now accepted .", "95 species are now accepted ."},
			26.953601953601954},
		{"README perfect match", "About 95 species are currently accepted .", "About 95 species are currently accepted .",
			[]string{"About 95 species are currently accepted ."}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.InDelta(t, tc.want, 100*SARIScore(tc.source, tc.pred, tc.refs), 1e-9)
		})
	}
}

func TestSARIScoreProperties(t *testing.T) {
	src := "The cat sat on the mat because it was tired."
	ref := "The cat sat on the mat."
	assert.InDelta(t, 1, SARIScore(src, ref, []string{ref}), 1e-12, "the reference itself")
	assert.Less(t, SARIScore(src, src, []string{ref}), SARIScore(src, ref, []string{ref}), "copying the source")
	assert.InDelta(t, SARIScore(src, "THE CAT sat on the mat .", []string{ref}), SARIScore(src, ref, []string{ref}), 1e-12,
		"lower-cased and 13a-tokenised first")
	assert.True(t, math.IsNaN(SARIScore(src, ref, nil)))
	s := SARIScore(src, "dogs run", []string{ref})
	assert.True(t, s >= 0 && s <= 1, "%v", s)
	assert.InDelta(t, SARIScore(src, ref, []string{ref}), SARI.ScoreSource(ref, ref, src), 1e-12)
}

func TestTokenize13a(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"About 95 species are accepted.", "About 95 species are accepted ."},
		{"1,000.50 and 3-4, (x)", "1,000.50 and 3 - 4 , ( x )"},
		{"don't stop-me &amp; \"go\"", "don't stop-me & \" go \""},
		{"", ""},
	} {
		assert.Equal(t, tc.want, tokenize13a(tc.in), "tokenize13a(%q)", tc.in)
	}
}

func TestExtractNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Natalia sold 48/2 = 24 clips in May.\n#### 72", "72"}, // a GSM8K reference
		{"#### 1,234", "1234"},
		{"#### -5", "-5"},
		{"so #### 3.5 then #### 4", "3.5"},          // strict: the first "#### "
		{"The answer is: 18", "18"},                 // MetaMathQA's ending, flexible: the last number
		{"The answer is 18.", "18"},                 // one final period dropped
		{"She pays $1,234.50 in total.", "1234.50"}, // "$" and "," dropped, decimals kept as written
		{"He had 3 apples and ends with -7 apples", "-7"},
		{"It costs -$5", "-5"},
		{"18 dollars", "18"}, // trailing units
		{"in 2023 she was 7", "7"},
		{"1.5.", "1.5"},
		{"no number here", ""},
		{"", ""},
	} {
		assert.Equal(t, tc.want, ExtractNumber(tc.in), "ExtractNumber(%q)", tc.in)
	}
}

func TestNumericMatchScore(t *testing.T) {
	for _, tc := range []struct {
		pred, ref string
		want      float64
	}{
		{"First 3*4 = 12. The answer is: 1,200", "blah\n#### 1200", 1},
		{"The answer is $72.", "#### 72", 1},
		{"The answer is 72 apples", "72", 1},
		{"The answer is 1.50", "#### 1.5", 0}, // compared as strings, as lm-eval does
		{"The answer is -3", "#### 3", 0},
		{"I don't know", "#### 0", 0},
		{"", "", 0},
	} {
		assert.Equal(t, tc.want, NumericMatchScore(tc.pred, tc.ref), "NumericMatchScore(%q, %q)", tc.pred, tc.ref)
		assert.Equal(t, tc.want, NumericMatch.Score(tc.pred, tc.ref))
	}
}

// CorpusSARI on inputs small enough to count by hand. The n-gram counts (correct, prediction's total,
// references' total) of the first item, "the cat sat" → "the cat" with references "the cat" and
// "a cat sat" (source and prediction counts doubled for the two references):
//
//	n=1 keep (3, 4, 4) F1 3/4, deletion (1, 2, 2) F1 1/2, addition (0, 0, 1) F1 0
//	n=2 keep (1, 2, 2) F1 1/2, deletion (1, 2, 2) F1 1/2, addition (0, 0, 1) F1 0
//	n=3 keep (0, 0, 0) F1 0,   deletion (2, 2, 2) F1 1,   addition (0, 0, 1) F1 0
//	n=4 nothing: every F1 0
//
// so SARI = (keep 5/16 + deletion 8/16 + addition 0) / 3 = 13/48. The second item, "dogs bark" →
// "dogs bark loudly" with that reference twice, adds keep (4, 4, 4) and (2, 2, 2) and addition (1, 1, 1)
// for n = 1, 2, 3; pooled, keep is (7/8 + 3/4)/4, deletion 1/2 and addition (3 × 2/3)/4, and SARI is
// 15/32, not the mean of the items' own scores. EASSE's corpus_sari (easse/sari.py at commit 6a4352e of
// github.com/feralvam/easse, run on these already-tokenised, lower-case texts) gives the same 27.0833…
// and 46.875.
func TestCorpusSARIByHand(t *testing.T) {
	assert.InDelta(t, 13.0/48, CorpusSARI([]string{"the cat sat"}, []string{"the cat"},
		[][]string{{"the cat", "a cat sat"}}), 1e-12)
	two := CorpusSARI([]string{"the cat sat", "Dogs bark"}, []string{"the cat", "dogs bark loudly"},
		[][]string{{"the cat", "a cat sat"}, {"dogs bark loudly", "dogs bark loudly"}})
	assert.InDelta(t, 15.0/32, two, 1e-12, "pooled over the corpus, lower-cased")
	mean := (13.0/48 + CorpusSARI([]string{"dogs bark"}, []string{"dogs bark loudly"},
		[][]string{{"dogs bark loudly", "dogs bark loudly"}})) / 2
	assert.Greater(t, math.Abs(two-mean), 0.1, "not the mean of the items' scores")
}

func TestCorpusSARIEdges(t *testing.T) {
	assert.True(t, math.IsNaN(CorpusSARI(nil, nil, nil)), "empty corpus")
	assert.True(t, math.IsNaN(CorpusSARI([]string{"a"}, []string{"a"}, [][]string{nil})), "no references")
	assert.Panics(t, func() { CorpusSARI([]string{"a"}, nil, [][]string{{"a"}}) })
	ref := "About 95 species are now accepted."
	assert.InDelta(t, 1, CorpusSARI([]string{"About 95 species are currently accepted."}, []string{ref},
		[][]string{{ref}}), 1e-12, "the reference itself, every n-gram order present")
	s := CorpusSARI([]string{"x"}, []string{""}, [][]string{{"y"}})
	assert.True(t, s >= 0 && s <= 1, "%v", s)
}

// The values EASSE's own tests assert for corpus_sari on TurkCorpus's test set (359 sentences, 8
// references each; tests/test_sari.py of github.com/feralvam/easse at commit 6a4352e: test_corpus_sari
// and test_corpus_sari_legacy). The data is EASSE's, too large to copy here: set EASSE_DIR to a
// checkout of that repository to run it.
func TestCorpusSARIEASSETurkCorpus(t *testing.T) {
	dir := os.Getenv("EASSE_DIR")
	if dir == "" {
		t.Skip("EASSE_DIR is not set")
	}
	data := filepath.Join(dir, "easse", "resources", "data")
	lines := func(parts ...string) []string {
		b, err := os.ReadFile(filepath.Join(append([]string{data}, parts...)...))
		require.NoError(t, err)
		return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	}
	byItem := func(files [][]string) [][]string { // EASSE's (reference, item) to our (item, reference)
		out := make([][]string, len(files[0]))
		for i := range out {
			for _, f := range files {
				out[i] = append(out[i], strings.TrimSpace(f[i]))
			}
		}
		return out
	}
	trim := func(ss []string) []string {
		for i, s := range ss {
			ss[i] = strings.TrimSpace(s)
		}
		return ss
	}

	t.Run("default", func(t *testing.T) {
		var refs [][]string
		for i := range 8 {
			refs = append(refs, lines("test_sets", "turkcorpus", fmt.Sprintf("test.truecase.detok.simp.%d", i)))
		}
		// test_corpus_sari: 41.381013 for ACCESS, the score MUSS (arXiv 2005.00352) reports.
		got := 100 * CorpusSARI(trim(lines("test_sets", "turkcorpus", "test.truecase.detok.orig")),
			trim(lines("system_outputs", "turkcorpus", "test", "ACCESS")), byItem(refs))
		assert.InEpsilon(t, 41.381013, got, 1e-6)
	})

	// legacy=True: sources as given, predictions and references 13a-tokenised but not lower-cased.
	t.Run("legacy", func(t *testing.T) {
		tok := func(ss []string) [][]string {
			out := make([][]string, len(ss))
			for i, s := range ss {
				out[i] = strings.Fields(tokenize13a(s))
			}
			return out
		}
		var refFiles [][]string
		for i := range 8 {
			refFiles = append(refFiles, lines("test_sets", "turkcorpus", "legacy", fmt.Sprintf("test.8turkers.tok.turk.%d", i)))
		}
		var refs [][][]string
		for _, r := range byItem(refFiles) {
			refs = append(refs, tok(r))
		}
		var src [][]string
		for _, s := range lines("test_sets", "turkcorpus", "legacy", "test.8turkers.tok.norm") {
			src = append(src, strings.Fields(s))
		}
		for system, want := range map[string]float64{
			"Dress-Ls": 37.266058818588216, "Dress": 37.08210095744638, "EncDecA": 35.65754396121206,
			"Hybrid": 31.39665078989411, "PBMT-R": 38.558843050332037, "SBMT-SARI": 39.964857928109127,
		} {
			pred := tok(trim(lines("system_outputs", "turkcorpus", "test", "tok.low", system+".tok.low")))
			assert.InEpsilon(t, want, 100*corpusSARI(src, pred, refs), 1e-6, system)
		}
	})
}
