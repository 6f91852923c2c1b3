package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// WordNet 3.0 (Debian's wordnet-base) gives the bulk of the general text (its glosses, written out as
// dictionary entries) and four relations of base facts: adjective antonyms, irregular verb forms,
// irregular plurals and people's occupations.

const wordnetDir = "usr/share/wordnet"

// synset is one line of a WordNet data.POS file (wndb(5WN)).
type synset struct {
	Offset string
	Lex    int      // lexicographer file number (18: noun.person)
	POS    string   // n, v, a, s, r
	Words  []string // lemmas, "_" turned into spaces, adjective markers such as "(p)" dropped
	Ptrs   []pointer
	Gloss  string
}

type pointer struct {
	Symbol   string
	Offset   string
	POS      string
	Src, Dst int // 1-based word numbers; 0 for a semantic pointer
}

// readSynsets reads data.POS into a map keyed by offset, and the offsets in file order.
func readSynsets(src, pos string) (map[string]*synset, []string, error) {
	p := filepath.Join(src, srcWordnet.Dir, wordnetDir, "data."+pos)
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("packgen: wordnet: %w", err)
	}
	defer f.Close()
	out := map[string]*synset{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if strings.HasPrefix(t, "  ") {
			continue // licence header
		}
		s, err := parseSynset(t)
		if err != nil {
			return nil, nil, fmt.Errorf("packgen: wordnet %s:%d: %w", p, line, err)
		}
		out[s.Offset] = s
		order = append(order, s.Offset)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("packgen: wordnet %s: %w", p, err)
	}
	return out, order, nil
}

func parseSynset(t string) (*synset, error) {
	head, gloss, _ := strings.Cut(t, " | ")
	f := strings.Fields(head)
	if len(f) < 4 {
		return nil, fmt.Errorf("short record")
	}
	lex, err := strconv.Atoi(f[1])
	if err != nil {
		return nil, fmt.Errorf("lex_filenum %q", f[1])
	}
	s := &synset{Offset: f[0], Lex: lex, POS: f[2], Gloss: strings.TrimSpace(gloss)}
	nw, err := strconv.ParseInt(f[3], 16, 32)
	if err != nil || 4+2*int(nw) >= len(f) {
		return nil, fmt.Errorf("w_cnt %q", f[3])
	}
	i := 4
	for range nw {
		w := f[i]
		if k := strings.IndexByte(w, '('); k > 0 {
			w = w[:k]
		}
		s.Words = append(s.Words, strings.ReplaceAll(w, "_", " "))
		i += 2
	}
	np, err := strconv.Atoi(f[i])
	if err != nil || i+1+4*np > len(f) {
		return nil, fmt.Errorf("p_cnt %q", f[i])
	}
	i++
	for range np {
		st, err := strconv.ParseUint(f[i+3], 16, 16)
		if err != nil {
			return nil, fmt.Errorf("pointer source/target %q", f[i+3])
		}
		s.Ptrs = append(s.Ptrs, pointer{Symbol: f[i], Offset: f[i+1], POS: f[i+2], Src: int(st >> 8), Dst: int(st & 0xff)})
		i += 4
	}
	return s, nil
}

// tagCounts reads index.POS: each lemma's tagsense_cnt (how many of its senses were tagged in the
// SemCor corpus), WordNet's measure of how common a word is.
func tagCounts(src, pos string) (map[string]int, error) {
	p := filepath.Join(src, srcWordnet.Dir, wordnetDir, "index."+pos)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("packgen: wordnet: %w", err)
	}
	out := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "  ") {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		np, err := strconv.Atoi(f[3])
		if err != nil || len(f) < 6+np {
			return nil, fmt.Errorf("packgen: wordnet %s: bad line %q", p, l)
		}
		n, err := strconv.Atoi(f[5+np])
		if err != nil {
			return nil, fmt.Errorf("packgen: wordnet %s: bad tagsense_cnt in %q", p, l)
		}
		out[strings.ReplaceAll(f[0], "_", " ")] = n
	}
	return out, nil
}

// exceptions reads POS.exc: inflected form → base forms.
func exceptions(src, pos string) ([][2]string, error) {
	p := filepath.Join(src, srcWordnet.Dir, wordnetDir, pos+".exc")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("packgen: wordnet: %w", err)
	}
	var out [][2]string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 { // forms with two base forms are ambiguous: skipped
			out = append(out, [2]string{f[0], f[1]})
		}
	}
	return out, nil
}

func lowerWord(s string) bool {
	if len(s) < 2 {
		return false
	}
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// antonymFacts: direct antonyms of adjectives (the "!" pointers of data.adj between head words), one
// direction per pair (the more common word is the subject), both words single lower-case words tagged
// at least minTag times in SemCor.
func antonymFacts(src string, minTag int) ([]fact, error) {
	ss, order, err := readSynsets(src, "adj")
	if err != nil {
		return nil, err
	}
	tags, err := tagCounts(src, "adj")
	if err != nil {
		return nil, err
	}
	seen := map[[2]string]bool{}
	var fs []fact
	for _, off := range order {
		s := ss[off]
		for _, p := range s.Ptrs {
			if p.Symbol != "!" || p.Src == 0 || p.Src > len(s.Words) {
				continue
			}
			t := ss[p.Offset]
			if t == nil || p.Dst == 0 || p.Dst > len(t.Words) {
				continue
			}
			a, b := s.Words[p.Src-1], t.Words[p.Dst-1]
			if !lowerWord(a) || !lowerWord(b) || tags[a] < minTag || tags[b] < minTag {
				continue
			}
			if tags[b] > tags[a] || tags[b] == tags[a] && b < a {
				a, b = b, a
			}
			if k := [2]string{a, b}; !seen[k] {
				seen[k] = true
				fs = append(fs, fact{a, b})
			}
		}
	}
	return fs, nil
}

// irregularFacts: forms of exc (verb.exc or noun.exc) whose base word is tagged at least minTag times
// and that are not a regular inflection: a form that starts with its base (minus the last letter) is
// left out, which drops doubled consonants and -ied/-ies forms along with the regular ones.
func irregularFacts(src, pos string, minTag int) ([]fact, error) {
	exc, err := exceptions(src, pos)
	if err != nil {
		return nil, err
	}
	tags, err := tagCounts(src, pos)
	if err != nil {
		return nil, err
	}
	var fs []fact
	for _, e := range exc {
		form, base := e[0], e[1]
		if !lowerWord(form) || !lowerWord(base) || form == base || tags[base] < minTag || len(base) < 3 ||
			strings.HasPrefix(form, base[:len(base)-1]) || strings.HasSuffix(form, "ing") {
			continue
		}
		fs = append(fs, fact{form, base})
	}
	return fs, nil
}

// occupationFacts: people in noun.person (lexicographer file 18) with exactly one instance hypernym
// (@i) whose first lemma is a single lower-case word, named by their longest lemma of two or three
// capitalised words.
func occupationFacts(src string) ([]fact, error) {
	ss, order, err := readSynsets(src, "noun")
	if err != nil {
		return nil, err
	}
	var fs []fact
	for _, off := range order {
		s := ss[off]
		if s.Lex != 18 {
			continue
		}
		var hyper []string
		for _, p := range s.Ptrs {
			if p.Symbol == "@i" {
				hyper = append(hyper, p.Offset)
			}
		}
		if len(hyper) != 1 || ss[hyper[0]] == nil {
			continue
		}
		job := ss[hyper[0]].Words[0]
		if !lowerWord(job) {
			continue
		}
		name := ""
		for _, w := range s.Words {
			parts := strings.Fields(w)
			if len(parts) < 2 || len(parts) > 3 || len(w) <= len(name) {
				continue
			}
			ok := true
			for _, p := range parts {
				ok = ok && unicode.IsUpper(rune(p[0])) && isASCII(p) && !strings.ContainsAny(p, ".0123456789")
			}
			if ok {
				name = w
			}
		}
		if name != "" {
			fs = append(fs, fact{name, job})
		}
	}
	return fs, nil
}

var posNames = map[string]string{"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}

// wordnetEntries renders every synset of the four data files as one dictionary entry,
// "lemma, lemma (part of speech): gloss", in file order (which groups related senses).
func wordnetEntries(src string) ([]string, error) {
	var out []string
	for _, pos := range []string{"noun", "verb", "adj", "adv"} {
		ss, order, err := readSynsets(src, pos)
		if err != nil {
			return nil, err
		}
		for _, off := range order {
			s := ss[off]
			words := slices.Compact(slices.Clone(s.Words))
			g := strings.Join(strings.Fields(s.Gloss), " ")
			if g == "" || !isASCII(g) || !isASCII(strings.Join(words, " ")) {
				continue
			}
			out = append(out, strings.Join(words, ", ")+" ("+posNames[s.POS]+"): "+g)
		}
	}
	return out, nil
}
