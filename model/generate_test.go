package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// genTestConfig is the tiny model of the Generate robustness tests.
var genTestConfig = Config{HiddenSize: 32, IntermediateSize: 48, NumHiddenLayers: 2, NumAttentionHeads: 4,
	NumKeyValueHeads: 2, VocabSize: 64}

func randomPrompt(rng *rand.Rand, n, vocab int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = rng.IntN(vocab)
	}
	return p
}

func TestGenerateBatchEqualsAlone(t *testing.T) {
	m := newTestModel(t, genTestConfig, 21)
	rng := rand.New(rand.NewPCG(5, 6))
	// Lengths spread over three length buckets; 5 prompts pad the batch to 8 rows.
	prompts := [][]int{}
	for _, n := range []int{1, 7, 13, 3, 20} {
		prompts = append(prompts, randomPrompt(rng, n, genTestConfig.VocabSize))
	}
	opt := GenerateOptions{MaxNewTokens: 10, StopTokens: []int{}}
	batch, err := m.Generate(context.Background(), prompts, opt)
	require.NoError(t, err)
	require.Len(t, batch, len(prompts))
	for i, p := range prompts {
		alone, err := m.Generate(context.Background(), [][]int{p}, opt)
		require.NoError(t, err)
		require.Len(t, alone[0], opt.MaxNewTokens, "prompt %d", i)
		assert.Equal(t, alone[0], batch[i], "prompt %d (length %d)", i, len(p))
	}
}

func TestGenerateSamplingSeeds(t *testing.T) {
	m := newTestModel(t, genTestConfig, 22)
	prompts := [][]int{{1, 2, 3}, {9, 8}}
	ctx := context.Background()
	for _, opt := range []GenerateOptions{
		{Temperature: 1},
		{Temperature: 1.5, TopK: 20},
		{Temperature: 1.5, TopP: 0.9},
		{Temperature: 2, TopK: 30, TopP: 0.95},
	} {
		t.Run(fmt.Sprintf("T%g_K%d_P%g", opt.Temperature, opt.TopK, opt.TopP), func(t *testing.T) {
			opt.MaxNewTokens, opt.StopTokens = 24, []int{}
			opt.Seed = 1
			a, err := m.Generate(ctx, prompts, opt)
			require.NoError(t, err)
			b, err := m.Generate(ctx, prompts, opt)
			require.NoError(t, err)
			assert.Equal(t, a, b, "same seed")

			// A caller's *rand.Rand replaces the seed and is used as given.
			opt.Rand = rand.New(rand.NewPCG(1, 0x9e3779b97f4a7c15))
			c, err := m.Generate(ctx, prompts, opt)
			require.NoError(t, err)
			assert.Equal(t, a, c, "Rand seeded as Seed is")
			opt.Rand = nil

			opt.Seed = 2
			d, err := m.Generate(ctx, prompts, opt)
			require.NoError(t, err)
			assert.NotEqual(t, a, d, "another seed")

			greedy, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 24, StopTokens: []int{}})
			require.NoError(t, err)
			assert.NotEqual(t, greedy, a, "sampling at temperature %g equals greedy decoding", opt.Temperature)
		})
	}
}

func TestGenerateTopKOneIsGreedy(t *testing.T) {
	m := newTestModel(t, genTestConfig, 23)
	prompts := [][]int{{4, 5, 6, 7}, {1}}
	greedy, err := m.Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: 16, StopTokens: []int{}})
	require.NoError(t, err)
	for seed := range uint64(3) {
		got, err := m.Generate(context.Background(), prompts,
			GenerateOptions{MaxNewTokens: 16, StopTokens: []int{}, Temperature: 5, TopK: 1, Seed: seed})
		require.NoError(t, err)
		assert.Equal(t, greedy, got, "seed %d", seed)
	}
}

func TestGenerateStops(t *testing.T) {
	m := newTestModel(t, genTestConfig, 24)
	prompts := [][]int{{3, 1, 4, 1, 5}, {2, 7}}
	ctx := context.Background()
	full, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 20, StopTokens: []int{}})
	require.NoError(t, err)
	require.Len(t, full[0], 20)

	// A stop token ends its row before it and leaves the other row alone unless it meets it too.
	stop := full[0][6]
	cut := slices.Index(full[0], stop)
	got, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 20, StopTokens: []int{stop}})
	require.NoError(t, err)
	assert.Equal(t, full[0][:cut], got[0])
	want1 := full[1]
	if i := slices.Index(full[1], stop); i >= 0 {
		want1 = full[1][:i]
	}
	assert.Equal(t, want1, got[1])

	// nil StopTokens means the config's EOS.
	eos := full[1][3]
	cfg := m.Config
	cfg.EOSTokenID = eos
	m2, err := New(m.Backend(), cfg, m.Weights)
	require.NoError(t, err)
	got, err = m2.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 20})
	require.NoError(t, err)
	assert.Equal(t, full[1][:slices.Index(full[1], eos)], got[1])

	// Stop keeps the token that ended the row.
	got, err = m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 20, StopTokens: []int{},
		Stop: func(row int, gen []int) bool { return row == 0 && len(gen) == 4 }})
	require.NoError(t, err)
	assert.Equal(t, full[0][:4], got[0])
	assert.Equal(t, full[1], got[1])

	// MaxNewTokens bounds every row.
	got, err = m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: 3, StopTokens: []int{}})
	require.NoError(t, err)
	assert.Equal(t, [][]int{full[0][:3], full[1][:3]}, got)
}

func TestGenerateErrors(t *testing.T) {
	m := newTestModel(t, genTestConfig, 25)
	ctx := context.Background()
	_, err := m.Generate(ctx, [][]int{{1}, {}}, GenerateOptions{})
	assert.ErrorContains(t, err, "empty prompt")
	_, err = m.Generate(ctx, [][]int{{1, 64}}, GenerateOptions{})
	assert.ErrorContains(t, err, "token 64 outside the vocabulary")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = m.Generate(cancelled, [][]int{{1}}, GenerateOptions{})
	assert.ErrorIs(t, err, context.Canceled)
	got, err := m.Generate(ctx, nil, GenerateOptions{})
	assert.NoError(t, err)
	assert.Empty(t, got)

	// A prompt past the context is refused before anything is allocated for it.
	long := make([]int, m.Config.MaxPositionEmbeddings)
	_, err = m.Generate(ctx, [][]int{{1}, long}, GenerateOptions{MaxNewTokens: 4})
	assert.ErrorContains(t, err, fmt.Sprintf("prompt 1 has %d tokens; with MaxNewTokens 4 that passes the model's max_position_embeddings %d",
		len(long), m.Config.MaxPositionEmbeddings))
	_, err = m.Logits([][]int{append(long, 1)})
	assert.ErrorContains(t, err, "more than the model's max_position_embeddings")
	_, err = m.TokenLogProbs([][]int{append(long, 1)})
	assert.ErrorContains(t, err, "more than the model's max_position_embeddings")
}

func TestConfigBounds(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		msg  string
	}{
		{func(c *Config) { c.NumHiddenLayers = 1_000_000_000 }, "num_hidden_layers 1000000000 is above the supported 1024"},
		{func(c *Config) { c.HiddenSize = 1 << 20 }, "hidden_size 1048576 is above"},
		{func(c *Config) { c.VocabSize = 1 << 30 }, "vocab_size 1073741824 is above"},
		{func(c *Config) { c.MaxPositionEmbeddings = -1 }, "max_position_embeddings must be >= 0"},
	} {
		c := genTestConfig
		tc.edit(&c)
		assert.ErrorContains(t, c.Validate(), tc.msg)
	}
}

// TestManyShapes runs far more distinct shape buckets than GoMLX's per-Exec cache of 32 shapes (and
// than the model's own 48 programs), then checks that evicted shapes are rebuilt and still right.
func TestManyShapes(t *testing.T) {
	cfg := Config{HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 32}
	m := newTestModel(t, cfg, 26)
	rng := rand.New(rand.NewPCG(7, 8))
	ctx := context.Background()

	// The reference: the first two greedy tokens of each prompt from the float64 forward.
	firstTwo := func(p []int) []int {
		seq := slices.Clone(p)
		for range 2 {
			lg := refForward(m.Config, m.Weights, seq)
			last := lg[len(lg)-1]
			seq = append(seq, argmax64(last))
		}
		return seq[len(p):]
	}
	keys := map[string]bool{}
	check := func(B, n, maxNew int) {
		prompts := make([][]int, B)
		for i := range prompts {
			prompts[i] = randomPrompt(rng, n, cfg.VocabSize)
		}
		// Stop after two tokens: one prefill and one decode step, whatever the cache length.
		got, err := m.Generate(ctx, prompts, GenerateOptions{MaxNewTokens: maxNew, StopTokens: []int{},
			Stop: func(_ int, gen []int) bool { return len(gen) == 2 }})
		require.NoError(t, err, "B=%d prompt %d new %d", B, n, maxNew)
		for i, p := range prompts {
			require.Equal(t, firstTwo(p), got[i], "B=%d prompt %d new %d row %d", B, n, maxNew, i)
		}
		S := Bucket(n)
		L := Bucket(S + maxNew)
		keys[fmt.Sprintf("step/%dx%d/%d", batchBucket(B), S, L)] = true
		keys[fmt.Sprintf("step/%dx1/%d", batchBucket(B), L)] = true
	}
	for _, B := range []int{1, 2, 3, 5} {
		for _, n := range []int{3, 12, 20} {
			for _, maxNew := range []int{4, 40, 100} {
				check(B, n, maxNew)
			}
		}
	}
	for _, B := range []int{1, 4, 7} {
		for _, n := range []int{5, 9, 30, 33} {
			seqs := make([][]int, B)
			for i := range seqs {
				seqs[i] = randomPrompt(rng, n, cfg.VocabSize)
			}
			lg, err := m.Logits(seqs)
			require.NoError(t, err, "Logits B=%d T=%d", B, n)
			for i, s := range seqs {
				require.Equal(t, argmax64(refForward(m.Config, m.Weights, s)[n-1]), argmax32(lg[i][n-1]))
			}
			keys[fmt.Sprintf("logits/%dx%d", batchBucket(B), Bucket(n))] = true
		}
	}
	require.Greater(t, len(keys), 50, "distinct shape buckets exercised")
	m.mu.Lock()
	progs, lru := len(m.progs), len(m.lru)
	m.mu.Unlock()
	assert.Equal(t, maxPrograms, progs, "compiled programs kept")
	assert.Equal(t, maxPrograms, lru)
	t.Logf("%d distinct shape buckets, %d programs kept", len(keys), progs)

	// The first shapes were evicted: they are rebuilt and still right.
	check(1, 3, 4)
	check(2, 12, 40)
}

func argmax64(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func argmax32(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestGenerateLeavesLittleGarbage: on accrete's backend a decode step allocates (Go heap) far less
// than its logits and KV cache: the caches are made and updated on the backend, in place, and the
// logits are sampled where they lie, so that decoding does not grow the heap towards the garbage
// collector's goal (twice the live heap, mostly the weights) token after token.
func TestGenerateLeavesLittleGarbage(t *testing.T) {
	m := newTestModel(t, Config{HiddenSize: 64, IntermediateSize: 96, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: 16384}, 23)
	if m.Backend().String() != DefaultBackendConfig {
		t.Skipf("measures accrete's backend, not %s", m.Backend().String())
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const B, newTokens = 4, 64
	prompts := make([][]int, B)
	for i := range prompts {
		prompts[i] = randomPrompt(rng, 12, m.Config.VocabSize)
	}
	opt := GenerateOptions{MaxNewTokens: newTokens, StopTokens: []int{}}
	gen := func() {
		out, err := m.Generate(context.Background(), prompts, opt)
		require.NoError(t, err)
		require.Len(t, out[B-1], newTokens)
	}
	gen() // compiles and fills the backend's pool
	gen() // (a collection empties the matmul's scratch pool: allocated again here, not below)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	gen()
	runtime.ReadMemStats(&after)
	perToken := float64(after.TotalAlloc-before.TotalAlloc) / newTokens
	logits := float64(B * m.Config.VocabSize * 4)
	cache := float64(2 * m.Config.NumHiddenLayers * B * m.Config.NumKeyValueHeads * cacheBucket(16+newTokens) * m.Config.HeadDim * 4)
	t.Logf("Go heap allocated per decode step: %.0f bytes (logits %.0f, KV cache %.0f)", perToken, logits, cache)
	require.Less(t, perToken, logits/4, "a decode step allocates a copy of its logits or more")
}

func TestCacheBucket(t *testing.T) {
	for _, c := range [][2]int{{1, 8}, {9, 16}, {64, 64}, {65, 80}, {128, 128}, {129, 160}, {144, 160}, {161, 192},
		{256, 256}, {257, 320}, {1000, 1024}, {1025, 1280}} {
		require.Equal(t, c[1], cacheBucket(c[0]), "cacheBucket(%d)", c[0])
	}
}

func TestStepBucket(t *testing.T) {
	for _, c := range [][2]int{{0, 8}, {1, 8}, {8, 8}, {9, 16}, {17, 24}, {33, 40}, {64, 64}, {65, 80}, {128, 128},
		{129, 160}, {257, 320}, {1025, 1280}} {
		require.Equal(t, c[1], StepBucket(c[0]), "StepBucket(%d)", c[0])
	}
}
