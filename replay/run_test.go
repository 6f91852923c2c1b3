package replay

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model/tokenizer"
)

// TestWithRunAndSequential drives Wrap(accrete.Sequential) through accrete.Run on a tiny model: the
// base trains on the mixed sets, and the buffer travels with Run's checkpoints.
func TestWithRunAndSequential(t *testing.T) {
	tasks := []accrete.Task{task("a", 8), task("b", 6), task("c", 4)}
	texts := []string{"The llama learns new facts.", "The llama forgets old facts.", "Replay keeps a few old facts around."}
	for i := range tasks {
		tasks[i].Metric = eval.ExactMatch
		tasks[i].Test = tasks[i].Train[:1]
		for _, e := range tasks[i].Train {
			texts = append(texts, e.Prompt+" "+e.Answer)
		}
	}
	tok, err := tokenizer.Train(texts, 300, tokenizer.TrainOptions{})
	require.NoError(t, err)
	cfg := testmodel.Config(0)
	cfg.NumKeyValueHeads = 0 // as many as the attention heads
	l := testkit.Learner(t, tok, cfg, rand.New(rand.NewPCG(1, 1)), 0.1)
	l.LoRA = lora.Config{Rank: 2}
	l.Train = lora.TrainConfig{Epochs: 1, BatchSize: 16}

	var sizes []int
	base := accrete.Sequential{OnAdapter: func(round int, _ *lora.Adapter, res lora.Result) error {
		sizes = append(sizes, res.Steps)
		return nil
	}}
	dir := t.TempDir()
	var seen []int
	s := Wrap(accrete.StrategyFunc(func(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
		seen = append(seen, len(r.Task.Train))
		return base.Learn(ctx, l, r)
	}), Config{Ratio: 0.5, Budget: 5, Seed: 2})
	mat, err := accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	assert.Len(t, sizes, 3)
	assert.Equal(t, []int{8, 6 + 3, 4 + 2*2}, seen, "Run hands the history; each earlier task adds round(0.5·n)")
	assert.NotNil(t, mat)
	assert.FileExists(t, filepath.Join(dir, "round-02", "state", BufferFile))
}
