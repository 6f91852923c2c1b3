package eval

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// SARIScore is SARI (Xu et al., "Optimizing Statistical Machine Translation for Text Simplification",
// TACL 2016) of one prediction, in [0, 1]: the mean over n = 1…4 of the keep F1, the deletion
// precision and the addition F1 of pred's n-grams against source and refs, divided by 3.
//
// It is computed as Hugging Face evaluate's sari metric computes one sentence (SARIsent, adapted from
// tensor2tensor's sari_hook; evaluate's score is 100 × the mean of these over a corpus): every text is
// lower-cased and tokenised with sacrebleu's 13a tokenizer, then split on single spaces; source and
// prediction n-gram counts are multiplied by the number of references; 0/0 counts as 1; keep recall
// divides by the total count of the source n-grams found in the references (the fix of
// cocoxu/simplification issue 6). EASSE's corpus_sari pools the counts over the corpus before taking
// the ratios, so its corpus score (CorpusSARI) is not the mean of these.
//
// With no references it returns NaN.
func SARIScore(source, pred string, refs []string) float64 {
	if len(refs) == 0 {
		return math.NaN()
	}
	s := strings.Split(tokenize13a(strings.ToLower(source)), " ")
	c := strings.Split(tokenize13a(strings.ToLower(pred)), " ")
	rs := make([][]string, len(refs))
	for i, r := range refs {
		rs[i] = strings.Split(tokenize13a(strings.ToLower(r)), " ")
	}
	var keep, del, add float64
	for n := 1; n <= 4; n++ {
		rn := make([][]string, len(rs))
		for i, r := range rs {
			rn[i] = ngrams(r, n)
		}
		k, d, a := sariNgram(ngrams(s, n), ngrams(c, n), rn)
		keep += k
		del += d
		add += a
	}
	return (keep/4 + del/4 + add/4) / 3
}

// ngrams are the n-grams of words joined by single spaces.
func ngrams(words []string, n int) []string {
	if n == 1 {
		return words
	}
	var out []string
	for i := 0; i+n <= len(words); i++ {
		out = append(out, strings.Join(words[i:i+n], " "))
	}
	return out
}

func count(xs []string, times int) map[string]int {
	m := map[string]int{}
	for _, x := range xs {
		m[x] += times
	}
	return m
}

// sariNgram is evaluate's SARIngram: keep F1, deletion precision and addition F1 for one n.
func sariNgram(sgrams, cgrams []string, rgrams [][]string) (keep, del, add float64) {
	numref := len(rgrams)
	r := map[string]int{}
	for _, rg := range rgrams {
		for _, g := range rg {
			r[g]++
		}
	}
	s, c := count(sgrams, numref), count(cgrams, numref)

	// Keep: n-grams of both source and prediction (Counter &, the smaller count).
	var keepN, keepAllN int
	var keep1, keep2 float64
	for g, sc := range s {
		if rc := r[g]; rc > 0 {
			keepAllN += min(sc, rc) // sum(keepgramcounterall_rep.values())
		}
		cc := c[g]
		if cc == 0 {
			continue
		}
		kc := min(sc, cc)
		keepN++
		if good := min(kc, r[g]); good > 0 {
			keep1 += float64(good) / float64(kc)
			keep2 += float64(good)
		}
	}
	kp, kr := 1.0, 1.0
	if keepN > 0 {
		kp = keep1 / float64(keepN)
	}
	if keepAllN > 0 {
		kr = keep2 / float64(keepAllN)
	}
	keep = f1(kp, kr)

	// Deletion: source n-grams the prediction has fewer of (Counter −, positive part).
	var delN int
	var del1 float64
	for g, sc := range s {
		dc := sc - c[g]
		if dc <= 0 {
			continue
		}
		delN++
		if good := dc - r[g]; good > 0 {
			del1 += float64(good) / float64(dc)
		}
	}
	del = 1
	if delN > 0 {
		del = del1 / float64(delN)
	}

	// Addition: distinct prediction n-grams not in the source.
	var addN, addGood, addAll int
	for g := range c {
		if s[g] == 0 {
			addN++
			if r[g] > 0 {
				addGood++
			}
		}
	}
	for g := range r {
		if s[g] == 0 {
			addAll++
		}
	}
	ap, ar := 1.0, 1.0
	if addN > 0 {
		ap = float64(addGood) / float64(addN)
	}
	if addAll > 0 {
		ar = float64(addGood) / float64(addAll)
	}
	return keep, del, f1(ap, ar)
}

func f1(p, r float64) float64 {
	if p > 0 || r > 0 {
		return 2 * p * r / (p + r)
	}
	return 0
}

// The rules of sacrebleu's 13a tokenizer (TokenizerRegexp, the mteval-v13a.pl tokenisation).
var rules13a = []struct {
	re   *regexp.Regexp
	repl string
}{
	// Symbols and punctuation other than ' , - . become words ({|}~ [\]^_` space!"#$%& ()*+ :;<=>?@ /).
	{regexp.MustCompile("([{-~\\[-` -&(-+:-@/])"), " ${1} "},
	// Period and comma, unless preceded by a digit.
	{regexp.MustCompile(`([^0-9])([.,])`), "${1} ${2} "},
	// Period and comma, unless followed by a digit.
	{regexp.MustCompile(`([.,])([^0-9])`), " ${1} ${2}"},
	// A dash after a digit.
	{regexp.MustCompile(`([0-9])(-)`), "${1} ${2} "},
}

// tokenize13a is sacrebleu's 13a tokenizer: skipped markers, hyphenated line ends and the four HTML
// entities undone, the rules13a applied to " text ", white space collapsed to single spaces.
func tokenize13a(s string) string {
	s = strings.ReplaceAll(s, "<skipped>", "")
	s = strings.ReplaceAll(s, "-\n", "")
	s = strings.ReplaceAll(s, "\n", " ")
	if strings.Contains(s, "&") {
		// One after another, as sacrebleu does: "&amp;lt;" ends as "<".
		for _, e := range [][2]string{{"&quot;", `"`}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}} {
			s = strings.ReplaceAll(s, e[0], e[1])
		}
	}
	s = " " + s + " "
	for _, r := range rules13a {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return strings.Join(strings.Fields(s), " ")
}

// CorpusSARI is SARI of a whole corpus as EASSE computes it (Alva-Manchego et al., "EASSE: Easier
// Automatic Sentence Simplification Evaluation", EMNLP 2019; corpus_sari of github.com/feralvam/easse
// with its defaults), in [0, 1]; EASSE reports 100 × this. sources[i] is item i's source, preds[i] its
// prediction and refs[i] its references.
//
// Tokenisation is EASSE's default: every text, sources included, is lower-cased and tokenised with
// sacrebleu's 13a tokenizer (as SARIScore does), then split on white space. The counts are those of
// SARIScore — source and prediction n-grams multiplied by the item's number of references, additions
// counted once per distinct n-gram — but they are summed over the corpus before any ratio is taken:
// for each n = 1…4, keep, deletion and addition each get a precision (correct / the prediction's
// total), a recall (correct / the references' total) and their F1, with 0 for an empty total and an
// F1 of 0 unless both are positive. SARI is the mean over n of the three F1s, divided by 3. This is
// EASSE's "macro" SARI (the released Java implementation's), with deletion scored by F1, where
// SARIScore scores it by precision alone and counts 0/0 as 1.
//
// So it is not the mean of SARIScore over the items, which is Hugging Face evaluate's corpus score,
// and what TRACE's evaluation code (and so the paper's 20Minuten score) computes. Use CorpusSARI to
// compare with results reported through EASSE.
//
// It returns NaN for an empty corpus or an item without references, and panics if the three slices
// differ in length.
func CorpusSARI(sources, preds []string, refs [][]string) float64 {
	norm := func(s string) []string { return strings.Fields(tokenize13a(strings.ToLower(s))) }
	toks := func(ss []string) [][]string {
		out := make([][]string, len(ss))
		for i, s := range ss {
			out[i] = norm(s)
		}
		return out
	}
	rs := make([][][]string, len(refs))
	for i, r := range refs {
		rs[i] = toks(r)
	}
	return corpusSARI(toks(sources), toks(preds), rs)
}

// sariCounts are the corpus totals of one operation (keep, deletion or addition) for one n: what the
// prediction got right, the prediction's total and the references' total.
type sariCounts struct{ correct, sys, ref int }

// f1 is EASSE's compute_precision_recall_f1: 0 for an empty total, F1 only when both are positive.
func (c sariCounts) f1() float64 {
	var p, r float64
	if c.sys > 0 {
		p = float64(c.correct) / float64(c.sys)
	}
	if c.ref > 0 {
		r = float64(c.correct) / float64(c.ref)
	}
	if p > 0 && r > 0 {
		return 2 * p * r / (p + r)
	}
	return 0
}

// corpusSARI is CorpusSARI on texts already tokenised.
func corpusSARI(sources, preds [][]string, refs [][][]string) float64 {
	if len(sources) != len(preds) || len(sources) != len(refs) {
		panic(fmt.Sprintf("eval: CorpusSARI: %d sources, %d predictions and %d reference lists",
			len(sources), len(preds), len(refs)))
	}
	if len(sources) == 0 {
		return math.NaN()
	}
	var keep, del, add [4]sariCounts
	for i := range sources {
		if len(refs[i]) == 0 {
			return math.NaN()
		}
		for n := 1; n <= 4; n++ {
			rn := make([][]string, len(refs[i]))
			for j, r := range refs[i] {
				rn[j] = ngrams(r, n)
			}
			k, d, a := corpusNgramCounts(ngrams(sources[i], n), ngrams(preds[i], n), rn)
			keep[n-1] = keep[n-1].plus(k)
			del[n-1] = del[n-1].plus(d)
			add[n-1] = add[n-1].plus(a)
		}
	}
	var sum float64
	for n := range 4 {
		sum += keep[n].f1() + del[n].f1() + add[n].f1()
	}
	return sum / 4 / 3
}

func (c sariCounts) plus(d sariCounts) sariCounts {
	return sariCounts{c.correct + d.correct, c.sys + d.sys, c.ref + d.ref}
}

// corpusNgramCounts are one item's keep, deletion and addition counts for one n, as EASSE's
// compute_ngram_stats counts them.
func corpusNgramCounts(sgrams, cgrams []string, rgrams [][]string) (keep, del, add sariCounts) {
	numref := len(rgrams)
	r := map[string]int{}
	for _, rg := range rgrams {
		for _, g := range rg {
			r[g]++
		}
	}
	s, c := count(sgrams, numref), count(cgrams, numref)
	for g, sc := range s {
		// Keep: source n-grams in the prediction (kept by it) and in the references (kept by them).
		bySys, byRef := min(sc, c[g]), min(sc, r[g])
		keep.sys += bySys
		keep.ref += byRef
		keep.correct += min(bySys, byRef)
		// Deletion: source n-grams the prediction, and the references, have fewer of.
		delSys, delRef := max(sc-c[g], 0), max(sc-r[g], 0)
		del.sys += delSys
		del.ref += delRef
		del.correct += min(delSys, delRef)
	}
	// Addition: distinct n-grams not in the source, in the prediction and in the references.
	for g := range c {
		if s[g] == 0 {
			add.sys++
			if r[g] > 0 {
				add.correct++
			}
		}
	}
	for g := range r {
		if s[g] == 0 {
			add.ref++
		}
	}
	return keep, del, add
}
