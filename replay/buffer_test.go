package replay

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
)

func items(prefix string, n int) []accrete.Example {
	out := make([]accrete.Example, n)
	for i := range out {
		out[i] = accrete.Example{ID: fmt.Sprintf("%s-%d", prefix, i), Prompt: fmt.Sprintf("%s prompt %d", prefix, i), Answer: "a"}
	}
	return out
}

func ids(exs []accrete.Example) []string {
	out := make([]string, len(exs))
	for i, e := range exs {
		out[i] = e.ID
	}
	return out
}

// TestReservoirUniform: over many seeds, every one of 20 streamed items ends in a 5-slot reservoir
// about a quarter of the time (a chi-square statistic over the 20 inclusion counts).
func TestReservoirUniform(t *testing.T) {
	const n, k, trials = 20, 5, 4000
	stream := items("x", n)
	count := map[string]int{}
	for seed := range uint64(trials) {
		b := NewBuffer(k, seed)
		b.Add(stream[:7]...) // in two calls: the split must not matter
		b.Add(stream[7:]...)
		require.Equal(t, k, b.Len())
		require.Equal(t, n, b.Seen())
		for _, e := range b.Items() {
			count[e.ID]++
		}
	}
	expected := float64(trials) * k / n
	var chi2 float64
	for _, e := range stream {
		d := float64(count[e.ID]) - expected
		chi2 += d * d / expected
	}
	// Inclusion is Bernoulli(1/4) per trial, so E[chi2] = 19·(3/4) ≈ 14; 43.8 is χ²(19)'s 99.9% point.
	t.Logf("chi2 = %.2f", chi2)
	assert.Less(t, chi2, 43.8)
	assert.Greater(t, chi2, 1.0, "suspiciously exact")
}

func TestReservoirSmallExact(t *testing.T) {
	b := NewBuffer(3, 1)
	b.Add(items("x", 2)...)
	assert.Equal(t, []string{"x-0", "x-1"}, ids(b.Items()), "under capacity everything is kept, in order")
	b.Add(items("y", 1)...)
	assert.Equal(t, []string{"x-0", "x-1", "y-0"}, ids(b.Items()))
	assert.Panics(t, func() { NewBuffer(0, 1) })
}

func TestBufferDeterministic(t *testing.T) {
	fill := func(seed uint64, split bool) []string {
		b := NewBuffer(6, seed)
		all := append(items("a", 10), items("b", 15)...)
		if split {
			b.Add(all[:10]...)
			b.Add(all[10:]...)
		} else {
			b.Add(all...)
		}
		return ids(b.Items())
	}
	assert.Equal(t, fill(3, false), fill(3, false))
	assert.Equal(t, fill(3, false), fill(3, true))
	assert.NotEqual(t, fill(3, false), fill(4, false))
}

func TestBufferSample(t *testing.T) {
	b := NewBuffer(4, 1)
	b.Add(items("x", 4)...)
	rng := rand.New(rand.NewPCG(1, 2))
	s := b.Sample(3, rng)
	assert.Len(t, s, 3)
	seen := map[string]int{}
	for _, e := range s {
		seen[e.ID]++
	}
	assert.Len(t, seen, 3, "no repetition while n ≤ Len")

	s = b.Sample(10, rng) // each item twice, two items a third time
	seen = map[string]int{}
	for _, e := range s {
		seen[e.ID]++
	}
	require.Len(t, seen, 4)
	threes := 0
	for _, c := range seen {
		assert.Contains(t, []int{2, 3}, c)
		if c == 3 {
			threes++
		}
	}
	assert.Equal(t, 2, threes)
	assert.Nil(t, b.Sample(0, rng))
	assert.Nil(t, NewBuffer(2, 0).Sample(3, rng))

	r1, r2 := rand.New(rand.NewPCG(5, 5)), rand.New(rand.NewPCG(5, 5))
	assert.Equal(t, b.Sample(7, r1), b.Sample(7, r2))
}

func TestBufferJSONContinues(t *testing.T) {
	a := NewBuffer(5, 9)
	a.Add(items("x", 12)...)
	data, err := json.Marshal(a)
	require.NoError(t, err)
	var b Buffer
	require.NoError(t, json.Unmarshal(data, &b))
	assert.Equal(t, a.Items(), b.Items())
	assert.Equal(t, a.Seen(), b.Seen())
	a.Add(items("y", 30)...)
	b.Add(items("y", 30)...)
	assert.Equal(t, ids(a.Items()), ids(b.Items()), "the generator state travels with the buffer")

	var c Buffer
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"capacity":2,"seen":1,"items":[]}`), &c), "inconsistent")
}
