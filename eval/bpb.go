package eval

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// bpbBatch is the most texts per LogLikelihood call of BitsPerByte.
const bpbBatch = 8

// BitsPerByte is the model's bits per byte on texts, −Σ log₂ p(tokens of text) / Σ UTF-8 bytes of
// text: the cross-entropy of general text measured in a unit that does not depend on the tokenizer
// (lower is better; a rise after training means the model lost some of its general language ability).
// Each text is scored whole from its start, as m.LogLikelihood scores a continuation of an empty
// context: every token counts, the first one included. Texts are scored in batches of similar length;
// empty texts are skipped. It returns NaN when the texts hold no bytes, and an error when m does, when
// it returns a NaN log-likelihood, or when ctx is done.
func BitsPerByte(ctx context.Context, m Model, texts []string) (float64, error) {
	order := make([]int, 0, len(texts))
	bytes := 0
	for i, t := range texts {
		if t != "" {
			order = append(order, i)
			bytes += len(t)
		}
	}
	if bytes == 0 {
		return math.NaN(), nil
	}
	// Longest first, so each batch pads little and the slowest call comes first.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(texts[b]), len(texts[a])) })
	var nats float64
	pairs := make([][2]string, 0, bpbBatch)
	for start := 0; start < len(order); start += bpbBatch {
		if err := ctx.Err(); err != nil {
			return math.NaN(), err
		}
		pairs = pairs[:0]
		for _, i := range order[start:min(start+bpbBatch, len(order))] {
			pairs = append(pairs, [2]string{"", texts[i]})
		}
		lls, _, err := m.LogLikelihood(ctx, pairs)
		if err != nil {
			return math.NaN(), fmt.Errorf("eval: bits per byte: %w", err)
		}
		if len(lls) != len(pairs) {
			return math.NaN(), fmt.Errorf("eval: bits per byte: LogLikelihood returned %d values for %d texts", len(lls), len(pairs))
		}
		for k, ll := range lls {
			if math.IsNaN(ll) {
				return math.NaN(), fmt.Errorf("eval: bits per byte: log-likelihood %v of text %d", ll, order[start+k])
			}
			nats -= ll
		}
	}
	return nats / math.Ln2 / float64(bytes), nil
}
