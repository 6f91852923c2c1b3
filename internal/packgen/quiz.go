package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// readQuiz reads a bsdgames quiz(6) data file: one record per logical line, fields separated by ':',
// a trailing '\' continuing the record on the next line and '\x' escaping x. Fields are returned raw
// (still in quiz pattern syntax); canon turns one into plain text.
func readQuiz(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("packgen: quiz file: %w", err)
	}
	defer f.Close()
	var recs [][]string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			cur.WriteString(line[:len(line)-1])
			continue
		}
		cur.WriteString(line)
		if s := cur.String(); strings.TrimSpace(s) != "" {
			recs = append(recs, splitTop(s, ':'))
		}
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("packgen: quiz file %s: %w", path, err)
	}
	return recs, nil
}

// splitTop splits s at sep where sep is outside braces and brackets and not escaped.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// alternatives returns the top-level '|' alternatives of a quiz pattern.
func alternatives(s string) []string { return splitTop(s, '|') }

// canon renders a quiz pattern as its fullest canonical text: optional parts "{x}" are kept, and of
// alternatives "a|b" or "[a|b]" the first is taken. "{G{eorge} }Washington" gives "George Washington",
// "Hen[ry|] [I|1]" gives "Henry I".
func canon(s string) string {
	var b strings.Builder
	canonInto(&b, alternatives(s)[0])
	return strings.Join(strings.Fields(b.String()), " ")
}

func canonInto(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '{', '[':
			j := matching(s, i)
			canonInto(b, alternatives(s[i+1 : j])[0])
			i = j
		case '$':
			// greek transliteration markers: dropped
		default:
			b.WriteByte(c)
		}
	}
}

// matching returns the index of the bracket closing the one at s[i] (len(s)-1 if unbalanced).
func matching(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(s) - 1
}
