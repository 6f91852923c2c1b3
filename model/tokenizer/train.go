package tokenizer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// Flavour is the kind of vocabulary to build. Zero is SentencePiece (Llama 2 style: <unk>,
	// <s>, </s>, 256 <0xNN> byte-fallback tokens, characters, merges); ByteLevel builds a Llama 3
	// style vocabulary (256 byte characters, merges, then <|begin_of_text|> and <|end_of_text|>).
	Flavour Flavour
	// CharacterCoverage is, for SentencePiece, the share of character occurrences that get their
	// own token, the most frequent characters first; the rest fall back to byte tokens. Zero means
	// 0.9995 (SentencePiece's default). Characters never take more than half of the free ids.
	CharacterCoverage float64
	// MinFrequency is the fewest occurrences a pair needs to be merged. Zero means 1. Train fails
	// when it runs out of such pairs before reaching vocabSize.
	MinFrequency int
	// SpecialTokens are extra special tokens (such as "<|eot_id|>"), added after all others. They
	// count towards vocabSize. Zero means none.
	SpecialTokens []string
}

// Validate reports the first bad field.
func (o TrainOptions) Validate() error {
	if o.Flavour != SentencePiece && o.Flavour != ByteLevel {
		return fmt.Errorf("tokenizer: TrainOptions.Flavour %d is unknown", o.Flavour)
	}
	if o.CharacterCoverage < 0 || o.CharacterCoverage > 1 {
		return fmt.Errorf("tokenizer: TrainOptions.CharacterCoverage %v outside [0, 1]", o.CharacterCoverage)
	}
	if o.MinFrequency < 0 {
		return fmt.Errorf("tokenizer: TrainOptions.MinFrequency %d is negative", o.MinFrequency)
	}
	for i, s := range o.SpecialTokens {
		if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, " ") {
			return fmt.Errorf("tokenizer: TrainOptions.SpecialTokens[%d] %q must be valid UTF-8, non-empty, without spaces", i, s)
		}
	}
	return nil
}

// Train learns a BPE vocabulary of exactly vocabSize ids from texts, by repeatedly merging the most
// frequent adjacent pair (ties broken by the lower pair of ids), so the result depends only on its
// inputs. Words never span a pre-tokenizer boundary: a SentencePiece word is a run of "▁" and then
// the characters up to the next "▁"; a ByteLevel word is a piece of Llama 3's split. Pair counts are
// updated incrementally, so a megabyte of text trains in about a second.
func Train(texts []string, vocabSize int, opts TrainOptions) (*BPE, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	minFreq := max(opts.MinFrequency, 1)
	coverage := cmp.Or(opts.CharacterCoverage, 0.9995)

	t := &BPE{flavour: opts.Flavour, unk: -1, vocab: map[string]int32{}, bos: -1, eos: -1}
	addPiece := func(s string) int32 {
		id := int32(len(t.pieces))
		t.pieces = append(t.pieces, s)
		t.vocab[s] = id
		return id
	}
	var trailing []string // special tokens that come after the merges
	var wordCounts map[string]int
	var firstMergeable int32
	var symbolsOf func(w string) []int32

	switch opts.Flavour {
	case SentencePiece:
		t.byteFallback, t.fuseUnk = true, true
		t.normalize = []replaceRule{{"", spaceMark}, {" ", spaceMark}}
		for i, s := range []string{"<unk>", "<s>", "</s>"} {
			addPiece(s)
			t.added = append(t.added, addedToken{ID: i, Content: s, Special: true})
		}
		t.unk, t.bos, t.eos = 0, 1, 2
		for b := range 256 {
			addPiece(byteTokenName(byte(b)))
		}
		firstMergeable = int32(len(t.pieces))
		wordCounts = map[string]int{}
		charCounts := map[rune]int{}
		total := 0
		for _, text := range texts {
			if text == "" {
				continue
			}
			norm := spaceMark + strings.ReplaceAll(text, " ", spaceMark)
			for _, w := range splitSPWords(norm) {
				wordCounts[w]++
			}
			for _, r := range norm {
				charCounts[r]++
				total++
			}
		}
		chars := make([]rune, 0, len(charCounts))
		for r := range charCounts {
			chars = append(chars, r)
		}
		slices.SortFunc(chars, func(a, b rune) int {
			return cmp.Or(cmp.Compare(charCounts[b], charCounts[a]), cmp.Compare(a, b))
		})
		limit := (vocabSize - len(t.pieces) - len(opts.SpecialTokens)) / 2
		covered := 0
		for _, r := range chars {
			if len(t.pieces)-int(firstMergeable) >= limit || float64(covered) >= coverage*float64(total) {
				break
			}
			if r == utf8.RuneError {
				continue
			}
			addPiece(string(r))
			covered += charCounts[r]
		}
		symbolsOf = func(w string) []int32 {
			syms := make([]int32, 0, len(w))
			for i := 0; i < len(w); {
				r, size := utf8.DecodeRuneInString(w[i:])
				ch := w[i : i+size]
				i += size
				if id, ok := t.vocab[ch]; ok && (r != utf8.RuneError || size > 1) {
					syms = append(syms, id)
					continue
				}
				for j := 0; j < len(ch); j++ {
					syms = append(syms, 3+int32(ch[j]))
				}
			}
			return syms
		}
	case ByteLevel:
		for _, b := range byteLevelOrder {
			addPiece(string(byteToRune[b]))
		}
		t.ignoreMerges = true
		trailing = []string{"<|begin_of_text|>", "<|end_of_text|>"}
		wordCounts = map[string]int{}
		var buf []string
		for _, text := range texts {
			buf = splitLlama3(text, buf[:0])
			for _, w := range buf {
				wordCounts[w]++
			}
		}
		byteID := [256]int32{}
		for i, b := range byteLevelOrder {
			byteID[b] = int32(i)
		}
		symbolsOf = func(w string) []int32 {
			syms := make([]int32, len(w))
			for i := 0; i < len(w); i++ {
				syms[i] = byteID[w[i]]
			}
			return syms
		}
	}
	trailing = append(trailing, opts.SpecialTokens...)
	target := vocabSize - len(trailing)
	if target < len(t.pieces) {
		return nil, fmt.Errorf("tokenizer: vocabSize %d is below the %d base and special tokens of flavour %v", vocabSize, len(t.pieces)+len(trailing), opts.Flavour)
	}

	words := make([]string, 0, len(wordCounts))
	for w := range wordCounts {
		words = append(words, w)
	}
	slices.Sort(words)
	tr := newPairTrainer(len(words), firstMergeable)
	for i, w := range words {
		tr.addWord(int32(i), symbolsOf(w), wordCounts[w])
	}
	tr.seal()
	for len(t.pieces) < target {
		a, b, ok := tr.best(minFreq)
		if !ok {
			return nil, fmt.Errorf("tokenizer: the texts give only %d tokens of the %d asked (vocabSize less %d special tokens); add text, lower vocabSize or MinFrequency", len(t.pieces), target, len(trailing))
		}
		s := t.pieces[a] + t.pieces[b]
		c, exists := t.vocab[s]
		if !exists {
			c = addPiece(s)
		}
		if _, dup := t.merges[pairKey(a, b)]; !dup {
			if t.merges == nil {
				t.merges = map[uint64]mergeRule{}
			}
			t.merges[pairKey(a, b)] = mergeRule{rank: int32(len(t.mergeOrder)), merged: c}
			t.mergeOrder = append(t.mergeOrder, [2]int32{a, b})
		}
		tr.merge(a, b, c)
	}
	if t.merges == nil {
		t.merges = map[uint64]mergeRule{}
	}
	for _, s := range trailing {
		if _, dup := t.vocab[s]; dup {
			return nil, fmt.Errorf("tokenizer: special token %q is already in the vocabulary", s)
		}
		id := len(t.pieces)
		t.pieces = append(t.pieces, s)
		t.added = append(t.added, addedToken{ID: id, Content: s, Special: true})
	}
	if opts.Flavour == ByteLevel {
		t.bos, t.eos = t.IDOf("<|begin_of_text|>"), t.IDOf("<|end_of_text|>")
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	return t, nil
}

// splitSPWords splits normalized text into words, each a run of "▁" and the characters after it up
// to the next "▁".
func splitSPWords(s string) []string {
	var out []string
	start, prevMark := 0, false
	for i, r := range s {
		mark := r == '\u2581'
		if mark && !prevMark && i > start {
			out = append(out, s[start:i])
			start = i
		}
		prevMark = mark
	}
	return append(out, s[start:])
}

// pairTrainer keeps the counts of adjacent pairs over a set of words and where each pair occurs,
// and updates both as pairs merge.
type pairTrainer struct {
	words          [][]int32
	counts         []int
	pairCount      map[uint64]int
	where          map[uint64][]int32
	heap           []pairEntry
	firstMergeable int32
}

type pairEntry struct {
	count int
	key   uint64
}

func (e pairEntry) before(f pairEntry) bool {
	if e.count != f.count {
		return e.count > f.count
	}
	return e.key < f.key
}

func newPairTrainer(n int, firstMergeable int32) *pairTrainer {
	return &pairTrainer{
		words:          make([][]int32, n),
		counts:         make([]int, n),
		pairCount:      map[uint64]int{},
		where:          map[uint64][]int32{},
		firstMergeable: firstMergeable,
	}
}

func (p *pairTrainer) mergeable(a, b int32) bool {
	return a >= p.firstMergeable && b >= p.firstMergeable
}

func (p *pairTrainer) addWord(i int32, syms []int32, count int) {
	p.words[i], p.counts[i] = syms, count
	for j := 0; j+1 < len(syms); j++ {
		if !p.mergeable(syms[j], syms[j+1]) {
			continue
		}
		k := pairKey(syms[j], syms[j+1])
		if p.pairCount[k] == 0 || p.lastWhere(k) != i {
			p.where[k] = append(p.where[k], i)
		}
		p.pairCount[k] += count
	}
}

// seal fills the heap once all words are added.
func (p *pairTrainer) seal() {
	keys := make([]uint64, 0, len(p.pairCount))
	for k := range p.pairCount {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p.push(pairEntry{p.pairCount[k], k})
	}
}

func (p *pairTrainer) lastWhere(k uint64) int32 {
	w := p.where[k]
	if len(w) == 0 {
		return -1
	}
	return w[len(w)-1]
}

func (p *pairTrainer) push(e pairEntry) {
	p.heap = append(p.heap, e)
	h := p.heap
	i := len(h) - 1
	for i > 0 {
		par := (i - 1) / 2
		if !h[i].before(h[par]) {
			break
		}
		h[i], h[par] = h[par], h[i]
		i = par
	}
}

func (p *pairTrainer) pop() pairEntry {
	h := p.heap
	top := h[0]
	h[0] = h[len(h)-1]
	h = h[:len(h)-1]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && h[r].before(h[l]) {
			c = r
		}
		if !h[c].before(h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	p.heap = h
	return top
}

// best returns the most frequent pair with at least minFreq occurrences.
func (p *pairTrainer) best(minFreq int) (int32, int32, bool) {
	for len(p.heap) > 0 {
		e := p.heap[0]
		cur := p.pairCount[e.key]
		if cur != e.count {
			p.pop()
			if cur > 0 && cur < e.count {
				p.push(pairEntry{cur, e.key})
			}
			continue
		}
		if cur < minFreq {
			return 0, 0, false
		}
		return int32(e.key >> 32), int32(uint32(e.key)), true
	}
	return 0, 0, false
}

// merge replaces every a, b in the words by c and updates the counts.
func (p *pairTrainer) merge(a, b, c int32) {
	key := pairKey(a, b)
	before := map[uint64]int{}
	change := func(k uint64, d int) {
		if _, ok := before[k]; !ok {
			before[k] = p.pairCount[k]
		}
		p.pairCount[k] += d
	}
	for _, wi := range p.where[key] {
		w := p.words[wi]
		if !containsPair(w, a, b) {
			continue
		}
		n := p.counts[wi]
		for j := 0; j+1 < len(w); j++ {
			if p.mergeable(w[j], w[j+1]) {
				change(pairKey(w[j], w[j+1]), -n)
			}
		}
		out := w[:0]
		for j := 0; j < len(w); j++ {
			if j+1 < len(w) && w[j] == a && w[j+1] == b {
				out = append(out, c)
				j++
				continue
			}
			out = append(out, w[j])
		}
		p.words[wi] = out
		for j := 0; j+1 < len(out); j++ {
			if !p.mergeable(out[j], out[j+1]) {
				continue
			}
			k := pairKey(out[j], out[j+1])
			change(k, n)
			if (out[j] == c || out[j+1] == c) && p.lastWhere(k) != wi {
				p.where[k] = append(p.where[k], wi)
			}
		}
	}
	delete(p.where, key)
	delete(p.pairCount, key)
	keys := make([]uint64, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cur := p.pairCount[k]
		if cur <= 0 {
			delete(p.pairCount, k)
			delete(p.where, k)
			continue
		}
		if cur > before[k] {
			p.push(pairEntry{cur, k})
		}
	}
}

func containsPair(w []int32, a, b int32) bool {
	for j := 0; j+1 < len(w); j++ {
		if w[j] == a && w[j+1] == b {
			return true
		}
	}
	return false
}
