package tokenizer

import (
	"errors"
	"unicode/utf8"
)

// Tokenizer turns text into token ids and back. Implementations in this package are safe for
// concurrent use.
type Tokenizer interface {
	// Encode returns the ids of text, with BOS prepended when addBOS is true and EOS appended when
	// addEOS is true (each only when the vocabulary has it). Special tokens written verbatim in text,
	// such as "<|eot_id|>", are encoded as themselves.
	Encode(text string, addBOS, addEOS bool) []int
	// Decode returns the text of ids. Special tokens (BOS, EOS, ...) are left out, and the space that
	// encoding puts in front of the text is removed, so Decode(Encode(s, ...)) == s. Ids out of
	// range are skipped.
	Decode(ids []int) string
	// DecodeToken returns the bytes that one id stands for, for streaming: they may be an incomplete
	// UTF-8 sequence, and no leading space is removed. Special tokens and ids out of range give "".
	// Stream assembles these pieces into text.
	DecodeToken(id int) string
	// VocabSize is the number of ids, special tokens included (the model's embedding rows).
	VocabSize() int
	// BOS is the beginning-of-sequence id, or -1 when the vocabulary has none.
	BOS() int
	// EOS is the end-of-sequence id, or -1 when the vocabulary has none.
	EOS() int
	// IDOf returns the id of a token given as it is written in the vocabulary (special tokens such
	// as "<|eot_id|>" or "</s>" included), or -1 when there is none.
	IDOf(token string) int
}

// Flavour is the kind of BPE vocabulary a BPE tokenizer uses.
type Flavour int

const (
	// SentencePiece is the Llama 2 kind: spaces become "▁", a "▁" is put in front of the text,
	// tokens are built from Unicode characters, and characters outside the vocabulary fall back to
	// <0xNN> byte tokens.
	SentencePiece Flavour = iota
	// ByteLevel is the Llama 3 (GPT-2) kind: the text is split by a regular expression, each byte
	// is mapped to a printable character, and tokens are built from those.
	ByteLevel
)

// String returns "sentencepiece" or "bytelevel".
func (f Flavour) String() string {
	switch f {
	case SentencePiece:
		return "sentencepiece"
	case ByteLevel:
		return "bytelevel"
	}
	return "unknown"
}

// ErrFormat is wrapped by the errors of LoadHF, ParseHF and LoadLlama2C when a file is malformed or
// uses a feature this package does not implement.
var ErrFormat = errors.New("tokenizer: bad or unsupported format")

// leadingSpaceStripper is implemented by tokenizers whose Decode removes one leading space.
type leadingSpaceStripper interface {
	stripsLeadingSpace() bool
}

// Stream turns ids produced one at a time into text, holding back bytes until they form complete
// UTF-8 characters and removing the leading space the way Decode does. The zero value is not
// usable; call NewStream.
type Stream struct {
	tok     Tokenizer
	strip   bool
	started bool
	pending []byte
}

// NewStream returns a Stream that decodes with t.
func NewStream(t Tokenizer) *Stream {
	s := &Stream{tok: t}
	if l, ok := t.(leadingSpaceStripper); ok {
		s.strip = l.stripsLeadingSpace()
	}
	return s
}

// Add decodes id and returns the text that is complete so far (possibly "").
func (s *Stream) Add(id int) string {
	piece := s.tok.DecodeToken(id)
	if piece == "" {
		return ""
	}
	if !s.started {
		s.started = true
		if s.strip && piece[0] == ' ' {
			piece = piece[1:]
		}
	}
	s.pending = append(s.pending, piece...)
	n := completePrefix(s.pending)
	out := string(s.pending[:n])
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return out
}

// Flush returns the bytes still held back (an incomplete UTF-8 sequence, if any) and empties s.
func (s *Stream) Flush() string {
	out := string(s.pending)
	s.pending = s.pending[:0]
	return out
}

// completePrefix returns the length of the longest prefix of b that does not end inside a UTF-8
// sequence that more bytes could still complete.
func completePrefix(b []byte) int {
	for back := 1; back <= 3 && back <= len(b); back++ {
		c := b[len(b)-back]
		if c < 0x80 {
			return len(b)
		}
		if c >= 0xC0 { // a leading byte: is its sequence complete?
			need := 2
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			}
			if back < need && !utf8.FullRune(b[len(b)-back:]) {
				return len(b) - back
			}
			return len(b)
		}
	}
	return len(b)
}
