package eval

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bitsModel is a fake Model whose log-likelihood of a text (after an empty context) is known: bits[text]
// bits, else 8 bits per byte. It records the contexts and the texts of every call.
type bitsModel struct {
	bits     map[string]float64
	contexts []string
	calls    [][]string
	nan      bool
}

func (*bitsModel) Generate(context.Context, []string, int) ([]string, error) {
	return nil, errors.New("not used")
}

func (b *bitsModel) LogLikelihood(_ context.Context, pairs [][2]string) ([]float64, []int, error) {
	var texts []string
	out := make([]float64, len(pairs))
	for i, p := range pairs {
		b.contexts = append(b.contexts, p[0])
		texts = append(texts, p[1])
		bits, ok := b.bits[p[1]]
		if !ok {
			bits = 8 * float64(len(p[1]))
		}
		out[i] = -bits * math.Ln2
		if b.nan {
			out[i] = math.NaN()
		}
	}
	b.calls = append(b.calls, texts)
	return out, make([]int, len(pairs)), nil
}

func TestBitsPerByte(t *testing.T) {
	ctx := context.Background()
	m := &bitsModel{bits: map[string]float64{"ab": 3, "cdef": 5, "héllo": 12}}
	got, err := BitsPerByte(ctx, m, []string{"ab", "", "cdef", "héllo"})
	require.NoError(t, err)
	// (3 + 5 + 12) bits over 2 + 4 + 6 UTF-8 bytes ("é" is two).
	assert.InDelta(t, 20.0/12, got, 1e-12)
	assert.Equal(t, []string{"", "", ""}, m.contexts, "texts are scored from their start")
	assert.Equal(t, [][]string{{"héllo", "cdef", "ab"}}, m.calls, "empty texts skipped, longest first")

	// Batches: 20 texts in calls of at most bpbBatch, every text once.
	m = &bitsModel{}
	var texts []string
	for i := range 20 {
		texts = append(texts, strings.Repeat("x", i+1))
	}
	got, err = BitsPerByte(ctx, m, texts)
	require.NoError(t, err)
	assert.InDelta(t, 8, got, 1e-12)
	var sizes []int
	seen := 0
	for _, c := range m.calls {
		sizes = append(sizes, len(c))
		seen += len(c)
	}
	assert.Equal(t, []int{8, 8, 4}, sizes)
	assert.Equal(t, 20, seen)
	assert.Len(t, m.calls[0][0], 20)

	got, err = BitsPerByte(ctx, m, []string{"", ""})
	require.NoError(t, err)
	assert.True(t, math.IsNaN(got), "no bytes")
	got, err = BitsPerByte(ctx, m, nil)
	require.NoError(t, err)
	assert.True(t, math.IsNaN(got))

	_, err = BitsPerByte(ctx, &bitsModel{nan: true}, []string{"a"})
	assert.ErrorContains(t, err, "log-likelihood NaN of text 0")
	_, err = BitsPerByte(ctx, &oracle{short: true}, []string{"a", "b"})
	assert.ErrorContains(t, err, "LogLikelihood returned 1 values for 2 texts")
	boom := errors.New("boom")
	_, err = BitsPerByte(ctx, &oracle{err: boom}, []string{"a"})
	assert.ErrorIs(t, err, boom)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = BitsPerByte(cctx, m, []string{"a"})
	assert.ErrorIs(t, err, context.Canceled)
}
