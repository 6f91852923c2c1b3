package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/accrete/accrete/internal/atomicfile"
)

// The subset of Hugging Face's tokenizer.json schema that Llama tokenizers use.

type hfFile struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    *hfNormalizer   `json:"normalizer"`
	PreTokenizer  *hfPreTokenizer `json:"pre_tokenizer"`
	PostProcessor *hfProcessor    `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfPattern struct {
	String *string `json:"String,omitempty"`
	Regex  *string `json:"Regex,omitempty"`
}

type hfNormalizer struct {
	Type        string          `json:"type"`
	Normalizers []*hfNormalizer `json:"normalizers,omitempty"`
	Prepend     string          `json:"prepend,omitempty"`
	Pattern     *hfPattern      `json:"pattern,omitempty"`
	Content     *string         `json:"content,omitempty"`
}

type hfPreTokenizer struct {
	Type           string            `json:"type"`
	PreTokenizers  []*hfPreTokenizer `json:"pretokenizers,omitempty"`
	Pattern        *hfPattern        `json:"pattern,omitempty"`
	Behavior       string            `json:"behavior,omitempty"`
	Invert         *bool             `json:"invert,omitempty"`
	AddPrefixSpace *bool             `json:"add_prefix_space,omitempty"`
	TrimOffsets    *bool             `json:"trim_offsets,omitempty"`
	UseRegex       *bool             `json:"use_regex,omitempty"`
	Replacement    string            `json:"replacement,omitempty"`
	PrependScheme  string            `json:"prepend_scheme,omitempty"`
	Split          *bool             `json:"split,omitempty"`
}

type hfTemplatePiece struct {
	SpecialToken *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"SpecialToken,omitempty"`
	Sequence *struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	} `json:"Sequence,omitempty"`
}

type hfProcessor struct {
	Type       string            `json:"type"`
	Processors []*hfProcessor    `json:"processors,omitempty"`
	Single     []hfTemplatePiece `json:"single,omitempty"`
}

type hfModel struct {
	Type         string          `json:"type"`
	UnkToken     *string         `json:"unk_token"`
	FuseUnk      bool            `json:"fuse_unk"`
	ByteFallback bool            `json:"byte_fallback"`
	IgnoreMerges bool            `json:"ignore_merges"`
	Vocab        map[string]int  `json:"vocab"`
	Merges       json.RawMessage `json:"merges"`
	// Fields this package does not implement; they must be absent or null.
	Dropout                 *float64 `json:"dropout"`
	ContinuingSubwordPrefix *string  `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string  `json:"end_of_word_suffix"`
}

// LoadHF reads a Hugging Face tokenizer.json holding a Llama 2 (SentencePiece-style, byte
// fallback) or Llama 3 (byte-level) BPE vocabulary. Errors name path and the offending field, and
// wrap ErrFormat when the file is malformed or unsupported.
func LoadHF(path string) (*BPE, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := ParseHF(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// ParseHF is LoadHF for the contents of a tokenizer.json. Errors name the offending field.
func ParseHF(data []byte) (*BPE, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w: %w", ErrFormat, err)
	}
	t, err := fromHF(&f)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	return t, nil
}

func bad(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", field, fmt.Sprintf(format, args...), ErrFormat)
}

func fromHF(f *hfFile) (*BPE, error) {
	m := &f.Model
	if m.Type != "BPE" {
		return nil, bad("model.type", "%q, want \"BPE\"", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, bad("model.dropout", "%v is not supported", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, bad("model.continuing_subword_prefix", "%q is not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, bad("model.end_of_word_suffix", "%q is not supported", *m.EndOfWordSuffix)
	}
	if len(m.Vocab) == 0 {
		return nil, bad("model.vocab", "missing or empty")
	}
	t := &BPE{
		unk:          -1,
		fuseUnk:      m.FuseUnk,
		byteFallback: m.ByteFallback,
		ignoreMerges: m.IgnoreMerges,
		vocab:        make(map[string]int32, len(m.Vocab)),
	}
	size := 0
	for tok, id := range m.Vocab {
		if id < 0 || id >= 1<<24 {
			return nil, bad("model.vocab", "token %q has id %d", tok, id)
		}
		t.vocab[tok] = int32(id)
		size = max(size, id+1)
	}
	for i, a := range f.AddedTokens {
		if a.ID < 0 || a.ID >= 1<<24 {
			return nil, bad(fmt.Sprintf("added_tokens[%d].id", i), "%d", a.ID)
		}
		if a.Content == "" {
			return nil, bad(fmt.Sprintf("added_tokens[%d].content", i), "empty")
		}
		size = max(size, a.ID+1)
		t.added = append(t.added, addedToken{ID: a.ID, Content: a.Content, Special: a.Special})
	}
	t.pieces = make([]string, size)
	for tok, id := range t.vocab {
		t.pieces[id] = tok
	}
	for _, a := range t.added {
		if t.pieces[a.ID] != "" && t.pieces[a.ID] != a.Content {
			return nil, bad("added_tokens", "id %d is %q in model.vocab and %q in added_tokens", a.ID, t.pieces[a.ID], a.Content)
		}
		t.pieces[a.ID] = a.Content
	}
	if m.UnkToken != nil {
		id, ok := t.vocab[*m.UnkToken]
		if !ok {
			return nil, bad("model.unk_token", "%q is not in model.vocab", *m.UnkToken)
		}
		t.unk = id
	}
	if err := t.parseMerges(m.Merges); err != nil {
		return nil, err
	}
	if err := t.parsePipeline(f); err != nil {
		return nil, err
	}
	t.bos, t.eos = -1, -1
	if f.PostProcessor != nil {
		if err := t.parseTemplate(f.PostProcessor, "post_processor"); err != nil {
			return nil, err
		}
	}
	if t.bos < 0 {
		t.bos = firstOf(t, "<s>", "<|begin_of_text|>")
	}
	if t.eos < 0 {
		t.eos = firstOf(t, "</s>", "<|end_of_text|>", "<|endoftext|>")
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	return t, nil
}

func firstOf(t *BPE, names ...string) int {
	for _, n := range names {
		if id := t.IDOf(n); id >= 0 {
			return id
		}
	}
	return -1
}

func (t *BPE) parseMerges(raw json.RawMessage) error {
	var pairs [][2]string
	if len(raw) == 0 || string(raw) == "null" {
		return bad("model.merges", "missing")
	}
	var asStrings []string
	trimmed := bytes.TrimLeft(bytes.TrimLeft(raw, " \t\r\n")[1:], " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '"' {
		if err := json.Unmarshal(raw, &asStrings); err != nil {
			return bad("model.merges", "want a list of \"a b\" strings: %v", err)
		}
		pairs = make([][2]string, len(asStrings))
		for i, s := range asStrings {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return bad(fmt.Sprintf("model.merges[%d]", i), "%q is not two tokens separated by a space", s)
			}
			pairs[i] = [2]string{a, b}
		}
	} else {
		var asLists [][]string
		if err := json.Unmarshal(raw, &asLists); err != nil {
			return bad("model.merges", "want a list of \"a b\" strings or of [a, b] pairs")
		}
		pairs = make([][2]string, len(asLists))
		for i, l := range asLists {
			if len(l) != 2 {
				return bad(fmt.Sprintf("model.merges[%d]", i), "has %d tokens, want 2", len(l))
			}
			pairs[i] = [2]string{l[0], l[1]}
		}
	}
	t.merges = make(map[uint64]mergeRule, len(pairs))
	t.mergeOrder = make([][2]int32, 0, len(pairs))
	for i, p := range pairs {
		a, okA := t.vocab[p[0]]
		b, okB := t.vocab[p[1]]
		c, okC := t.vocab[p[0]+p[1]]
		if !okA || !okB || !okC {
			return bad(fmt.Sprintf("model.merges[%d]", i), "%q + %q: a token is not in model.vocab", p[0], p[1])
		}
		k := pairKey(a, b)
		if _, dup := t.merges[k]; dup {
			continue // the first (best ranked) rule wins, as in Hugging Face's BPE
		}
		t.merges[k] = mergeRule{rank: int32(i), merged: c}
		t.mergeOrder = append(t.mergeOrder, [2]int32{a, b})
	}
	return nil
}

// parsePipeline reads normalizer and pre_tokenizer and decides the flavour.
func (t *BPE) parsePipeline(f *hfFile) error {
	byteLevel := false
	metaspace := false
	var visit func(p *hfPreTokenizer, field string) error
	visit = func(p *hfPreTokenizer, field string) error {
		switch p.Type {
		case "Sequence":
			for i, q := range p.PreTokenizers {
				if q == nil {
					continue
				}
				if err := visit(q, fmt.Sprintf("%s.pretokenizers[%d]", field, i)); err != nil {
					return err
				}
			}
		case "Split":
			if p.Pattern == nil || p.Pattern.Regex == nil || *p.Pattern.Regex != llama3Pattern {
				return bad(field+".pattern", "only Llama 3's Split regex is supported")
			}
			if p.Behavior != "Isolated" || (p.Invert != nil && *p.Invert) {
				return bad(field+".behavior", "%q (invert %v) is not supported, want Isolated", p.Behavior, p.Invert != nil && *p.Invert)
			}
		case "ByteLevel":
			if p.UseRegex != nil && *p.UseRegex {
				return bad(field+".use_regex", "GPT-2's regex is not supported; Llama 3 files split with a Split pre-tokenizer")
			}
			byteLevel = true
			t.addPrefixSpace = p.AddPrefixSpace != nil && *p.AddPrefixSpace
		case "Metaspace":
			metaspace = true
			if p.Replacement != "" && p.Replacement != spaceMark {
				return bad(field+".replacement", "%q, want %q", p.Replacement, spaceMark)
			}
			t.normalize = append(t.normalize, replaceRule{" ", spaceMark})
			switch {
			case p.PrependScheme == "always" || (p.PrependScheme == "" && (p.AddPrefixSpace == nil || *p.AddPrefixSpace)):
				t.normalize = append(t.normalize, replaceRule{"", spaceMark})
			case p.PrependScheme == "first":
				t.normalize = append(t.normalize, replaceRule{"", spaceMark})
				t.prependFirst = true
			case p.PrependScheme == "never" || p.PrependScheme == "":
			default:
				return bad(field+".prepend_scheme", "%q", p.PrependScheme)
			}
			t.splitOnMark = p.Split == nil || *p.Split
		default:
			return bad(field+".type", "%q is not supported", p.Type)
		}
		return nil
	}
	if f.PreTokenizer != nil {
		if err := visit(f.PreTokenizer, "pre_tokenizer"); err != nil {
			return err
		}
	}
	if f.Normalizer != nil {
		if byteLevel {
			return bad("normalizer", "a byte-level tokenizer with a normalizer is not supported")
		}
		var rules []replaceRule
		if err := parseNormalizer(f.Normalizer, "normalizer", &rules); err != nil {
			return err
		}
		t.normalize = append(rules, t.normalize...)
	}
	switch {
	case byteLevel && metaspace:
		return bad("pre_tokenizer", "both ByteLevel and Metaspace")
	case byteLevel:
		t.flavour = ByteLevel
		if t.byteFallback {
			return bad("model.byte_fallback", "true with a byte-level pre-tokenizer")
		}
	case metaspace || len(t.normalize) > 0:
		t.flavour = SentencePiece
	default:
		return bad("pre_tokenizer", "cannot tell the flavour: want a ByteLevel pre-tokenizer (Llama 3) or a Prepend/Replace normalizer or Metaspace pre-tokenizer (Llama 2)")
	}
	return nil
}

func parseNormalizer(n *hfNormalizer, field string, rules *[]replaceRule) error {
	switch n.Type {
	case "Sequence":
		for i, m := range n.Normalizers {
			if m == nil {
				continue
			}
			if err := parseNormalizer(m, fmt.Sprintf("%s.normalizers[%d]", field, i), rules); err != nil {
				return err
			}
		}
	case "Prepend":
		if n.Prepend == "" {
			return bad(field+".prepend", "empty")
		}
		*rules = append(*rules, replaceRule{"", n.Prepend})
	case "Replace":
		if n.Pattern == nil || n.Pattern.String == nil || *n.Pattern.String == "" {
			return bad(field+".pattern", "only a non-empty String pattern is supported")
		}
		if n.Content == nil {
			return bad(field+".content", "missing")
		}
		*rules = append(*rules, replaceRule{*n.Pattern.String, *n.Content})
	default:
		return bad(field+".type", "%q is not supported", n.Type)
	}
	return nil
}

func (t *BPE) parseTemplate(p *hfProcessor, field string) error {
	switch p.Type {
	case "Sequence":
		for i, q := range p.Processors {
			if q == nil {
				continue
			}
			if err := t.parseTemplate(q, fmt.Sprintf("%s.processors[%d]", field, i)); err != nil {
				return err
			}
		}
	case "TemplateProcessing":
		seen := false
		for i, piece := range p.Single {
			if piece.Sequence != nil {
				seen = true
				continue
			}
			if piece.SpecialToken == nil {
				continue
			}
			id := t.IDOf(piece.SpecialToken.ID)
			if id < 0 {
				return bad(fmt.Sprintf("%s.single[%d]", field, i), "special token %q is not in the vocabulary", piece.SpecialToken.ID)
			}
			if !seen && t.bos < 0 {
				t.bos = id
			} else if seen && t.eos < 0 {
				t.eos = id
			}
		}
	}
	return nil
}

// Save writes t as a Hugging Face tokenizer.json with the schema of Llama 2's (SentencePiece
// flavour) or Llama 3's (byte-level flavour) file, atomically: a temporary file in the same
// directory is renamed over path. LoadHF reads it back.
func (t *BPE) Save(path string) error {
	data, err := t.MarshalJSON()
	if err != nil {
		return fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return nil
}

// orderedVocab writes model.vocab in id order, as Hugging Face does.
type orderedVocab struct {
	pieces []string
	ids    []int32
}

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, id := range v.ids {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(v.pieces[id])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		fmt.Fprintf(&b, ":%d", id)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalJSON returns the tokenizer.json that Save writes.
func (t *BPE) MarshalJSON() ([]byte, error) {
	type special struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	type model struct {
		Type                    string       `json:"type"`
		Dropout                 *float64     `json:"dropout"`
		UnkToken                *string      `json:"unk_token"`
		ContinuingSubwordPrefix *string      `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string      `json:"end_of_word_suffix"`
		FuseUnk                 bool         `json:"fuse_unk"`
		ByteFallback            bool         `json:"byte_fallback"`
		IgnoreMerges            bool         `json:"ignore_merges"`
		Vocab                   orderedVocab `json:"vocab"`
		Merges                  []string     `json:"merges"`
	}
	ids := make([]int32, 0, len(t.vocab))
	for _, id := range t.vocab {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	m := model{
		Type: "BPE", FuseUnk: t.fuseUnk, ByteFallback: t.byteFallback, IgnoreMerges: t.ignoreMerges,
		Vocab: orderedVocab{pieces: t.pieces, ids: ids},
		// [] rather than null for a vocabulary without merges: null does not load (FuzzParseHF).
		Merges: make([]string, 0, len(t.mergeOrder)),
	}
	if t.unk >= 0 {
		u := t.pieces[t.unk]
		m.UnkToken = &u
	}
	for _, p := range t.mergeOrder {
		a, b := t.pieces[p[0]], t.pieces[p[1]]
		if strings.Contains(a, " ") || strings.Contains(b, " ") {
			return nil, fmt.Errorf("tokenizer: merge %q + %q holds a space: %w", a, b, ErrFormat)
		}
		m.Merges = append(m.Merges, a+" "+b)
	}
	added := make([]special, len(t.added))
	for i, a := range t.added {
		added[i] = special{ID: a.ID, Content: a.Content, Special: a.Special}
	}
	var template any
	if t.bos >= 0 {
		bos := t.pieces[t.bos]
		tok := func(id string, typ int) map[string]any {
			return map[string]any{"SpecialToken": map[string]any{"id": id, "type_id": typ}}
		}
		seq := func(id string, typ int) map[string]any {
			return map[string]any{"Sequence": map[string]any{"id": id, "type_id": typ}}
		}
		template = map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{tok(bos, 0), seq("A", 0)},
			"pair":   []any{tok(bos, 0), seq("A", 0), tok(bos, 1), seq("B", 1)},
			"special_tokens": map[string]any{
				bos: map[string]any{"id": bos, "ids": []int{t.bos}, "tokens": []string{bos}},
			},
		}
	}
	type file struct {
		Version       string    `json:"version"`
		Truncation    any       `json:"truncation"`
		Padding       any       `json:"padding"`
		AddedTokens   []special `json:"added_tokens"`
		Normalizer    any       `json:"normalizer"`
		PreTokenizer  any       `json:"pre_tokenizer"`
		PostProcessor any       `json:"post_processor"`
		Decoder       any       `json:"decoder"`
		Model         model     `json:"model"`
	}
	f := file{Version: "1.0", AddedTokens: added, Model: m}
	if t.flavour == SentencePiece {
		if t.splitOnMark || t.prependFirst || !slices.Equal(t.normalize, []replaceRule{{"", spaceMark}, {" ", spaceMark}}) {
			return nil, fmt.Errorf("tokenizer: only Llama 2's normalizer can be saved: %w", ErrFormat)
		}
		f.Normalizer = map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": spaceMark},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": spaceMark},
		}}
		f.PostProcessor = template
		f.Decoder = map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": spaceMark}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}}
	} else {
		f.PreTokenizer = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": t.addPrefixSpace, "trim_offsets": true, "use_regex": false},
		}}
		procs := []any{map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}}
		if template != nil {
			procs = append(procs, template)
		}
		f.PostProcessor = map[string]any{"type": "Sequence", "processors": procs}
		f.Decoder = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
