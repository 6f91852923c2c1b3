package accrete_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
)

func TestAdapterCacheReusesOnlyIdenticalTrainings(t *testing.T) {
	l := tinyLearner(t, 5)
	l.Train.Epochs = 2
	l.Cache = accrete.NewAdapterCache()
	items := l.Encode(tinyTask("ka", 6, 1).Train)
	ctx := context.Background()
	a1, _, err := l.TrainAdapter(ctx, "x", items, nil, nil)
	require.NoError(t, err)
	a2, _, err := l.TrainAdapter(ctx, "x", items, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 1, l.Cache.Stats().Hits)
	for m, b := range a1.B {
		require.Equal(t, b.Data, a2.B[m].Data)
	}
	// Without the cache the same training gives bit-identical tensors: the hit is what training gives.
	l.Cache = nil
	a3, _, err := l.TrainAdapter(ctx, "x", items, nil, nil)
	require.NoError(t, err)
	for m, b := range a1.B {
		require.Equal(t, b.Data, a3.B[m].Data)
	}
	// Other weights, data or name: a miss.
	l.Cache = accrete.NewAdapterCache()
	_, _, err = l.TrainAdapter(ctx, "x", items, nil, nil)
	require.NoError(t, err)
	_, _, err = l.TrainAdapter(ctx, "y", items, nil, nil)
	require.NoError(t, err)
	_, _, err = l.TrainAdapter(ctx, "x", items[:3], nil, nil)
	require.NoError(t, err)
	require.NoError(t, a1.Fold(l.Model.Weights))
	l.Model.UpdateWeights()
	_, _, err = l.TrainAdapter(ctx, "x", items, nil, nil)
	require.NoError(t, err)
	require.Equal(t, 0, l.Cache.Stats().Hits)
	require.Equal(t, 4, l.Cache.Stats().Misses)
}

// TestAdapterCacheZeroValue: a zero AdapterCache works (no nil-map panic) and its Stats can be read
// while other goroutines use it (run with -race).
func TestAdapterCacheZeroValue(t *testing.T) {
	l := tinyLearner(t, 1)
	l.Cache = &accrete.AdapterCache{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			_ = l.Cache.Stats()
		}
	}()
	items := l.Encode([]accrete.Example{{Prompt: "a?", Answer: "b"}})
	tc := lora.TrainConfig{LearningRate: 1e-2, MaxSteps: 2}
	_, _, err := l.TrainAdapter(context.Background(), "x", items, nil, &tc)
	require.NoError(t, err)
	_, _, err = l.TrainAdapter(context.Background(), "x", items, nil, &tc)
	require.NoError(t, err)
	<-done
	require.Equal(t, accrete.CacheStats{Hits: 1, Misses: 1, Entries: 1}, l.Cache.Stats())
}
