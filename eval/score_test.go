package eval

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tol = 1e-12

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"The  Cat!", "cat"},
		{"An apple, a day.", "apple day"},
		{"  Hello,\tWORLD \n", "hello world"},
		{"don't", "dont"},
		{"the-end", "theend"}, // punctuation goes first, as in SQuAD
		{"U.S.A.", "usa"},
		{"a", ""},
		{"", ""},
		{"x+y=z $5 ~ok|`", "xyz 5 ok"},
		{"Café «déjà» vu…", "café déjà vu"},
		{"theater anthem", "theater anthem"}, // articles only as whole words
	} {
		assert.Equal(t, tc.want, Normalize(tc.in), "Normalize(%q)", tc.in)
	}
}

func TestExactMatchScore(t *testing.T) {
	assert.Equal(t, 1.0, ExactMatchScore(" The Paris.", "paris"))
	assert.Equal(t, 0.0, ExactMatchScore("Paris, France", "Paris"))
	assert.Equal(t, 1.0, ExactMatchScore("", "the"))
}

func TestFirstCharScore(t *testing.T) {
	for _, tc := range []struct {
		pred, ref string
		want      float64
	}{
		{"  b) hawkish", "B", 1},
		{"A", "B", 0},
		{"", "A", 0},
		{"   ", " ", 0},
		{"Élan", "é", 1},
		{"\n\tc", "C. neutral", 1},
	} {
		assert.Equal(t, tc.want, FirstCharScore(tc.pred, tc.ref), "FirstCharScore(%q, %q)", tc.pred, tc.ref)
	}
}

// The worked example of Lin (2004), section 3.1: reference S1 and candidates S2, S3.
func TestRougeLTokensLinExample(t *testing.T) {
	s1 := []string{"police", "killed", "the", "gunman"}
	s2 := []string{"police", "kill", "the", "gunman"}
	s3 := []string{"the", "gunman", "kill", "police"}
	assert.InDelta(t, 0.75, RougeLTokens(s2, s1), tol) // LCS 3 of 4 each way
	assert.InDelta(t, 0.5, RougeLTokens(s3, s1), tol)  // LCS "the gunman"
}

func TestRougeLF1(t *testing.T) {
	for _, tc := range []struct {
		pred, ref string
		want      float64
	}{
		// Lin's example after normalisation drops "the": LCS 2 of 3, and 1 of 3.
		{"police kill the gunman", "police killed the gunman", 2.0 / 3},
		{"the gunman kill police", "police killed the gunman", 1.0 / 3},
		// P = 2/4, R = 2/2: F = 2·0.5·1/1.5.
		{"x y z w", "x z", 2.0 / 3},
		{"X, Z!", "x z", 1},
		{"", "", 1},
		{"the", "a", 1}, // both normalise to nothing
		{"x", "", 0},
		{"", "x", 0},
		{"p q", "r s", 0},
	} {
		assert.InDelta(t, tc.want, RougeLF1(tc.pred, tc.ref), tol, "RougeLF1(%q, %q)", tc.pred, tc.ref)
	}
}

func TestLevenshteinAndEditSimilarity(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		dist int
		sim  float64
	}{
		{"kitten", "sitting", 3, 1 - 3.0/7},
		{"flaw", "lawn", 2, 0.5},
		{"intention", "execution", 5, 1 - 5.0/9},
		{"", "abc", 3, 0},
		{"abc", "", 3, 0},
		{"", "", 0, 1},
		{"abc", "abc", 0, 1},
		{"héllo", "hello", 1, 0.8}, // runes, not bytes (bytes would give distance 2)
		{"日本語", "日本", 1, 1 - 1.0/3},
	} {
		assert.Equal(t, tc.dist, Levenshtein(tc.a, tc.b), "Levenshtein(%q, %q)", tc.a, tc.b)
		assert.Equal(t, tc.dist, Levenshtein(tc.b, tc.a), "Levenshtein(%q, %q)", tc.b, tc.a)
		assert.InDelta(t, tc.sim, EditSimilarity(tc.a, tc.b), tol, "EditSimilarity(%q, %q)", tc.a, tc.b)
	}
}

func TestArgmax(t *testing.T) {
	nan := math.NaN()
	assert.Equal(t, -1, Argmax(nil))
	assert.Equal(t, -1, Argmax([]float64{nan}))
	assert.Equal(t, 0, Argmax([]float64{-1, -2}))
	assert.Equal(t, 1, Argmax([]float64{-2, -1, -1})) // first of ties
	assert.Equal(t, 1, Argmax([]float64{nan, -5}))
	assert.Equal(t, 2, Argmax([]float64{math.Inf(-1), -9, -3}))
}

func TestChoiceAccuracy(t *testing.T) {
	// Sums favour the short choice; per-character means favour the long one: −4/2 = −2 < −6/6 = −1.
	lls := []float64{-4, -6}
	choices := []string{"ab", "abcdef"}
	assert.Equal(t, 0, Argmax(lls))
	assert.Equal(t, 1, ArgmaxNorm(lls, choices))
	acc, accNorm := ChoiceAccuracy(lls, choices, 1)
	assert.Equal(t, 0.0, acc)
	assert.Equal(t, 1.0, accNorm)
	acc, accNorm = ChoiceAccuracy(lls, choices, 0)
	assert.Equal(t, 1.0, acc)
	assert.Equal(t, 0.0, accNorm)

	// Length counts characters as Python's len does: "é" is 1 (2 bytes). −3/1 < −5/2, so choice 1;
	// by bytes it would be −3/2 > −5/2, choice 0.
	assert.Equal(t, 1, ArgmaxNorm([]float64{-3, -5}, []string{"é", "ab"}))

	assert.PanicsWithValue(t, "eval: ArgmaxNorm: 2 log-likelihoods for 1 choices", func() {
		ArgmaxNorm([]float64{1, 2}, []string{"a"})
	})
}

func TestPerplexity(t *testing.T) {
	assert.InDelta(t, 2, Perplexity([]float64{math.Log(0.5), math.Log(0.5)}), tol)
	assert.InDelta(t, 2, Perplexity([]float64{math.Log(0.25), 0}), tol) // geometric, not arithmetic, mean
	assert.InDelta(t, 8, PerplexityFromSum(3*math.Log(0.125), 3), tol)
	assert.True(t, math.IsNaN(Perplexity(nil)))
	assert.True(t, math.IsNaN(PerplexityFromSum(0, 0)))
}

func TestMetricScore(t *testing.T) {
	assert.Equal(t, 1.0, ExactMatch.Score(" Paris", "paris"))
	assert.Equal(t, 1.0, FirstChar.Score(" B) x", "b"))
	assert.InDelta(t, 2.0/3, RougeL.Score("x y z w", "x z"), tol)
	assert.Equal(t, 1.0, EditSim.Score(" x = 1\n", "x = 1")) // template space and newline trimmed
	assert.Equal(t, 1.0, MultipleChoice.Score("Paris", "Paris"))
	assert.Equal(t, 0.0, MultipleChoice.Score("paris", "Paris"))
	assert.True(t, math.IsNaN(Metric("bleu").Score("a", "a")))
	require.True(t, RougeL.Valid())
	require.False(t, Metric("bleu").Valid())
}
