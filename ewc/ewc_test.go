package ewc

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

var smallConfig = model.Config{HiddenSize: 16, IntermediateSize: 24, NumHiddenLayers: 2, NumAttentionHeads: 2, VocabSize: 32}

// penaltyAndGrads evaluates Penalty and its gradient with respect to each of a's tensors, by name.
func penaltyAndGrads(t *testing.T, a *lora.Adapter, F Fisher, lambda float64) (float64, map[string][]float32) {
	t.Helper()
	return testkit.ValueAndGrads(t, a, func(p model.Params) *graph.Node { return Penalty(p, a, F, lambda) })
}

// TestPenaltyHandCase: one nonzero entry each in A and B gives one nonzero ΔW entry, s·b·a =
// 2·0.5·2 = 2 (rank 1, Alpha 2·rank: Scale 2), where F = 3: λ/2·3·2² = 3 at λ = 0.5, with gradients
// λ·F·ΔW·s·a = 12 on that B entry and λ·F·ΔW·s·b = 3 on that A entry, and 0 elsewhere. The second
// layer's module has no Fisher and adds nothing.
func TestPenaltyHandCase(t *testing.T) {
	a, err := lora.NewAdapter("new", smallConfig, lora.Config{Rank: 1, TargetModules: []string{"q_proj"}})
	require.NoError(t, err)
	m0, m1 := lora.Module{Layer: 0, Name: "q_proj"}, lora.Module{Layer: 1, Name: "q_proj"}
	clear(a.A[m0].Data)
	a.A[m0].Data[1] = 2   // A[0][1]
	a.B[m0].Data[3] = 0.5 // B[3][0]
	for i := range a.B[m1].Data {
		a.B[m1].Data[i] = 0.7
	}
	f := model.NewTensor(16, 16)
	for i := range f.Data {
		f.Data[i] = 1
	}
	f.Data[3*16+1] = 3
	F := Fisher{m0: f}
	assert.InDelta(t, 6.0, Quadratic(a, F), 1e-9)
	v, g := penaltyAndGrads(t, a, F, 0.5)
	assert.InDelta(t, 3.0, v, 1e-5)
	gB, gA := g[a.TensorName(m0, "B")], g[a.TensorName(m0, "A")]
	for i, x := range gB {
		want := 0.0
		if i == 3 {
			want = 12
		}
		assert.InDelta(t, want, x, 1e-5, "dB[%d]", i)
	}
	for i, x := range gA {
		want := 0.0
		if i == 1 {
			want = 3
		}
		assert.InDelta(t, want, x, 1e-5, "dA[%d]", i)
	}
	assert.Equal(t, make([]float32, len(g[a.TensorName(m1, "B")])), g[a.TensorName(m1, "B")])

	// No Fisher at all: a zero scalar.
	v, _ = penaltyAndGrads(t, a, Fisher{}, 0.5)
	assert.Zero(t, v)
}

// TestFisherIsSquaredGradient compares FisherOf with the square of a central finite difference of the
// answer's log-likelihood, on the entries of largest Fisher, and checks that two sequences give the
// mean of their Fishers.
func TestFisherIsSquaredGradient(t *testing.T) {
	m := testmodel.Tiny(t, testmodel.Config(32), 1)
	mod := lora.Module{Layer: 0, Name: "v_proj"}
	ex := lora.Sequence{Tokens: []int{1, 5, 7, 9, 3, 11}, PromptLen: 3}
	F, n, err := FisherOf(context.Background(), m, []lora.Module{mod}, []lora.Sequence{ex}, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	f := F[mod]
	out, in := m.Config.ModuleShape("v_proj")
	require.Equal(t, []int{out, in}, f.Shape)

	ll := func() float64 {
		lps, err := m.TokenLogProbs([][]int{ex.Tokens})
		require.NoError(t, err)
		var s float64
		for _, v := range lps[0][ex.PromptLen-1:] {
			s += float64(v)
		}
		return s
	}
	w := m.Weights[model.ModuleWeightName(0, "v_proj")]
	order := make([]int, len(f.Data))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return -cmpF(f.Data[i], f.Data[j]) })
	const eps = 1e-2
	for _, i := range order[:3] {
		orig := w.Data[i]
		w.Data[i] = orig + eps
		m.UpdateWeights()
		up := ll()
		w.Data[i] = orig - eps
		m.UpdateWeights()
		down := ll()
		w.Data[i] = orig
		m.UpdateWeights()
		g := (up - down) / (2 * eps)
		require.Positive(t, f.Data[i])
		assert.InDelta(t, g*g, float64(f.Data[i]), 0.05*float64(f.Data[i]), "entry %d", i)
	}

	ex2 := lora.Sequence{Tokens: []int{2, 4, 6, 8}, PromptLen: 1}
	F2, _, err := FisherOf(context.Background(), m, []lora.Module{mod}, []lora.Sequence{ex2}, -1)
	require.NoError(t, err)
	both, n, err := FisherOf(context.Background(), m, []lora.Module{mod}, []lora.Sequence{ex, ex2}, -1)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for i := range f.Data {
		require.InDelta(t, (f.Data[i]+F2[mod].Data[i])/2, both[mod].Data[i], 1e-6*(1+float64(both[mod].Data[i])))
	}
}

func cmpF(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestAccumulateAndNormalize(t *testing.T) {
	m := lora.Module{Layer: 0, Name: "q_proj"}
	f := Fisher{m: {Shape: []int{1, 2}, Data: []float32{1, 3}}}
	f.Accumulate(Fisher{m: {Shape: []int{1, 2}, Data: []float32{2, 2}}}, 0.5)
	assert.Equal(t, []float32{2.5, 3.5}, f[m].Data)
	assert.InDelta(t, 3.0, f.Mean(), 1e-9)
	f.Normalize()
	assert.InDelta(t, 1.0, f.Mean(), 1e-6)
	assert.Panics(t, func() { f.Accumulate(Fisher{m: {Shape: []int{2, 1}, Data: []float32{1, 1}}}, 1) })
}

func colourTasks() []accrete.Task {
	return []accrete.Task{testkit.ColourTask("ka", 8, 1), testkit.ColourTask("mo", 8, 2)}
}

// TestTwoRounds: on the second round a large λ keeps the update smaller where the first round's Fisher
// is large than λ = 0 does, and the Fisher is recorded either way.
func TestTwoRounds(t *testing.T) {
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 15, BatchSize: 8, Seed: 4}
	quad := map[float64]float64{}
	for _, lambda := range []float64{0, 1000} {
		l := testkit.ColourLearner(t)
		var logs bytes.Buffer
		l.Progress = &logs
		s := New(Config{Lambda: lambda, Train: &tc})
		for i, task := range colourTasks() {
			require.NoError(t, s.Learn(context.Background(), l, accrete.Round{Index: i, Task: task}))
		}
		require.Len(t, s.History, 2)
		assert.Zero(t, s.History[0].Extra, "round 1 has no Fisher to be held to")
		assert.Positive(t, s.History[1].FisherMean)
		assert.Equal(t, 8, s.History[1].Samples)
		assert.Len(t, s.Fisher(), 2*7, "every target module of both layers")
		assert.Contains(t, logs.String(), "ewc round 2 (mo)")
		if lambda > 0 {
			assert.Positive(t, s.History[1].Extra)
		}
		quad[lambda] = s.History[1].Quadratic
		t.Logf("λ=%g: losses %.4g %.4g, ½ΣF·ΔW² %.4g", lambda, s.History[0].Loss, s.History[1].Loss, quad[lambda])
	}
	require.Positive(t, quad[0])
	assert.Less(t, quad[1000]*2, quad[0])
}

func TestStateAndResume(t *testing.T) {
	tasks := colourTasks()
	tc := lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 8, Seed: 4}
	cfg := Config{Lambda: 10, Samples: 4, Train: &tc}
	dir := t.TempDir()
	s := New(cfg)
	_, err := accrete.Run(context.Background(), testkit.ColourLearner(t), s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "round-02", "state", FisherFile))

	r := New(cfg)
	_, err = accrete.Run(context.Background(), testkit.ColourLearner(t), r, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	assert.Equal(t, s.History, r.History, "nothing retrained, the history restored")
	assert.Equal(t, s.Fisher(), r.Fisher())

	other := cfg
	other.Gamma = 0.5
	err = New(other).LoadState(filepath.Join(dir, "round-02", "state"), testkit.ColourLearner(t))
	assert.ErrorContains(t, err, "γ=1")
}

func TestConfigValidateAndName(t *testing.T) {
	assert.ErrorContains(t, Config{Lambda: -1}.Validate(), "Lambda must")
	assert.ErrorContains(t, Config{Lambda: math.Inf(1)}.Validate(), "Lambda must")
	assert.ErrorContains(t, Config{Gamma: 1.5}.Validate(), "Gamma must")
	assert.ErrorContains(t, Config{LoRA: &lora.Config{Rank: -1}}.Validate(), "Config.LoRA")
	assert.NoError(t, Config{Lambda: 100, Gamma: 0.9}.Validate())
	assert.Equal(t, "ewc λ=100", New(Config{Lambda: 100}).Name())
	assert.Equal(t, "ewc λ=100 γ=0.9 (raw)", New(Config{Lambda: 100, Gamma: 0.9, Raw: true}).Name())
	assert.Equal(t, Config{Lambda: 3}, New(Config{Lambda: 3}).Settings())
}
