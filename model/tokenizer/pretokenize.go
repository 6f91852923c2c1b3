package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// llama3Pattern is the Split pre-tokenizer regular expression of Llama 3's tokenizer.json. Go's
// regexp has no lookahead, so splitLlama3 implements it by hand.
const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }

// isSpace is \s: Unicode White_Space, which is what unicode.IsSpace reports.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

// isOther is [^\s\p{L}\p{N}].
func isOther(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// splitLlama3 appends to dst the pieces of s that llama3Pattern matches, in order. Every byte of s
// is in exactly one piece. Bytes that are not valid UTF-8 count as U+FFFD (a symbol).
func splitLlama3(s string, dst []string) []string {
	for i := 0; i < len(s); {
		n := matchLlama3(s, i)
		dst = append(dst, s[i:i+n])
		i += n
	}
	return dst
}

// matchLlama3 returns the length of llama3Pattern's match at s[i:], trying the alternatives in
// order as a backtracking regexp engine does. It is always at least one character.
func matchLlama3(s string, i int) int {
	r, size := utf8.DecodeRuneInString(s[i:])
	next := func(j int) rune {
		if j >= len(s) {
			return -1
		}
		r, _ := utf8.DecodeRuneInString(s[j:])
		return r
	}
	// (?i:'s|'t|'re|'ve|'m|'ll|'d); ASCII case folding only, as llama3-tokenizer-js does.
	if r == '\'' {
		if n := contraction(s[i+1:]); n > 0 {
			return 1 + n
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isLetter(r) {
		return size + runOf(s, i+size, isLetter)
	}
	if r != '\r' && r != '\n' && !isNumber(r) && isLetter(next(i+size)) {
		return size + runOf(s, i+size, isLetter)
	}
	// \p{N}{1,3}
	if isNumber(r) {
		j := i + size
		for k := 0; k < 2 && j < len(s); k++ {
			r2, sz := utf8.DecodeRuneInString(s[j:])
			if !isNumber(r2) {
				break
			}
			j += sz
		}
		return j - i
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j := i
	if r == ' ' {
		j = i + 1
	}
	if isOther(next(j)) {
		j += runOf(s, j, isOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j - i
	}
	// What is left starts with white space.
	end := i + runOf(s, i, isSpace)
	// \s*[\r\n]+ : backtracking leaves the match at the last line break of the run.
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1 - i
		}
	}
	// \s+(?!\S) : the whole run at the end of the text, else the run less its last character.
	if end == len(s) {
		return end - i
	}
	_, last := utf8.DecodeLastRuneInString(s[i:end])
	if end-last > i {
		return end - last - i
	}
	// \s+
	return end - i
}

// runOf returns the byte length of the run of runes from s[i:] that satisfy f.
func runOf(s string, i int, f func(rune) bool) int {
	j := i
	for j < len(s) {
		r, sz := utf8.DecodeRuneInString(s[j:])
		if !f(r) {
			break
		}
		j += sz
	}
	return j - i
}

// contraction returns the length of s's leading s|t|re|ve|m|ll|d (ASCII, any case), or 0.
func contraction(s string) int {
	lower := func(i int) byte {
		if i >= len(s) {
			return 0
		}
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return c
	}
	switch lower(0) {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if lower(1) == 'e' {
			return 2
		}
	case 'l':
		if lower(1) == 'l' {
			return 2
		}
	}
	return 0
}

// byteToRune is GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to
// U+0100 and up, in byte order.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := make(map[rune]byte, 256)
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = rune(256 + n)
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}()

// byteLevelOrder lists the bytes in the order of GPT-2's bytes_to_unicode table (printable ones
// first), the order of the first 256 ids of a byte-level vocabulary.
var byteLevelOrder = func() []byte {
	var out []byte
	for b := 0; b < 256; b++ {
		if byteToRune[b] == rune(b) {
			out = append(out, byte(b))
		}
	}
	for b := 0; b < 256; b++ {
		if byteToRune[b] != rune(b) {
			out = append(out, byte(b))
		}
	}
	return out
}()

// byteLevelString maps raw bytes to their byte-level characters.
func byteLevelString(raw string) string {
	out := make([]rune, len(raw))
	for i := 0; i < len(raw); i++ {
		out[i] = byteToRune[raw[i]]
	}
	return string(out)
}

// rawBytes maps a byte-level token back to the bytes it stands for; ok is false when a character
// is outside the table.
func rawBytes(token string) (string, bool) {
	out := make([]byte, 0, len(token))
	for _, r := range token {
		b, ok := runeToByte[r]
		if !ok {
			return "", false
		}
		out = append(out, b)
	}
	return string(out), true
}
