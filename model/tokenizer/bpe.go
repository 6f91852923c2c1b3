package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// spaceMark is SentencePiece's stand-in for a space.
const spaceMark = "\u2581"

// maxCachedWord is the longest pre-tokenized word (in bytes) whose encoding is cached.
const maxCachedWord = 256

// maxCacheEntries bounds the word cache; it is emptied when full.
const maxCacheEntries = 1 << 16

// BPE is a byte-pair-encoding tokenizer read from a Hugging Face tokenizer.json (LoadHF, ParseHF)
// or built by Train. It implements Tokenizer and is safe for concurrent use.
type BPE struct {
	flavour Flavour

	pieces     []string         // id -> token as written in tokenizer.json ("" for holes)
	vocab      map[string]int32 // model.vocab
	merges     map[uint64]mergeRule
	mergeOrder [][2]int32 // the merges by rank, for Save

	added     []addedToken
	addedByID map[int32]int // index into added
	matchers  [256][]int    // indices into added whose content starts with that byte, longest first

	unk          int32
	fuseUnk      bool
	byteFallback bool
	byteTokens   [256]int32 // ids of <0xNN>, -1 when absent
	ignoreMerges bool

	// SentencePiece flavour: the normalizer and pre-tokenizer.
	normalize    []replaceRule
	prependFirst bool // Metaspace with prepend_scheme "first": only the first segment gets "▁"
	splitOnMark  bool // Metaspace with split: words start at each "▁"
	// wordSafe is true when no merge joins a token not ending in "▁" to one starting with "▁", so
	// that encoding word by word (as splitSPWords cuts) gives the same ids as the whole text.
	wordSafe bool

	// ByteLevel flavour.
	addPrefixSpace bool
	byteIDs        [256]int32       // id of each byte's character
	rawVocab       map[string]int32 // raw bytes of each token -> id, for ignore_merges
	rawPieces      []string         // id -> raw bytes

	bos, eos int

	pool      sync.Pool // *merger
	cacheMu   sync.Mutex
	wordCache map[string][]int32
}

type mergeRule struct {
	rank   int32
	merged int32
}

type addedToken struct {
	ID      int
	Content string
	Special bool
}

// replaceRule is one step of a normalizer: prepend when old is "", else replace old by new.
type replaceRule struct {
	old, new string
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// Flavour reports the kind of vocabulary.
func (t *BPE) Flavour() Flavour { return t.flavour }

// VocabSize implements Tokenizer.
func (t *BPE) VocabSize() int { return len(t.pieces) }

// BOS implements Tokenizer.
func (t *BPE) BOS() int { return t.bos }

// EOS implements Tokenizer.
func (t *BPE) EOS() int { return t.eos }

// IDOf implements Tokenizer.
func (t *BPE) IDOf(token string) int {
	for _, a := range t.added {
		if a.Content == token {
			return a.ID
		}
	}
	if id, ok := t.vocab[token]; ok {
		return int(id)
	}
	return -1
}

// Token returns the vocabulary string of id as tokenizer.json writes it ("▁the", "Ġthe",
// "<0x0A>", "<|eot_id|>"), or "" when id is out of range.
func (t *BPE) Token(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// NumMerges is the number of merge rules.
func (t *BPE) NumMerges() int { return len(t.mergeOrder) }

func (t *BPE) stripsLeadingSpace() bool { return t.flavour == SentencePiece }

func (t *BPE) pair(a, b int32) (float64, int32, bool) {
	m, ok := t.merges[pairKey(a, b)]
	return float64(m.rank), m.merged, ok
}

// Encode implements Tokenizer.
func (t *BPE) Encode(text string, addBOS, addEOS bool) []int {
	out := make([]int, 0, len(text)/3+2)
	if addBOS && t.bos >= 0 {
		out = append(out, t.bos)
	}
	m, _ := t.pool.Get().(*merger)
	if m == nil {
		m = &merger{}
	}
	first := true
	for len(text) > 0 {
		i, a := t.nextAdded(text)
		if i > 0 {
			out = t.encodeSegment(text[:i], first, m, out)
			first = false
		}
		if a < 0 {
			break
		}
		out = append(out, t.added[a].ID)
		text = text[i+len(t.added[a].Content):]
		first = false
	}
	t.pool.Put(m)
	if addEOS && t.eos >= 0 {
		out = append(out, t.eos)
	}
	return out
}

// nextAdded finds the leftmost added token in text (the longest one at that position) and returns
// its offset and index, or len(text), -1.
func (t *BPE) nextAdded(text string) (int, int) {
	for i := 0; i < len(text); i++ {
		for _, a := range t.matchers[text[i]] {
			if strings.HasPrefix(text[i:], t.added[a].Content) {
				return i, a
			}
		}
	}
	return len(text), -1
}

func (t *BPE) encodeSegment(seg string, first bool, m *merger, out []int) []int {
	if t.flavour == ByteLevel {
		if t.addPrefixSpace && first && seg[0] != ' ' {
			seg = " " + seg
		}
		var words [32]string
		for _, w := range splitLlama3(seg, words[:0]) {
			out = t.encodeByteLevelWord(w, m, out)
		}
		return out
	}
	for _, r := range t.normalize {
		if r.old == "" {
			if r.new == spaceMark && t.prependFirst && !first {
				continue
			}
			seg = r.new + seg
		} else {
			seg = strings.ReplaceAll(seg, r.old, r.new)
		}
	}
	if t.wordSafe && !t.splitOnMark {
		for _, w := range splitSPWords(seg) {
			out = t.encodeCached(w, m, out, t.encodeSPWord)
		}
		return out
	}
	if !t.splitOnMark {
		return t.encodeSPWord(seg, m, out)
	}
	start := 0
	for i := 1; i < len(seg); i++ {
		if strings.HasPrefix(seg[i:], spaceMark) {
			out = t.encodeSPWord(seg[start:i], m, out)
			start = i
		}
	}
	return t.encodeSPWord(seg[start:], m, out)
}

func (t *BPE) encodeByteLevelWord(w string, m *merger, out []int) []int {
	if t.ignoreMerges {
		if id, ok := t.rawVocab[w]; ok {
			return append(out, int(id))
		}
	}
	return t.encodeCached(w, m, out, t.encodeByteLevelSymbols)
}

func (t *BPE) encodeByteLevelSymbols(w string, m *merger, out []int) []int {
	syms := make([]int32, 0, len(w))
	for i := 0; i < len(w); i++ {
		if id := t.byteIDs[w[i]]; id >= 0 {
			syms = append(syms, id)
		}
	}
	return m.run(syms, t.pair, out)
}

// encodeCached appends enc's ids for w, from the word cache when w is short.
func (t *BPE) encodeCached(w string, m *merger, out []int, enc func(string, *merger, []int) []int) []int {
	if len(w) > maxCachedWord {
		return enc(w, m, out)
	}
	t.cacheMu.Lock()
	cached, ok := t.wordCache[w]
	t.cacheMu.Unlock()
	if ok {
		for _, id := range cached {
			out = append(out, int(id))
		}
		return out
	}
	n := len(out)
	out = enc(w, m, out)
	ids := make([]int32, len(out)-n)
	for i, id := range out[n:] {
		ids[i] = int32(id)
	}
	t.cacheMu.Lock()
	if len(t.wordCache) >= maxCacheEntries {
		clear(t.wordCache)
	}
	t.wordCache[w] = ids
	t.cacheMu.Unlock()
	return out
}

// encodeSPWord encodes normalized SentencePiece-style text: characters in the vocabulary are
// symbols, others fall back to byte tokens (or <unk>), then merges apply by rank.
func (t *BPE) encodeSPWord(w string, m *merger, out []int) []int {
	syms := make([]int32, 0, len(w))
	for i := 0; i < len(w); {
		r, size := utf8.DecodeRuneInString(w[i:])
		ch := w[i : i+size]
		i += size
		if r != utf8.RuneError || size > 1 {
			if id, ok := t.vocab[ch]; ok {
				syms = append(syms, id)
				continue
			}
		}
		if t.byteFallback && t.hasBytes(ch) {
			for j := 0; j < len(ch); j++ {
				syms = append(syms, t.byteTokens[ch[j]])
			}
			continue
		}
		if t.unk >= 0 && !(t.fuseUnk && len(syms) > 0 && syms[len(syms)-1] == t.unk) {
			syms = append(syms, t.unk)
		}
	}
	return m.run(syms, t.pair, out)
}

func (t *BPE) hasBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if t.byteTokens[s[i]] < 0 {
			return false
		}
	}
	return true
}

// DecodeToken implements Tokenizer.
func (t *BPE) DecodeToken(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	if a, ok := t.addedByID[int32(id)]; ok {
		if t.added[a].Special {
			return ""
		}
		return t.added[a].Content
	}
	if t.flavour == ByteLevel {
		return t.rawPieces[id]
	}
	p := t.pieces[id]
	if t.byteFallback {
		if b, ok := parseByteToken(p); ok && t.byteTokens[b] == int32(id) {
			return string([]byte{b})
		}
	}
	return strings.ReplaceAll(p, spaceMark, " ")
}

// Decode implements Tokenizer.
func (t *BPE) Decode(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(t.DecodeToken(id))
	}
	s := sb.String()
	if t.flavour == SentencePiece && strings.HasPrefix(s, " ") {
		s = s[1:]
	}
	return s
}

// parseByteToken parses "<0xNN>".
func parseByteToken(p string) (byte, bool) {
	if len(p) != 6 || p[:3] != "<0x" || p[5] != '>' {
		return 0, false
	}
	var b byte
	for _, c := range p[3:5] {
		b <<= 4
		switch {
		case '0' <= c && c <= '9':
			b |= byte(c - '0')
		case 'A' <= c && c <= 'F':
			b |= byte(c - 'A' + 10)
		case 'a' <= c && c <= 'f':
			b |= byte(c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}

// byteTokenName is "<0xNN>" for b.
func byteTokenName(b byte) string { return fmt.Sprintf("<0x%02X>", b) }

// finish builds the lookup tables that depend on pieces, vocab, merges and added tokens. It is
// called by ParseHF and Train once those are set.
func (t *BPE) finish() error {
	t.addedByID = make(map[int32]int, len(t.added))
	for i := range t.matchers {
		t.matchers[i] = nil
	}
	for i, a := range t.added {
		t.addedByID[int32(a.ID)] = i
		if a.Content != "" {
			c := a.Content[0]
			t.matchers[c] = append(t.matchers[c], i)
		}
	}
	for c := range t.matchers {
		slices.SortStableFunc(t.matchers[c], func(x, y int) int {
			return len(t.added[y].Content) - len(t.added[x].Content)
		})
	}
	for b := range 256 {
		t.byteTokens[b] = -1
		if id, ok := t.vocab[byteTokenName(byte(b))]; ok {
			t.byteTokens[b] = id
		}
	}
	t.wordCache = make(map[string][]int32)
	if t.flavour != ByteLevel {
		t.wordSafe = true
		for _, p := range t.mergeOrder {
			if !strings.HasSuffix(t.pieces[p[0]], spaceMark) && strings.HasPrefix(t.pieces[p[1]], spaceMark) {
				t.wordSafe = false
				break
			}
		}
		return nil
	}
	t.rawPieces = make([]string, len(t.pieces))
	t.rawVocab = make(map[string]int32, len(t.vocab))
	for tok, id := range t.vocab {
		raw, ok := rawBytes(tok)
		if !ok {
			continue // a token outside the byte-level alphabet cannot come out of the pre-tokenizer
		}
		t.rawPieces[id] = raw
		t.rawVocab[raw] = id
	}
	for b := range 256 {
		id, ok := t.vocab[string(byteToRune[b])]
		if !ok {
			return fmt.Errorf("model.vocab: byte-level vocabulary lacks %q (byte 0x%02X): %w", string(byteToRune[b]), b, ErrFormat)
		}
		t.byteIDs[b] = id
	}
	return nil
}
