package tokenizer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// Llama2C is the tokenizer of Karpathy's llama2.c (tokenizer.bin): a SentencePiece vocabulary with
// one score per token, where "▁" is already written as a space. It encodes as run.c does. BOS is 1
// and EOS is 2. It implements Tokenizer and is safe for concurrent use.
type Llama2C struct {
	pieces         []string
	scores         []float32
	lookup         map[string]int32
	maxTokenLength int
	pool           sync.Pool // *merger
}

// LoadLlama2C reads a llama2.c tokenizer.bin holding vocabSize tokens. The file does not record
// its size: it comes from the model checkpoint's header.
func LoadLlama2C(path string, vocabSize int) (*Llama2C, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	t, err := ReadLlama2C(f, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

// ReadLlama2C is LoadLlama2C for a reader: an int32 max_token_length, then for each token a float32
// score, an int32 length and that many bytes, all little-endian.
func ReadLlama2C(r io.Reader, vocabSize int) (*Llama2C, error) {
	if vocabSize < 3 {
		return nil, fmt.Errorf("tokenizer.bin: vocabSize %d, want at least 3 (<unk>, <s>, </s>): %w", vocabSize, ErrFormat)
	}
	br := bufio.NewReader(r)
	var hdr int32
	if err := binary.Read(br, binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("tokenizer.bin: max_token_length: %w: %w", ErrFormat, err)
	}
	if hdr <= 0 || hdr > 1<<16 {
		return nil, fmt.Errorf("tokenizer.bin: max_token_length %d: %w", hdr, ErrFormat)
	}
	t := &Llama2C{
		pieces:         make([]string, vocabSize),
		scores:         make([]float32, vocabSize),
		lookup:         make(map[string]int32, vocabSize),
		maxTokenLength: int(hdr),
	}
	var rec [8]byte
	for i := range vocabSize {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return nil, fmt.Errorf("tokenizer.bin: token %d of %d: %w: %w", i, vocabSize, ErrFormat, err)
		}
		t.scores[i] = math.Float32frombits(binary.LittleEndian.Uint32(rec[:4]))
		n := int32(binary.LittleEndian.Uint32(rec[4:]))
		if n < 0 || n > hdr {
			return nil, fmt.Errorf("tokenizer.bin: token %d: length %d outside [0, max_token_length %d]: %w", i, n, hdr, ErrFormat)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("tokenizer.bin: token %d of %d: %w: %w", i, vocabSize, ErrFormat, err)
		}
		t.pieces[i] = string(b)
		if _, dup := t.lookup[t.pieces[i]]; !dup {
			t.lookup[t.pieces[i]] = int32(i)
		}
	}
	return t, nil
}

// VocabSize implements Tokenizer.
func (t *Llama2C) VocabSize() int { return len(t.pieces) }

// BOS implements Tokenizer; it is 1.
func (t *Llama2C) BOS() int { return 1 }

// EOS implements Tokenizer; it is 2.
func (t *Llama2C) EOS() int { return 2 }

// IDOf implements Tokenizer. "<unk>", "<s>" and "</s>" name ids 0, 1 and 2 (llama2.c's export
// writes the latter two as "\n<s>\n" and "\n</s>\n"); other strings are looked up as written in
// the file.
func (t *Llama2C) IDOf(token string) int {
	switch token {
	case "<unk>":
		return 0
	case "<s>":
		return 1
	case "</s>":
		return 2
	}
	if id, ok := t.lookup[token]; ok {
		return int(id)
	}
	return -1
}

// Score returns the merge score of id, or 0 when id is out of range.
func (t *Llama2C) Score(id int) float32 {
	if id < 0 || id >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}

func (t *Llama2C) stripsLeadingSpace() bool { return true }

func (t *Llama2C) pair(a, b int32) (float64, int32, bool) {
	id, ok := t.lookup[t.pieces[a]+t.pieces[b]]
	if !ok {
		return 0, 0, false
	}
	return -float64(t.scores[id]), id, true
}

// Encode implements Tokenizer as run.c's encode does: a " " goes in front of non-empty text, each
// UTF-8 character becomes its token or, when it has none, one token per byte (id byte+3), and then
// the adjacent pair whose concatenation is the best-scored token merges, leftmost first, until none
// is left. Special tokens written in text are not recognised.
func (t *Llama2C) Encode(text string, addBOS, addEOS bool) []int {
	out := make([]int, 0, len(text)/3+2)
	if addBOS {
		out = append(out, 1)
	}
	if text != "" {
		syms := make([]int32, 0, len(text)+1)
		if id, ok := t.lookup[" "]; ok {
			syms = append(syms, id)
		}
		for i := 0; i < len(text); {
			_, size := utf8.DecodeRuneInString(text[i:])
			ch := text[i : i+size]
			i += size
			if id, ok := t.lookup[ch]; ok {
				syms = append(syms, id)
				continue
			}
			for j := 0; j < len(ch); j++ {
				if id := int32(ch[j]) + 3; int(id) < len(t.pieces) {
					syms = append(syms, id)
				}
			}
		}
		m, _ := t.pool.Get().(*merger)
		if m == nil {
			m = &merger{}
		}
		out = m.run(syms, t.pair, out)
		t.pool.Put(m)
	}
	if addEOS {
		out = append(out, 2)
	}
	return out
}

// DecodeToken implements Tokenizer: "<0xNN>" pieces give their byte, BOS and EOS give "".
func (t *Llama2C) DecodeToken(id int) string {
	if id < 0 || id >= len(t.pieces) || id == 1 || id == 2 {
		return ""
	}
	p := t.pieces[id]
	if b, ok := parseByteToken(p); ok {
		return string([]byte{b})
	}
	return p
}

// Decode implements Tokenizer. The space Encode puts in front of the text is removed (run.c removes
// it after BOS).
func (t *Llama2C) Decode(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		sb.WriteString(t.DecodeToken(id))
	}
	return strings.TrimPrefix(sb.String(), " ")
}
