package accrete_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/orthlora"
	"github.com/accrete/accrete/packs"
	"github.com/accrete/accrete/replay"
)

// TestStudyOnShippedModel checks the claims on the shipped base model and knowledge packs over
// three rounds: replay retains round 1's task better than plain sequential LoRA; joint training's ACC
// is at least sequential's; O-LoRA with a large λ makes the new adapter's overlap with the past
// subspace, Σ|A_new·A_pastᵀ|, at least 10× smaller than λ = 0.
func TestStudyOnShippedModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 15 adapters on the shipped model (about a minute)")
	}
	base, tok, err := tiny.Load(nil)
	require.NoError(t, err)
	var tasks []accrete.Task
	for _, name := range []string{"capitals", "collectives", "continents"} {
		task, err := packs.Load(name, packs.Options{Limit: 16})
		require.NoError(t, err)
		tasks = append(tasks, task)
	}
	cache := accrete.NewAdapterCache()
	run := func(s accrete.Strategy) *eval.Matrix {
		m, err := model.New(base.Backend(), base.Config, base.Weights.Clone())
		require.NoError(t, err)
		l, err := accrete.NewLearner(m, tok)
		require.NoError(t, err)
		l.LoRA = lora.Config{Rank: 8, Seed: 1}
		l.Train = lora.TrainConfig{LearningRate: 5e-3, Epochs: 12, BatchSize: 8, Seed: 1}
		l.Cache = cache
		mat, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{})
		require.NoError(t, err)
		return mat
	}
	seq := run(accrete.Sequential{})
	rep := run(replay.Wrap(accrete.Sequential{}, replay.Config{Ratio: 0.5, Seed: 1}))
	joint := run(accrete.Joint{Upsample: true, Seed: 1})
	t.Logf("round 1's task after round 3: sequential %.3f, replay %.3f", seq.R[2][0], rep.R[2][0])
	t.Logf("ACC: sequential %.3f, joint %.3f", seq.ACC(), joint.ACC())
	require.Greater(t, rep.R[2][0], seq.R[2][0], "replay must retain round 1 better than sequential")
	require.GreaterOrEqual(t, joint.ACC(), seq.ACC(), "joint's ACC must be at least sequential's")

	free, strict := orthlora.New(orthlora.Config{Lambda: 0}), orthlora.New(orthlora.Config{Lambda: 5})
	run(free)
	run(strict)
	for i := 1; i < len(tasks); i++ {
		f, s := free.History[i].Overlap, strict.History[i].Overlap
		t.Logf("round %d overlap: λ=0 %.4g, λ=5 %.4g (%.0f× smaller)", i+1, f, s, f/s)
		require.Less(t, 10*s, f, "round %d", i+1)
	}
}
