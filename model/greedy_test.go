package model

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// draftCase is a prompt of GenerateDraft's tests with Generate's completion of it.
type draftCase struct {
	prompt, want []int
}

// draftCases returns prompts over three length buckets and Generate's completions of them under opt,
// which stop at a stop token, at opt.Stop, or at MaxNewTokens.
func draftCases(t *testing.T, m *Model, opt GenerateOptions) []draftCase {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	var prompts [][]int
	for _, n := range []int{1, 7, 13, 3, 20, 9, 2} {
		prompts = append(prompts, randomPrompt(rng, n, m.Config.VocabSize))
	}
	want, err := m.Generate(context.Background(), prompts, opt)
	require.NoError(t, err)
	cs := make([]draftCase, len(prompts))
	for i := range cs {
		cs[i] = draftCase{prompts[i], want[i]}
	}
	return cs
}

func draftOptions(m *Model) GenerateOptions {
	V := m.Config.VocabSize
	return GenerateOptions{MaxNewTokens: 10, StopTokens: []int{3, 11},
		Stop: func(_ int, g []int) bool { return g[len(g)-1]%13 == 0 || g[len(g)-1] == V-1 }}
}

func TestGenerateDraftIsGenerate(t *testing.T) {
	m := newTestModel(t, genTestConfig, 31)
	opt := draftOptions(m)
	cs := draftCases(t, m, opt)
	lengths := map[int]bool{}
	for _, c := range cs {
		lengths[len(c.want)] = true
	}
	require.Greater(t, len(lengths), 2, "the completions end at different lengths: %v", cs)
	wrong := func(id int) int { return (id + 1) % m.Config.VocabSize }
	for _, tc := range []struct {
		name  string
		draft func(want []int) []int
	}{
		{"none", func([]int) []int { return nil }},
		{"whole", func(w []int) []int { return w }},
		{"prefix", func(w []int) []int { return w[:len(w)/2] }},
		{"first token wrong", func(w []int) []int { return append([]int{wrong(firstOr(w))}, w...) }},
		{"third token wrong", func(w []int) []int {
			d := append([]int{}, w...)
			if len(d) > 2 {
				d[2] = wrong(d[2])
			}
			return d
		}},
		{"too long", func(w []int) []int { return append(append([]int{}, w...), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12) }},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			prompts, drafts := make([][]int, len(cs)), make([][]int, len(cs))
			for i, c := range cs {
				prompts[i], drafts[i] = c.prompt, tc.draft(c.want)
			}
			got, err := m.GenerateDraft(context.Background(), prompts, drafts, opt)
			require.NoError(t, err)
			for i, c := range cs {
				assert.Equal(t, c.want, got[i], "prompt %d (length %d)", i, len(c.prompt))
			}
		})
	}
	got, err := m.GenerateDraft(context.Background(), [][]int{cs[0].prompt}, nil, opt)
	require.NoError(t, err)
	assert.Equal(t, cs[0].want, got[0], "nil drafts")
}

// A row whose draft greedy decoding follows to its stop needs no decoding step; a row that leaves
// its draft does.
func TestGenerateDraftSkipsDecoding(t *testing.T) {
	m := newTestModel(t, genTestConfig, 32)
	opt := draftOptions(m)
	cs := draftCases(t, m, opt)
	prompts, drafts := make([][]int, len(cs)), make([][]int, len(cs))
	for i, c := range cs {
		prompts[i], drafts[i] = c.prompt, c.want
	}
	decodes := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		for k := range m.progs {
			if strings.Contains(k, "/step/") && strings.Contains(k, "x1/") { // a decoding step's graph
				n++
			}
		}
		return n
	}
	m.mu.Lock() // forget the graphs Generate compiled for draftCases
	m.resetLocked()
	m.mu.Unlock()
	got, err := m.GenerateDraft(context.Background(), prompts, drafts, opt)
	require.NoError(t, err)
	for i, c := range cs {
		require.Equal(t, c.want, got[i], "prompt %d", i)
	}
	require.Zero(t, decodes(), "every draft was followed to its stop: no decoding step")

	drafts[3] = nil
	got, err = m.GenerateDraft(context.Background(), prompts, drafts, opt)
	require.NoError(t, err)
	require.Equal(t, cs[3].want, got[3])
	require.Equal(t, 1, decodes(), "a row without a draft decodes")
}

func TestGenerateDraftErrors(t *testing.T) {
	m := newTestModel(t, genTestConfig, 33)
	ctx := context.Background()
	_, err := m.GenerateDraft(ctx, [][]int{{1}, {2}}, [][]int{{1}}, GenerateOptions{})
	require.ErrorContains(t, err, "1 drafts for 2 prompts")
	_, err = m.GenerateDraft(ctx, [][]int{{1}}, [][]int{{genTestConfig.VocabSize}}, GenerateOptions{})
	require.ErrorContains(t, err, "outside the vocabulary")
	_, err = m.GenerateDraft(ctx, [][]int{{}}, nil, GenerateOptions{})
	require.ErrorContains(t, err, "empty prompt")
}

func firstOr(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	return xs[0]
}
