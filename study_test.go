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

// The one-round settings of TestOneRoundGeneralises: the whole capitals pack, rank 16, 6 epochs; the
// rates are the ones that learn it on this model (LoRA at 1e-3 reaches 0.35, FFT at 1e-4 0.15).
const (
	oneRoundPack   = "capitals"
	oneRoundLRLoRA = 3e-3
	oneRoundLRFFT  = 3e-4
	oneRoundEpochs = 6
)

// TestOneRoundGeneralises checks issue 12's acquisition target on the shipped model: one round of LoRA,
// and one of full fine-tuning, on a whole new-knowledge pack (every item trained in its 4 phrasings)
// reaches at least 0.5 exact match on the held-out phrasings, which no training saw: new knowledge, not
// new strings. It also reports what the round cost in base facts (held-out) and bits per byte.
func TestOneRoundGeneralises(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a LoRA and a full fine-tuning round on the shipped model (about two minutes)")
	}
	base, tok, err := tiny.Load(nil)
	require.NoError(t, err)
	task, err := packs.Load(oneRoundPack, packs.Options{})
	require.NoError(t, err)
	know, err := packs.Base(packs.Options{Limit: 200})
	require.NoError(t, err)
	held := packs.HeldOutText()[:64]
	for _, tc := range []struct {
		mode accrete.Mode
		lr   float64
	}{{accrete.ModeLoRA, oneRoundLRLoRA}, {accrete.ModeFFT, oneRoundLRFFT}} {
		t.Run(string(tc.mode), func(t *testing.T) {
			m, err := model.New(base.Backend(), base.Config, base.Weights.Clone())
			require.NoError(t, err)
			l, err := accrete.NewLearner(m, tok)
			require.NoError(t, err)
			l.LoRA = lora.Config{Rank: 16, Seed: 1}
			l.Train = lora.TrainConfig{LearningRate: tc.lr, Epochs: oneRoundEpochs, BatchSize: 16, Seed: 1}
			mat, err := accrete.Run(context.Background(), l, accrete.Sequential{Mode: tc.mode}, []accrete.Task{task},
				accrete.RunOptions{Knowledge: []accrete.Task{know}, GeneralText: held})
			require.NoError(t, err)
			t.Logf("%s lr %g: %s held out %.3f (trained phrasings %.3f); base facts held out %.3f → %.3f; bpb %.3f → %.3f",
				tc.mode, tc.lr, task.Name, mat.R[0][0], mat.Trained[0][0], mat.BaseKnowledge, mat.Knowledge[0], mat.BaseBPB, mat.BPB[0])
			require.GreaterOrEqual(t, mat.R[0][0], 0.5, "held-out phrasings after one %s round", tc.mode)
		})
	}
}
