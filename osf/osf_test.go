package osf

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
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

// TestLeadingHandCase: W = [[3, 0, 0], [0, 1, 0]] has the leading singular triple (3, e1, e1): U·σ·V
// rebuilds W's first entry, and k = 2 finds the second (1, e2, e2); k is clamped to min(out, in).
func TestLeadingHandCase(t *testing.T) {
	W := &model.Tensor{Shape: []int{2, 3}, Data: []float32{3, 0, 0, 0, 1, 0}}
	s := Leading(W, 1)
	require.Equal(t, []int{1, 2}, s.U.Shape)
	require.Equal(t, []int{1, 3}, s.V.Shape)
	assert.InDelta(t, 1, s.U.Data[0]*s.V.Data[0], 1e-6)
	assert.InDelta(t, 0, s.V.Data[1], 1e-6)
	s = Leading(W, 5)
	require.Equal(t, []int{2, 3}, s.V.Shape)
	assert.InDelta(t, 1, math.Abs(float64(s.V.Data[4])), 1e-6)
	assert.InDelta(t, 1, s.U.Data[3]*s.V.Data[4], 1e-6)

	// The transpose takes the other Gram matrix: the same triples, sides swapped.
	Wt := &model.Tensor{Shape: []int{3, 2}, Data: []float32{3, 0, 0, 1, 0, 0}}
	s = Leading(Wt, 2)
	require.Equal(t, []int{2, 3}, s.U.Shape)
	require.Equal(t, []int{2, 2}, s.V.Shape)
	assert.InDelta(t, 1, s.U.Data[0]*s.V.Data[0], 1e-6)
	assert.InDelta(t, 1, s.U.Data[4]*s.V.Data[3], 1e-6)
}

// TestLeadingRebuildsRandom: on a random 5×9 and its transpose, Σ_k σ_k·u_k·v_kᵀ with every direction
// kept rebuilds W, and the rows are orthonormal.
func TestLeadingRebuildsRandom(t *testing.T) {
	for _, shape := range [][2]int{{5, 9}, {9, 5}} {
		out, in := shape[0], shape[1]
		W := model.NewTensor(out, in)
		rng := rand.New(rand.NewPCG(uint64(out), 5))
		for i := range W.Data {
			W.Data[i] = float32(rng.NormFloat64())
		}
		s := Leading(W, min(out, in))
		k := s.V.Shape[0]
		require.Equal(t, min(out, in), k)
		for o := range out {
			for i := range in {
				// σ_k = u_kᵀ·W·v_k.
				var rec float64
				for j := range k {
					var sigma float64
					for a := range out {
						for b := range in {
							sigma += float64(s.U.Data[j*out+a]) * float64(W.Data[a*in+b]) * float64(s.V.Data[j*in+b])
						}
					}
					rec += sigma * float64(s.U.Data[j*out+o]) * float64(s.V.Data[j*in+i])
				}
				require.InDelta(t, float64(W.Data[o*in+i]), rec, 1e-4, "%v W[%d][%d]", shape, o, i)
			}
		}
		for a := range k {
			for b := range k {
				var du, dv float64
				for o := range out {
					du += float64(s.U.Data[a*out+o]) * float64(s.U.Data[b*out+o])
				}
				for i := range in {
					dv += float64(s.V.Data[a*in+i]) * float64(s.V.Data[b*in+i])
				}
				want := 0.0
				if a == b {
					want = 1
				}
				require.InDelta(t, want, du, 1e-5)
				require.InDelta(t, want, dv, 1e-5)
			}
		}
	}
}

// TestFoldHandCase: with V = e1 and U = e2 the projected ΔW is ΔW with column 0 and row 1 zeroed.
func TestFoldHandCase(t *testing.T) {
	mc := model.Config{HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 1, NumAttentionHeads: 2, VocabSize: 32}
	a := testkit.RandomAdapter(t, mc, "a", 2, 1, 0.3)
	m := lora.Module{Layer: 0, Name: "q_proj"}
	before := a.DeltaW(m)
	V := model.NewTensor(1, 16)
	V.Data[0] = 1
	U := model.NewTensor(1, 16)
	U.Data[1] = 1
	p := &Projected{Adapter: a, Sub: map[lora.Module]Subspace{m: {U: U, V: V}}}
	p.Fold()
	after := a.DeltaW(m)
	for o := range 16 {
		for i := range 16 {
			want := before.Data[o*16+i]
			if o == 1 || i == 0 {
				want = 0
			}
			require.InDelta(t, want, after.Data[o*16+i], 1e-6, "ΔW[%d][%d]", o, i)
		}
	}
	assert.Empty(t, p.Sub)
	// Other modules are untouched.
	other := lora.Module{Layer: 0, Name: "v_proj"}
	assert.Equal(t, testkit.RandomAdapter(t, mc, "a", 2, 1, 0.3).DeltaW(other), a.DeltaW(other))
}

// TestForwardMatchesFold: the projecting forward pass equals the plain adapter after Fold (the trained
// model and the folded one agree).
func TestForwardMatchesFold(t *testing.T) {
	m := testmodel.Tiny(t, testmodel.Config(48), 3)
	a := testkit.RandomAdapter(t, m.Config, "a", 4, 2, 0.2)
	p := &Projected{Adapter: a, Sub: map[lora.Module]Subspace{}}
	for _, mod := range a.Modules() {
		p.Sub[mod] = Leading(m.Weights[model.ModuleWeightName(mod.Layer, mod.Name)], 8)
	}
	seqs := [][]int{{1, 2, 3, 4, 5}, {7, 8, 9}}
	m.SetAdapter(p)
	got, err := m.Logits(seqs)
	require.NoError(t, err)
	p.Fold()
	m.SetAdapter(a)
	want, err := m.Logits(seqs)
	require.NoError(t, err)
	m.SetAdapter(nil)
	plain, err := m.Logits(seqs)
	require.NoError(t, err)
	var diff, moved float64
	for b := range want {
		for t := range want[b] {
			for v := range want[b][t] {
				diff = math.Max(diff, math.Abs(float64(got[b][t][v]-want[b][t][v])))
				moved = math.Max(moved, math.Abs(float64(want[b][t][v]-plain[b][t][v])))
			}
		}
	}
	assert.Less(t, diff, 1e-5)
	assert.Greater(t, moved, 1e-3, "the adapter changes the outputs")
}

// TestTwoRounds: round 2's ΔW is orthogonal, on both sides, to the leading singular directions of the
// weights it started from, and the task is still learned.
func TestTwoRounds(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 15, BatchSize: 8, Seed: 4}
	var adapters []*lora.Adapter
	s := New(Config{Train: &tc, OnAdapter: func(round int, a *lora.Adapter, res lora.Result) error {
		adapters = append(adapters, a.Clone())
		assert.Less(t, res.Loss, res.FirstLoss, "round %d learns", round+1)
		return nil
	}})
	l := testkit.ColourLearner(t)
	var logs bytes.Buffer
	l.Progress = &logs
	require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: 0, Task: tasks[0]}))
	start := l.Model.Weights.Clone()
	require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: 1, Task: tasks[1]}))
	assert.Contains(t, logs.String(), "osf round 2 (mo)")
	a := adapters[1]
	for _, m := range a.Modules() {
		W := start[model.ModuleWeightName(m.Layer, m.Name)]
		sub := Leading(W, int(math.Ceil(0.5*float64(min(W.Shape[0], W.Shape[1])))))
		dw := a.DeltaW(m)
		out, in := dw.Shape[0], dw.Shape[1]
		var size, right, left float64
		for _, v := range dw.Data {
			size += float64(v) * float64(v)
		}
		for k := range sub.V.Shape[0] {
			for o := range out {
				var d float64
				for i := range in {
					d += float64(dw.Data[o*in+i]) * float64(sub.V.Data[k*in+i])
				}
				right += d * d
			}
			for i := range in {
				var d float64
				for o := range out {
					d += float64(sub.U.Data[k*out+o]) * float64(dw.Data[o*in+i])
				}
				left += d * d
			}
		}
		require.Positive(t, size, m.Path())
		assert.Less(t, right, 1e-8*size, "%s: ΔW·V_k", m.Path())
		assert.Less(t, left, 1e-8*size, "%s: U_kᵀ·ΔW", m.Path())
	}
	assert.Equal(t, 16, s.History[1].Kept, "half of min(out, in) = 32 of the largest modules")
}

func TestResumeThroughRun(t *testing.T) {
	tasks := []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 8, Seed: 4}
	dir := t.TempDir()
	s := New(Config{Keep: 0.25, Train: &tc})
	_, err := accrete.Run(context.Background(), testkit.ColourLearner(t), s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "round-02", "state", HistoryFile))
	r := New(Config{Keep: 0.25, Train: &tc})
	_, err = accrete.Run(context.Background(), testkit.ColourLearner(t), r, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	assert.Equal(t, s.History, r.History)
	err = New(Config{}).LoadState(filepath.Join(dir, "round-02", "state"), nil)
	assert.ErrorContains(t, err, "keep=0.25")
}

func TestConfigValidateAndName(t *testing.T) {
	assert.ErrorContains(t, Config{Keep: 1}.Validate(), "Keep must")
	assert.ErrorContains(t, Config{Keep: -0.5}.Validate(), "Keep must")
	assert.ErrorContains(t, Config{LoRA: &lora.Config{Rank: -1}}.Validate(), "Config.LoRA")
	assert.Equal(t, "osf keep=0.5", New(Config{}).Name())
	assert.Equal(t, "osf keep=0.25", New(Config{Keep: 0.25}).Name())
	assert.Equal(t, Config{Keep: 0.3}, New(Config{Keep: 0.3}).Settings())
}
