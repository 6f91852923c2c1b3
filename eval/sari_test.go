package eval

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
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
