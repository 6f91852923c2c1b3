package tokenizer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitLlama3(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"words", "Hello World", []string{"Hello", " World"}},
		{"contractions", "I'm they'LL we'd", []string{"I", "'m", " they", "'LL", " we", "'d"}},
		{"apostrophe word", "'hello 'x", []string{"'hello", " '", "x"}},
		{"not a contraction", "'re'ra", []string{"'re", "'ra"}},
		{"numbers in threes", "1234567", []string{"123", "456", "7"}},
		{"space before number", "a 12", []string{"a", " ", "12"}},
		{"punctuation", "hi!!! ok", []string{"hi", "!!!", " ok"}},
		{"space punctuation newline", "a ...\n\nb", []string{"a", " ...\n\n", "b"}},
		{"punct before letters", "(hello)", []string{"(hello", ")"}},
		{"tab before letters", "a\tb", []string{"a", "\tb"}},
		{"newline not a prefix", "a\nb", []string{"a", "\n", "b"}},
		{"newline runs", "a\n\n\nb", []string{"a", "\n\n\n", "b"}},
		{"spaces then newline", "a  \n  b", []string{"a", "  \n", " ", " b"}},
		{"crlf", "a\r\nb", []string{"a", "\r\n", "b"}},
		// \s+(?!\S): a run before a word leaves its last space to the word.
		{"two spaces", "a  b", []string{"a", " ", " b"}},
		{"many spaces", "a    b", []string{"a", "   ", " b"}},
		{"trailing spaces", "a   ", []string{"a", "   "}},
		{"only spaces", "   ", []string{"   "}},
		// ... and a lone space before a non-letter falls to \s+.
		{"space before digit", " 1", []string{" ", "1"}},
		{"spaces before digit", "   1", []string{"  ", " ", "1"}},
		{"leading spaces", "  x", []string{" ", " x"}},
		{"unicode letters", "naïve Привет 日本語", []string{"naïve", " Привет", " 日本語"}},
		{"combining mark", "e\u0301x", []string{"e", "\u0301x"}},
		{"emoji", "hi 😀👍", []string{"hi", " 😀👍"}},
		{"superscript digit", "x²", []string{"x", "²"}},
		{"nbsp", "a\u00a0b", []string{"a", "\u00a0b"}},
		{"invalid utf8", "a\xffb", []string{"a", "\xffb"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := splitLlama3(tc.in, nil)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, strings.Join(got, ""))
		})
	}
}

func TestByteLevelTable(t *testing.T) {
	assert.Equal(t, 'Ġ', byteToRune[' '])
	assert.Equal(t, 'Ċ', byteToRune['\n'])
	assert.Equal(t, 'A', byteToRune['A'])
	assert.Len(t, runeToByte, 256)
	assert.Len(t, byteLevelOrder, 256)
	raw, ok := rawBytes(byteLevelString("a b\n\xff"))
	assert.True(t, ok)
	assert.Equal(t, "a b\n\xff", raw)
}

func TestCompletePrefix(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0}, {"abc", 3}, {"é", 2}, {"a\xc3", 1}, {"\xe6\x97", 0}, {"日\xf0\x9f\x98", 3}, {"😀", 4},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, completePrefix([]byte(tc.in)), "%q", tc.in)
	}
}
