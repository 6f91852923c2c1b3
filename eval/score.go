package eval

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Normalize puts an answer in SQuAD's canonical form before comparison: lower case, punctuation removed,
// the articles "a", "an" and "the" dropped, and runs of white space collapsed to one space with none at
// either end. Punctuation is every ASCII punctuation or symbol character (Python's string.punctuation,
// as SQuAD's evaluation script uses) and every Unicode punctuation character; it is deleted, not replaced
// by a space, so "don't" becomes "dont" and "U.S." becomes "us".
func Normalize(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !isPunct(r) {
			b.WriteRune(r)
		}
	}
	words := strings.Fields(b.String())
	kept := words[:0]
	for _, w := range words {
		switch w {
		case "a", "an", "the":
			continue
		}
		kept = append(kept, w)
	}
	return strings.Join(kept, " ")
}

func isPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return unicode.IsPunct(r) || unicode.IsSymbol(r)
	}
	return unicode.IsPunct(r)
}

// ExactMatchScore is 1 when pred and ref are equal after Normalize, else 0.
func ExactMatchScore(pred, ref string) float64 {
	return boolScore(Normalize(pred) == Normalize(ref))
}

// FirstCharScore is 1 when the first non-space characters of pred and ref are equal ignoring case
// (Unicode simple case folding), else 0. It scores choice-letter tasks (C-STANCE, FOMC, ScienceQA in
// arXiv 2410.14753), where a model that answers "B) hawkish" for the reference "B" is right. A string
// with no non-space character matches nothing, not even another such string.
func FirstCharScore(pred, ref string) float64 {
	p, okp := firstNonSpace(pred)
	r, okr := firstNonSpace(ref)
	if !okp || !okr {
		return 0
	}
	return boolScore(foldEqual(p, r))
}

func firstNonSpace(s string) (rune, bool) {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return r, true
		}
	}
	return 0, false
}

// foldEqual reports whether a and b are equal under simple Unicode case folding.
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// RougeLF1 is the ROUGE-L F1 score (Lin 2004, β = 1) of pred against the reference ref: the longest common
// subsequence of their white-space tokens after Normalize, as F = 2PR/(P+R) with P = LCS/len(pred) and
// R = LCS/len(ref). Two strings that both normalise to nothing score 1; one empty side scores 0.
func RougeLF1(pred, ref string) float64 {
	return RougeLTokens(strings.Fields(Normalize(pred)), strings.Fields(Normalize(ref)))
}

// RougeLTokens is RougeLF1 on tokens the caller has already split (and normalised, if wanted), for
// tokenisations other than white space.
func RougeLTokens(pred, ref []string) float64 {
	if len(pred) == 0 && len(ref) == 0 {
		return 1
	}
	l := lcs(pred, ref)
	if l == 0 {
		return 0
	}
	p := float64(l) / float64(len(pred))
	r := float64(l) / float64(len(ref))
	return 2 * p * r / (p + r)
}

// lcs is the length of the longest common subsequence of a and b, in O(len(a)·len(b)) time and
// O(len(b)) space. Tokens are first mapped to integers so the inner loop compares ints, not strings.
func lcs(a, b []string) int {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	ids := make(map[string]int32, len(b))
	bi := make([]int32, len(b))
	for j, w := range b {
		id, ok := ids[w]
		if !ok {
			id = int32(len(ids))
			ids[w] = id
		}
		bi[j] = id
	}
	prev := make([]int32, len(b)+1)
	cur := make([]int32, len(b)+1)
	for _, w := range a {
		id, ok := ids[w]
		if !ok {
			continue // a token absent from b leaves the row unchanged
		}
		for j, x := range bi {
			switch {
			case id == x:
				cur[j+1] = prev[j] + 1
			case prev[j+1] >= cur[j]:
				cur[j+1] = prev[j+1]
			default:
				cur[j+1] = cur[j]
			}
		}
		prev, cur = cur, prev
	}
	return int(prev[len(b)])
}

// Levenshtein is the edit distance between a and b counted in runes: the fewest single-rune insertions,
// deletions and substitutions that turn a into b. Invalid UTF-8 bytes count as one rune each.
func Levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) < len(rb) {
		ra, rb = rb, ra // the row follows the shorter string
	}
	if len(rb) == 0 {
		return len(ra)
	}
	row := make([]int, len(rb)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		diag := row[0] // d[i-1][j-1]
		row[0] = i
		for j := 1; j <= len(rb); j++ {
			up := row[j] // d[i-1][j]
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			row[j] = min(up+1, row[j-1]+1, diag+cost)
			diag = up
		}
	}
	return row[len(rb)]
}

// EditSimilarity is 1 − Levenshtein(pred, ref)/max(runes in pred, runes in ref), in [0, 1]; two empty
// strings score 1. The strings are compared as given: no normalisation, since it scores code (Py150 in
// arXiv 2410.14753) where case and punctuation matter.
func EditSimilarity(pred, ref string) float64 {
	n := max(utf8.RuneCountInString(pred), utf8.RuneCountInString(ref))
	if n == 0 {
		return 1
	}
	return 1 - float64(Levenshtein(pred, ref))/float64(n)
}

// Argmax is the index of the largest value, the first one on ties (numpy's argmax), with NaN never
// chosen; -1 when xs is empty or all NaN. Given each choice's summed continuation log-likelihood it is
// the prediction of lm-eval-harness's acc.
func Argmax(xs []float64) int {
	best := -1
	for i, x := range xs {
		if math.IsNaN(x) {
			continue
		}
		if best < 0 || x > xs[best] {
			best = i
		}
	}
	return best
}

// ArgmaxNorm is the prediction of lm-eval-harness's acc_norm: Argmax of logLiks[i] divided by the length
// of choices[i]. The length is the choice's text without the delimiter (Template.Continuation's leading
// space), counted in characters (Unicode code points, as Python's len(str) counts them; for ASCII text
// the same as bytes), exactly as the harness computes completion_len. It panics if the slices differ in
// length.
func ArgmaxNorm(logLiks []float64, choices []string) int {
	if len(logLiks) != len(choices) {
		panic(fmt.Sprintf("eval: ArgmaxNorm: %d log-likelihoods for %d choices", len(logLiks), len(choices)))
	}
	norm := make([]float64, len(logLiks))
	for i, ll := range logLiks {
		norm[i] = ll / float64(utf8.RuneCountInString(choices[i]))
	}
	return Argmax(norm)
}

// ChoiceAccuracy scores one multiple-choice item from its choices' summed continuation log-likelihoods:
// acc is 1 when Argmax picks gold, accNorm is 1 when ArgmaxNorm does. It panics if the slices differ in
// length.
func ChoiceAccuracy(logLiks []float64, choices []string, gold int) (acc, accNorm float64) {
	return boolScore(Argmax(logLiks) == gold), boolScore(ArgmaxNorm(logLiks, choices) == gold)
}

// Perplexity is exp(−mean(tokenLogProbs)) for natural-log token probabilities; NaN when there are none.
func Perplexity(tokenLogProbs []float64) float64 {
	var sum float64
	for _, lp := range tokenLogProbs {
		sum += lp
	}
	return PerplexityFromSum(sum, len(tokenLogProbs))
}

// PerplexityFromSum is exp(−sumLogProb/nTokens), the perplexity of nTokens tokens whose natural-log
// probabilities sum to sumLogProb (what Model.LogLikelihood returns); NaN when nTokens ≤ 0. Summing
// several texts' sums and counts first gives the corpus perplexity, which is not the mean of theirs.
func PerplexityFromSum(sumLogProb float64, nTokens int) float64 {
	if nTokens <= 0 {
		return math.NaN()
	}
	return math.Exp(-sumLogProb / float64(nTokens))
}

// Score scores a prediction against a reference under metric m: a generation for ExactMatch,
// FirstChar, RougeL, EditSim, SARI and NumericMatch, or the chosen choice's text for MultipleChoice
// (scored 1 when it equals ref exactly). EditSim trims white space around both strings first, because
// the template's answer carries a leading space and a stop newline. SARI scores against an empty
// source here; see ScoreSource. An unknown metric scores NaN.
func (m Metric) Score(pred, ref string) float64 {
	return m.ScoreSource(pred, ref, "")
}

// ScoreSource is Score for a prediction made from source, the item's prompt: SARI measures what the
// prediction keeps, deletes and adds relative to it (SARIScore with ref as the one reference); the
// other metrics ignore it.
func (m Metric) ScoreSource(pred, ref, source string) float64 {
	switch m {
	case SARI:
		return SARIScore(source, pred, []string{ref})
	case NumericMatch:
		return NumericMatchScore(pred, ref)
	case ExactMatch:
		return ExactMatchScore(pred, ref)
	case FirstChar:
		return FirstCharScore(pred, ref)
	case RougeL:
		return RougeLF1(pred, ref)
	case EditSim:
		return EditSimilarity(strings.TrimSpace(pred), strings.TrimSpace(ref))
	case MultipleChoice:
		return boolScore(pred == ref)
	}
	return math.NaN()
}

// Valid reports whether m is one of the package's metrics.
func (m Metric) Valid() bool {
	switch m {
	case ExactMatch, FirstChar, MultipleChoice, RougeL, EditSim, SARI, NumericMatch:
		return true
	}
	return false
}

func boolScore(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
