package lora

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// planConfig is small enough to count by hand: D 8, F 16, 2 layers, 2 heads of 4, 1 KV head, V 10.
var planConfig = model.Config{HiddenSize: 8, IntermediateSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 2,
	NumKeyValueHeads: 1, VocabSize: 10}

func TestPlanMemoryByHand(t *testing.T) {
	// Parameters: embedding and head 2·80; per layer 2 norms of 8, q 64, k 32, v 32, o 64, gate, up
	// and down 128 each: 592; final norm 8. 160 + 2·592 + 8 = 1352.
	require.Equal(t, 1352, planConfig.NumParams())
	// One layer's activations per token: 6·D + 2·KV·hd + 5·F + H·T = 48 + 8 + 80 + 8 = 144 values.
	const perLayer = 2 * 4 * 144 // B·T·144
	tests := []struct {
		name string
		o    PlanOptions
		want Plan
	}{
		{"lora f32 host", PlanOptions{Adapter: Config{Rank: 2, TargetModules: []string{"q_proj", "v_proj"}}, Batch: 2, SeqLen: 4},
			// Adapter: q 2·(8+8) + v 2·(8+4) = 56 per layer, 112 in all. The accrete backend reads the
			// host weights in place: one copy, and no upload garbage.
			Plan{Params: 1352, Trainable: 112,
				Weights: (1352 + 112) * 4, Gradients: 112 * 4, Optimizer: 112 * 4 * 2, Snapshot: 112 * 4,
				Activations: 2 * perLayer * 4, Logits: 2 * 4 * 10 * 4, Working: perLayer * 4, Overhead: hostOverhead}},
		{"lora f32 host, answer window of 2", PlanOptions{Adapter: Config{Rank: 2, TargetModules: []string{"q_proj", "v_proj"}}, Batch: 2, SeqLen: 4, AnswerLen: 2},
			// The head runs on 2 of the 4 positions: logits B·A·V.
			Plan{Params: 1352, Trainable: 112,
				Weights: (1352 + 112) * 4, Gradients: 112 * 4, Optimizer: 112 * 4 * 2, Snapshot: 112 * 4,
				Activations: 2 * perLayer * 4, Logits: 2 * 2 * 10 * 4, Working: perLayer * 4, Overhead: hostOverhead}},
		{"lora f32 host, recomputed activations", PlanOptions{Adapter: Config{Rank: 2, TargetModules: []string{"q_proj", "v_proj"}}, Batch: 2, SeqLen: 4, Recompute: true},
			// Each layer's input [B, T, D] only (2 layers · 2 · 4 · 8 values); one layer's
			// intermediates are the working set.
			Plan{Params: 1352, Trainable: 112,
				Weights: (1352 + 112) * 4, Gradients: 112 * 4, Optimizer: 112 * 4 * 2, Snapshot: 112 * 4,
				Activations: 2 * 2 * 4 * 8 * 4, Logits: 2 * 4 * 10 * 4, Working: perLayer * 4, Overhead: hostOverhead}},
		{"lora bf16 host", PlanOptions{Adapter: Config{Rank: 2, TargetModules: []string{"q_proj", "v_proj"}}, DType: BF16, Batch: 2, SeqLen: 4},
			// bfloat16 base weights, float32 adapter and activations (the CPU backends compute in float32).
			Plan{Params: 1352, Trainable: 112,
				Weights: 1352*2 + 112*4, Gradients: 112 * 4, Optimizer: 112 * 4 * 2, Snapshot: 112 * 4,
				Activations: 2 * perLayer * 4, Logits: 2 * 4 * 10 * 4, Working: perLayer * 4, Overhead: hostOverhead}},
		{"fft bf16 device accumulating", PlanOptions{Method: MethodFFT, DType: BF16, Device: true, Accumulate: true, Batch: 2, SeqLen: 4},
			Plan{Params: 1352, Trainable: 1352,
				Weights: 1352 * 2, Gradients: 2 * 1352 * 2, Optimizer: 1352*4*2 + 1352*4,
				Activations: 2 * perLayer * 2, Logits: 2 * 2 * 4 * 10 * 2, Working: perLayer * 2, Overhead: deviceOverhead}},
		{"fft f32 host", PlanOptions{Method: MethodFFT, Batch: 2, SeqLen: 4},
			Plan{Params: 1352, Trainable: 1352,
				Weights: 1352 * 4, Gradients: 1352 * 4, Optimizer: 1352 * 4 * 2, Snapshot: 1352 * 4,
				Activations: 2 * perLayer * 4, Logits: 2 * 4 * 10 * 4, Working: perLayer * 4, Overhead: hostOverhead}},
		{"fft f32 host, copied weights", PlanOptions{Method: MethodFFT, Batch: 2, SeqLen: 4, CopiedWeights: true},
			Plan{Params: 1352, Trainable: 1352,
				Weights: 2 * 1352 * 4, Gradients: 1352 * 4, Optimizer: 1352 * 4 * 2, Snapshot: 1352 * 4,
				Activations: 2 * perLayer * 4, Logits: 2 * 4 * 10 * 4, Working: perLayer * 4,
				// live heap = weights + snapshot + moments = 4 copies; every step re-uploads them all.
				Transient: 4 * 1352 * 4, Overhead: hostOverhead}},
		{"fft host, restore copy on disk", PlanOptions{Method: MethodFFT, Batch: 2, SeqLen: 4, TrainableParams: 100 << 20},
			// 400 MB of trained tensors: the restore copy goes to a temporary file.
			Plan{Params: 1352, Trainable: 100 << 20,
				Weights: 1352 * 4, Gradients: 100 << 20 * 4, Optimizer: 100 << 20 * 4 * 2,
				Activations: 2 * perLayer * 4, Logits: 2 * 4 * 10 * 4, Working: perLayer * 4, Overhead: hostOverhead}},
		{"decode f32 host", PlanOptions{Method: MethodDecode, Batch: 2, SeqLen: 4},
			Plan{Params: 1352, Weights: 1352 * 4, KVCache: 2 * 2 * 2 * 4 * 1 * 4 * 4, Logits: 2 * 10 * 4,
				Working: perLayer * 4, Overhead: hostOverhead}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanMemory(planConfig, tc.o)
			tc.want.Options, tc.want.Config = got.Options, got.Config
			require.Equal(t, tc.want, got)
			require.Contains(t, got.String(), "total")
		})
	}
	p := PlanMemory(planConfig, PlanOptions{Method: MethodFFT, Batch: 2, SeqLen: 4})
	require.Equal(t, p.Weights+p.Gradients+p.Optimizer+p.Snapshot+p.Activations+p.Logits+p.Working+p.Transient+p.Overhead, p.Total())
	require.True(t, p.Fits(p.Total()))
	require.False(t, p.Fits(p.Total()-1))
}

func TestPlanOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o     PlanOptions
		field string
	}{
		{PlanOptions{Method: "sgd"}, "Method"},
		{PlanOptions{DType: "f16"}, "DType"},
		{PlanOptions{Compute: "f8"}, "Compute"},
		{PlanOptions{TrainableParams: -1}, "TrainableParams"},
		{PlanOptions{Batch: -1}, "Batch"},
		{PlanOptions{Adapter: Config{TargetModules: []string{"wq"}}}, "TargetModules"},
	} {
		require.ErrorContains(t, tc.o.Validate(), tc.field)
	}
	require.Panics(t, func() { PlanMemory(planConfig, PlanOptions{Method: "sgd"}) })
}

func TestTrainRefusesRunOverBudget(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 3)
	a, names := attachNew(t, m, Config{Rank: 4, Seed: 1})
	before := snapshot(m, a)
	_, err := Train(context.Background(), m, names, tinyFacts(8, 1), TrainConfig{BatchSize: 4, MemoryBudget: 1 << 20})
	require.ErrorIs(t, err, ErrMemory)
	var pe *PlanError
	require.True(t, errors.As(err, &pe))
	require.Equal(t, MethodLoRA, pe.Plan.Options.Method)
	require.Equal(t, 4, pe.Plan.Options.Batch)
	require.Equal(t, 8, pe.Plan.Options.SeqLen)
	var trained int64
	for _, w := range a.Tensors() {
		trained += int64(w.Size())
	}
	require.Equal(t, trained, pe.Plan.Trainable)
	require.ErrorContains(t, err, "memory plan: lora")
	require.Equal(t, before, snapshot(m, a))
	// A budget the plan fits in, and no check, both train.
	_, err = Train(context.Background(), m, names, tinyFacts(8, 1), TrainConfig{BatchSize: 4, MaxSteps: 1, MemoryBudget: pe.Plan.Total()})
	require.NoError(t, err)
	_, err = Train(context.Background(), m, names, tinyFacts(8, 1), TrainConfig{BatchSize: 4, MaxSteps: 1, MemoryBudget: -1})
	require.NoError(t, err)
}
