package eval

import (
	"regexp"
	"strings"
)

// lm-eval-harness's gsm8k task (lm_eval/tasks/gsm8k/gsm8k.yaml): the "strict-match" filter's regex,
// the "flexible-extract" filter's (last match), and the regexes its exact_match ignores.
var (
	gsm8kStrict   = regexp.MustCompile(`#### (\-?[0-9\.\,]+)`)
	gsm8kFlexible = regexp.MustCompile(`(-?[$0-9.,]{2,})|(-?[0-9]+)`)
	gsm8kIgnore   = []*regexp.Regexp{
		regexp.MustCompile(`,`),
		regexp.MustCompile(`\$`),
		regexp.MustCompile(`(?s).*#### `),
		regexp.MustCompile(`\.$`),
	}
)

// ExtractNumber is the final answer of a GSM8K-style text as lm-eval-harness's gsm8k task extracts
// and compares it: the number after the first "#### " (its strict-match filter) when there is one,
// else the last number-like run of the text (its flexible-extract filter: a run of at least two of
// "$0-9.," with an optional "-", or a plain integer); then, as its exact_match does, commas, dollar
// signs and one final period are removed and letters lower-cased. It returns "" when the text has
// no number. "$1,234." gives "1234", "-5" gives "-5", "18 dollars" gives "18"; decimals are kept as
// written, so "1.50" and "1.5" differ, as they do in lm-eval.
func ExtractNumber(s string) string {
	var n string
	if m := gsm8kStrict.FindStringSubmatch(s); m != nil {
		n = m[1]
	} else if ms := gsm8kFlexible.FindAllStringSubmatch(s, -1); ms != nil {
		last := ms[len(ms)-1]
		n = last[1]
		if n == "" {
			n = last[2]
		}
	}
	n = strings.TrimSpace(n)
	for _, re := range gsm8kIgnore {
		n = re.ReplaceAllString(n, "")
	}
	return strings.ToLower(n)
}

// NumericMatchScore is 1 when pred and ref have the same final number (ExtractNumber, not empty),
// else 0: GSM8K's exact match, for a reference that ends in "#### N" or is the number itself.
func NumericMatchScore(pred, ref string) float64 {
	p, r := ExtractNumber(pred), ExtractNumber(ref)
	return boolScore(p != "" && p == r)
}
