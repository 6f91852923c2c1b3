// Package testmodel builds the tiny random Llama models that accrete's tests share.
//
// # Overview
//
// [Config] is the tiny architecture (hidden 32, 2 layers) and [New] draws its weights from a
// seeded source, so that a test is reproducible; [Tiny] is the model most of lora's, merge's and
// moe's tests use. The models serve the tests of the study of "Collaboratively adding new knowledge
// to an LLM" (Lee & Wynter, arXiv 2410.14753).
//
// It imports only model (and testify), so that lora's own tests can use it; the fixtures that need
// accrete or lora live in internal/testkit. It is for tests only.
package testmodel

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/model"
)

// Config returns the tiny Llama of the tests: hidden size 32, MLP 64, 2 layers, 4 attention heads,
// 2 key/value heads (GQA), untied, with a vocabulary of vocab tokens.
func Config(vocab int) model.Config {
	return model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, VocabSize: vocab}
}

// New returns a model of cfg on the pure-Go backend with weights model.RandomWeights(cfg, rng, std,
// 0). It fails t on any error.
func New(t testing.TB, cfg model.Config, rng *rand.Rand, std float64) *model.Model {
	t.Helper()
	b, err := model.Backend()
	require.NoError(t, err)
	m, err := model.New(b, cfg, model.RandomWeights(cfg, rng, std, 0))
	require.NoError(t, err)
	return m
}

// Tiny returns a model of cfg with weights of std 0.05 drawn from rand.NewPCG(seed, 2).
func Tiny(t testing.TB, cfg model.Config, seed uint64) *model.Model {
	t.Helper()
	return New(t, cfg, rand.New(rand.NewPCG(seed, 2)), 0.05)
}
