package inflora

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// TestDesignAndExtendHandCase: C = diag(4, 3, 1) with e1 in the memory. The design's leading direction
// outside the memory is ±e2, with half of C's energy (4 of 8) outside it. Extending to hold 0.8 of the
// energy adds e2 (4 + 3 = 7 ≥ 6.4); to hold 0.9 it needs e3 too (7 < 7.2 ≤ 8); 0.5 needs nothing.
func TestDesignAndExtendHandCase(t *testing.T) {
	c := Covariance{In: 3, Data: []float64{4, 0, 0, 0, 3, 0, 0, 0, 1}}
	M := &model.Tensor{Shape: []int{1, 3}, Data: []float32{1, 0, 0}}
	A, residual := Design(c, M, 1)
	assert.InDelta(t, 0.5, residual, 1e-12)
	assert.InDelta(t, 0, A.Data[0], 1e-7)
	assert.InDelta(t, 1, math.Abs(float64(A.Data[1])), 1e-7)
	assert.InDelta(t, 0, A.Data[2], 1e-7)

	// Rank 3 with two directions left: the third row is 0 (no energy left outside M).
	A, _ = Design(c, M, 3)
	assert.Equal(t, []float32{0, 0, 0}, A.Data[6:9])

	for _, tc := range []struct {
		threshold float64
		rows      int
	}{{0.5, 1}, {0.8, 2}, {0.9, 3}} {
		got := Extend(c, M, tc.threshold)
		require.Equal(t, []int{tc.rows, 3}, got.Shape, "ε=%g", tc.threshold)
		assert.Equal(t, []float32{1, 0, 0}, got.Data[:3], "the old rows are kept first")
	}
	// An empty memory: the design is the leading eigenvector of [[2, 1], [1, 2]], (1, 1)/√2.
	A, residual = Design(Covariance{In: 2, Data: []float64{2, 1, 1, 2}}, nil, 1)
	assert.InDelta(t, 1, residual, 1e-12)
	assert.InDelta(t, math.Abs(float64(A.Data[0])), math.Abs(float64(A.Data[1])), 1e-7)
	assert.InDelta(t, 1/math.Sqrt2, math.Abs(float64(A.Data[0])), 1e-7)
}

// TestCovariancesMatchHost: layer 0's q_proj input is RMSNorm(embedding)·w; its covariance over a
// sequence's tokens, computed on the host, is what Covariances captures through the hook (padding
// left out).
func TestCovariancesMatchHost(t *testing.T) {
	m := testmodel.Tiny(t, testmodel.Config(32), 1)
	mod := lora.Module{Layer: 0, Name: "q_proj"}
	seq := []int{1, 5, 7, 9}
	cov, n, err := Covariances(context.Background(), m, []lora.Module{mod, {Layer: 1, Name: "down_proj"}}, []lora.Sequence{{Tokens: seq, PromptLen: 1}}, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	D := m.Config.HiddenSize
	emb, w := m.Weights["model.embed_tokens.weight"], m.Weights["model.layers.0.input_layernorm.weight"]
	want := make([]float64, D*D)
	for _, tok := range seq {
		e := emb.Data[tok*D : (tok+1)*D]
		var ms float64
		for _, v := range e {
			ms += float64(v) * float64(v)
		}
		rms := math.Sqrt(ms/float64(D) + m.Config.WithDefaults().RMSNormEps)
		x := make([]float64, D)
		for i, v := range e {
			x[i] = float64(v) / rms * float64(w.Data[i])
		}
		for i := range D {
			for j := range D {
				want[i*D+j] += x[i] * x[j]
			}
		}
	}
	got := cov[mod]
	require.Equal(t, D, got.In)
	for i := range want {
		require.InDelta(t, want[i], got.Data[i], 1e-4*(1+math.Abs(want[i])), "entry %d", i)
	}
	assert.Equal(t, m.Config.IntermediateSize, cov[lora.Module{Layer: 1, Name: "down_proj"}].In)
}

// TestTwoRounds: round 2's A is orthogonal to the memory of round 1's inputs, so its ΔW maps every
// memorised input direction to (nearly) 0, only B is trained, and the second task is still learned.
func TestTwoRounds(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 15, BatchSize: 8, Seed: 4}
	var adapters []*lora.Adapter
	var mem1 map[lora.Module]Memory
	s := New(Config{Threshold: 0.9, Train: &tc, OnAdapter: func(round int, a *lora.Adapter, res lora.Result) error {
		adapters = append(adapters, a.Clone())
		assert.Less(t, res.Loss, res.FirstLoss, "round %d learns", round+1)
		return nil
	}})
	l := testkit.ColourLearner(t)
	var logs bytes.Buffer
	l.Progress = &logs
	for i, task := range tasks {
		require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: i, Task: task}))
		if i == 0 {
			mem1 = s.Memory()
		}
	}
	require.Len(t, s.History, 2)
	assert.InDelta(t, 1, s.History[0].Residual, 1e-6, "round 1 has an empty memory")
	assert.Less(t, s.History[1].Residual, 1.0)
	assert.Contains(t, logs.String(), "inflora round 2 (mo)")
	a2 := adapters[1]
	for _, m := range a2.Modules() {
		M := mem1[m]
		require.NotNil(t, M, m.Path())
		require.Positive(t, M.Shape[0])
		dw := a2.DeltaW(m)
		out, in := dw.Shape[0], dw.Shape[1]
		var leak, size float64
		for k := range M.Shape[0] {
			for o := range out {
				var d float64
				for i := range in {
					d += float64(dw.Data[o*in+i]) * float64(M.Data[k*in+i])
				}
				leak += d * d
			}
		}
		for _, v := range dw.Data {
			size += float64(v) * float64(v)
		}
		require.Positive(t, size, m.Path())
		assert.Less(t, leak, 1e-8*size+1e-12, "%s: ΔW₂ on round 1's input subspace", m.Path())
		// A is the design: unit or zero rows, untouched by training.
		for _, n := range rowNorms(a2.A[m]) {
			assert.True(t, math.Abs(n-1) < 1e-5 || n == 0, "%s: row norm² %g", m.Path(), n)
		}
	}
	assert.GreaterOrEqual(t, s.History[1].MemoryRank, s.History[0].MemoryRank)
}

func TestResumeThroughRun(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 8, Seed: 4}
	dir := t.TempDir()
	s := New(Config{Train: &tc})
	_, err := accrete.Run(context.Background(), testkit.ColourLearner(t), s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "round-02", "state", MemoryFile))
	r := New(Config{Train: &tc})
	_, err = accrete.Run(context.Background(), testkit.ColourLearner(t), r, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	assert.Equal(t, s.History, r.History)
	assert.Equal(t, s.Memory(), r.Memory())
	err = New(Config{Threshold: 0.5}).LoadState(filepath.Join(dir, "round-02", "state"), testkit.ColourLearner(t))
	assert.ErrorContains(t, err, "ε=0.95")
}

func TestConfigValidateAndName(t *testing.T) {
	assert.ErrorContains(t, Config{Threshold: 1.5}.Validate(), "Threshold must")
	assert.ErrorContains(t, Config{Threshold: -0.1}.Validate(), "Threshold must")
	assert.ErrorContains(t, Config{LoRA: &lora.Config{Rank: -1}}.Validate(), "Config.LoRA")
	assert.Equal(t, "inflora ε=0.95", New(Config{}).Name())
	assert.Equal(t, "inflora ε=0.99", New(Config{Threshold: 0.99}).Name())
	assert.Equal(t, Config{Threshold: 0.9}, New(Config{Threshold: 0.9}).Settings())
}
