package lora

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

var trainFingerprint = flag.String("train-fingerprint", "",
	"TestTrainFingerprint: write the fingerprint of a few Train runs to this file, or compare with it bit for bit if it exists")

// TestTrainFingerprint guards refactors of Train that must not change a bit: run it with
// -train-fingerprint FILE at the commit before (it writes FILE) and after (it compares). The
// fingerprint covers the losses and the trained tensors of runs with dropout, gradient accumulation,
// an extra loss, a schedule, weight decay, full fine-tuning and the device layout. Results depend on
// the machine's kernels, so FILE is not committed.
func TestTrainFingerprint(t *testing.T) {
	if *trainFingerprint == "" {
		t.Skip("needs -train-fingerprint FILE")
	}
	got := trainFingerprints(t)
	want, err := os.ReadFile(*trainFingerprint)
	if os.IsNotExist(err) {
		require.NoError(t, os.WriteFile(*trainFingerprint, []byte(got), 0o644))
		t.Logf("wrote %s:\n%s", *trainFingerprint, got)
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func trainFingerprints(t *testing.T) string {
	data := raggedData(20, 4)
	var b strings.Builder
	for _, tc := range []struct {
		name    string
		fft     bool
		dropout float64
		cfg     TrainConfig
	}{
		{"lora dropout", false, 0.1, TrainConfig{LearningRate: 1e-2, BatchSize: 4, Epochs: 2, Seed: 3}},
		{"lora dropout accumulated", false, 0.2, TrainConfig{LearningRate: 1e-2, BatchSize: 6, MicroBatchSize: 2, MaxSteps: 5,
			Schedule: Cosine, WarmupSteps: 2, WeightDecay: 0.1, ClipNorm: 0.5, Seed: 9}},
		{"lora extra linear", false, 0, TrainConfig{LearningRate: 5e-3, BatchSize: 5, Epochs: 2, Schedule: Linear, Seed: 1,
			ExtraLoss: l2Extra}},
		{"fft", true, 0, TrainConfig{LearningRate: 1e-3, BatchSize: 4, MaxSteps: 4, Seed: 2}},
		{"lora dropout device", false, 0.1, TrainConfig{LearningRate: 1e-2, BatchSize: 4, MicroBatchSize: 3, MaxSteps: 4, Seed: 4,
			Layout: LayoutDevice}},
	} {
		m := testmodel.Tiny(t, tinyConfig, 12)
		a, names := attachNew(t, m, Config{Rank: 4, Seed: 2, Dropout: tc.dropout})
		if tc.fft {
			m.SetAdapter(nil)
			names = slices.Sorted(maps.Keys(m.Weights))
		}
		res, err := Train(context.Background(), m, names, data, tc.cfg)
		require.NoError(t, err, tc.name)
		h := fnv.New64a()
		snap := snapshot(m, a)
		for _, n := range slices.Sorted(maps.Keys(snap)) {
			for _, v := range snap[n] {
				u := math.Float32bits(v)
				h.Write([]byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)})
			}
		}
		fmt.Fprintf(&b, "%s: steps %d epochs %d tokens %d first %x loss %x extra %x epochs %x tensors %016x\n",
			tc.name, res.Steps, res.Epochs, res.Tokens, math.Float64bits(res.FirstLoss), math.Float64bits(res.Loss),
			math.Float64bits(res.Extra), res.EpochLoss, h.Sum64())
	}
	return b.String()
}

// l2Extra is a small penalty on the adapter's B tensors, an ExtraLoss that depends on the trained tensors.
func l2Extra(p model.Params) *graph.Node {
	var sum *graph.Node
	for _, n := range slices.Sorted(maps.Keys(p)) {
		if strings.HasSuffix(n, "lora_B") {
			s := graph.ReduceAllSum(graph.Square(p[n]))
			if sum == nil {
				sum = s
			} else {
				sum = graph.Add(sum, s)
			}
		}
	}
	return graph.MulScalar(sum, 1e-3)
}
