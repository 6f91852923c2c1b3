package accrete_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

var colours = []string{"red", "blue", "green", "black", "white", "pink", "gold", "grey"}

// tinyTask is a task of made-up facts: "code N of NAME?" → a colour.
func tinyTask(name string, n int, seed uint64) accrete.Task {
	rng := rand.New(rand.NewPCG(seed, 9))
	var items []accrete.Example
	for i := range n {
		items = append(items, accrete.Example{
			ID:          fmt.Sprintf("%s-%d", name, i),
			Prompt:      fmt.Sprintf("%s %d?", name, i),
			Answer:      colours[rng.IntN(len(colours))],
			Paraphrases: []string{fmt.Sprintf("what is %s %d?", name, i)},
		})
	}
	return accrete.Task{Name: name, Metric: eval.ExactMatch, Train: items, Test: items}
}

func tinyLearner(t testing.TB, seed uint64) *accrete.Learner {
	t.Helper()
	var corpus []string
	for _, n := range []string{"ka", "mo", "zu"} {
		for i := range 12 {
			corpus = append(corpus, eval.DefaultTemplate.Format(fmt.Sprintf("%s %d?", n, i)), "what is "+n)
		}
	}
	for _, c := range colours {
		corpus = append(corpus, eval.DefaultTemplate.FormatAnswer(c))
	}
	tok, err := tokenizer.Train(corpus, 300, tokenizer.TrainOptions{})
	require.NoError(t, err)
	cfg := model.Config{HiddenSize: 32, IntermediateSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		VocabSize: tok.VocabSize(), TieWordEmbeddings: true}
	b, err := model.Backend()
	require.NoError(t, err)
	m, err := model.New(b, cfg, model.RandomWeights(cfg, rand.New(rand.NewPCG(seed, 1)), 0.05, 0))
	require.NoError(t, err)
	l, err := accrete.NewLearner(m, tok)
	require.NoError(t, err)
	l.LoRA = lora.Config{Rank: 8, Seed: seed}
	l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 25, BatchSize: 8, Seed: seed}
	return l
}

func TestCooperationSettingsAreEnforced(t *testing.T) {
	l := tinyLearner(t, 1)
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2), tinyTask("zu", 4, 3)}
	var seen [][]string
	semi := accrete.StrategyFunc(func(_ context.Context, _ *accrete.Learner, r accrete.Round) error {
		require.Nil(t, r.History, "a semi-cooperative strategy must not see earlier data")
		return nil
	})
	_, err := accrete.Run(context.Background(), l, semi, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	full := fullStrategy{func(r accrete.Round) {
		var names []string
		for _, h := range r.History {
			names = append(names, h.Name)
		}
		seen = append(seen, names)
	}}
	_, err = accrete.Run(context.Background(), l, full, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, [][]string{nil, {"ka"}, {"ka", "mo"}}, seen)
}

type fullStrategy struct{ f func(accrete.Round) }

func (s fullStrategy) Learn(_ context.Context, _ *accrete.Learner, r accrete.Round) error {
	s.f(r)
	return nil
}
func (fullStrategy) FullyCooperative() bool { return true }

func TestSequentialLoRALearnsEachRound(t *testing.T) {
	l := tinyLearner(t, 2)
	tasks := []accrete.Task{tinyTask("ka", 12, 1), tinyTask("mo", 12, 2)}
	mat, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, mat.Rounds())
	t.Logf("base %v, trained phrasings %v (held out %v)", mat.BaseTrained, mat.Trained, mat.R)
	require.Less(t, mat.BaseTrained[0], 0.5)
	require.Greater(t, mat.Trained[0][0], 0.9, "round 1 must learn task 1")
	require.Greater(t, mat.Trained[1][1], 0.9, "round 2 must learn task 2")
}

func TestEncodeEmitsEveryTrainedPhrasing(t *testing.T) {
	l := tinyLearner(t, 1)
	items := []accrete.Example{
		{Prompt: "ka 1?", Answer: "red", Phrasings: []string{"what is ka 1?", "ka 1"}, Paraphrases: []string{"mo 1?"},
			Novel: []string{"zu 1?"}},
		{Prompt: "mo 2?", Answer: "blue"},
	}
	enc := l.Encode(items)
	require.Len(t, enc, 4, "three trained phrasings of the first item, one of the second")
	tmpl := eval.DefaultTemplate
	for i, p := range []struct{ prompt, answer string }{{"ka 1?", "red"}, {"what is ka 1?", "red"}, {"ka 1", "red"}, {"mo 2?", "blue"}} {
		ctx := l.Tokenizer.Encode(tmpl.Format(p.prompt), true, false)
		require.Equal(t, len(ctx), enc[i].PromptLen, "sequence %d", i)
		require.Equal(t, ctx, enc[i].Tokens[:enc[i].PromptLen], "sequence %d", i)
		require.Equal(t, tmpl.Format(p.prompt)+tmpl.FormatAnswer(p.answer), l.Tokenizer.Decode(enc[i].Tokens), "sequence %d", i)
	}
}

// TestLogLikelihoodOfATextScoresEveryToken checks what BitsPerByte relies on: with an empty context
// every token of the text is scored, the first one (predicted from BOS) included.
func TestLogLikelihoodOfATextScoresEveryToken(t *testing.T) {
	l := tinyLearner(t, 1)
	texts := []string{"what is ka", "red", "blue green"}
	var pairs [][2]string
	for _, x := range texts {
		pairs = append(pairs, [2]string{"", x})
	}
	lls, ns, err := l.EvalModel().LogLikelihood(context.Background(), pairs)
	require.NoError(t, err)
	var bits float64
	for i, x := range texts {
		ids := l.Tokenizer.Encode(x, true, false)
		require.Equal(t, l.Tokenizer.BOS(), ids[0])
		lps, err := l.Model.TokenLogProbs([][]int{ids})
		require.NoError(t, err)
		var want float64
		for _, v := range lps[0] {
			want += float64(v)
		}
		require.Equal(t, len(ids)-1, ns[i], "every token after BOS")
		require.InDelta(t, want, lls[i], 1e-4, texts[i])
		bits -= want / math.Ln2
	}
	bpb, err := eval.BitsPerByte(context.Background(), l.EvalModel(), texts)
	require.NoError(t, err)
	require.InDelta(t, bits/float64(len("what is ka")+len("red")+len("blue green")), bpb, 1e-4)
}

func TestRunMeasuresTrainedPhrasingsAndBitsPerByte(t *testing.T) {
	l := tinyLearner(t, 5)
	l.Train.Epochs = 2
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2)}
	general := []string{"what is ka", "red blue", "green gold"}
	mat, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks, accrete.RunOptions{
		GeneralText: general, Knowledge: []accrete.Task{tinyTask("zu", 3, 3)}})
	require.NoError(t, err)
	require.NoError(t, mat.Validate())
	require.Len(t, mat.Trained, 2)
	require.Len(t, mat.BaseTrained, 2)
	require.Len(t, mat.BPB, 2)
	base, err := eval.BitsPerByte(context.Background(), tinyLearner(t, 5).EvalModel(), general)
	require.NoError(t, err)
	require.InDelta(t, base, mat.BaseBPB, 1e-6)
	final, err := eval.BitsPerByte(context.Background(), l.EvalModel(), general)
	require.NoError(t, err)
	require.InDelta(t, final, mat.BPB[1], 1e-6)
	require.InDelta(t, final-base, mat.DeltaBPB(), 1e-6)
	require.Len(t, l.History, 2)
	require.Equal(t, mat.BPB[1], l.History[1].BPB)
	require.Equal(t, mat.Trained[1], l.History[1].Trained)
	require.Equal(t, mat.Knowledge[1], l.History[1].Knowledge)

	// The trained-phrasing row is the score on each task's Prompt; R the score on its paraphrases.
	s, err := eval.Score(context.Background(), l.EvalModel(), tasks[0], eval.Options{})
	require.NoError(t, err)
	require.Equal(t, s.Trained, mat.Trained[1][0])
	require.Equal(t, s.HeldOut, mat.R[1][0])

	// Without general text, nothing is measured.
	mat, err = accrete.Run(context.Background(), tinyLearner(t, 5), accrete.StrategyFunc(
		func(context.Context, *accrete.Learner, accrete.Round) error { return nil }), tasks, accrete.RunOptions{})
	require.NoError(t, err)
	require.Nil(t, mat.BPB)
	require.True(t, math.IsNaN(mat.BaseBPB))
}

func TestFailedRoundRestoresWeights(t *testing.T) {
	l := tinyLearner(t, 3)
	before := l.Model.Weights.Clone()
	boom := errors.New("boom")
	s := accrete.StrategyFunc(func(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
		for _, w := range l.Model.Weights {
			w.Data[0] += 1
		}
		return boom
	})
	_, err := accrete.Run(context.Background(), l, s, []accrete.Task{tinyTask("ka", 4, 1)}, accrete.RunOptions{})
	require.ErrorIs(t, err, boom)
	for name, w := range l.Model.Weights {
		require.Equal(t, before[name].Data, w.Data, name)
	}
}

// TestResumeAfterInterruption kills a run in round 2 and resumes it from its checkpoints: the matrix
// must equal an uninterrupted run's.
func TestResumeAfterInterruption(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 8, 1), tinyTask("mo", 8, 2), tinyTask("zu", 8, 3)}
	opts := accrete.RunOptions{GeneralText: []string{"what is ka", "red blue"}}
	want, err := accrete.Run(context.Background(), tinyLearner(t, 4), accrete.Sequential{}, tasks, opts)
	require.NoError(t, err)

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opts.CheckpointDir = dir
	l := tinyLearner(t, 4)
	l.Progress = &cancelAt{match: "round 3/3", cancel: cancel}
	_, err = accrete.Run(ctx, l, accrete.Sequential{}, tasks, opts)
	require.ErrorIs(t, err, context.Canceled)

	got, err := accrete.Run(context.Background(), tinyLearner(t, 4), accrete.Sequential{}, tasks, opts)
	require.NoError(t, err)
	require.Equal(t, want.R, got.R)
	require.Equal(t, want.Base, got.Base)
	require.Equal(t, want.Trained, got.Trained)
	require.Equal(t, want.BaseTrained, got.BaseTrained)
	require.Equal(t, want.BPB, got.BPB)
	require.Equal(t, want.BaseBPB, got.BaseBPB)
}

// TestResumeFromAnOlderCheckpoint resumes from a checkpoint written before trained-phrasing scores and
// bits per byte were recorded: the rounds it holds get NaN for them, the later rounds their values.
func TestResumeFromAnOlderCheckpoint(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2)}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	opts := accrete.RunOptions{GeneralText: []string{"what is ka"}, CheckpointDir: dir}
	l := tinyLearner(t, 7)
	l.Train.Epochs = 2
	l.Progress = &cancelAt{match: "round 2/2", cancel: cancel}
	_, err := accrete.Run(ctx, l, accrete.Sequential{}, tasks, opts)
	require.ErrorIs(t, err, context.Canceled)

	// Rewrite round 1's run.json as an older version wrote it: without the run's record.
	path := filepath.Join(dir, "round-01", "run.json")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var meta map[string]any
	require.NoError(t, json.Unmarshal(b, &meta))
	require.Contains(t, meta, "record")
	delete(meta, "record")
	m := meta["matrix"].(map[string]any)
	for _, k := range []string{"trained", "base_trained", "bpb", "base_bpb"} {
		require.Contains(t, m, k)
		delete(m, k)
	}
	b, err = json.Marshal(meta)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))

	l = tinyLearner(t, 7)
	l.Train.Epochs = 2
	var log strings.Builder
	l.Progress = &log
	got, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks, opts)
	require.NoError(t, err)
	require.Contains(t, log.String(), "has no record of what it is a run of", "an old checkpoint resumes with a warning")
	require.NoError(t, got.Validate())
	require.Len(t, got.Trained, 2)
	require.True(t, math.IsNaN(got.Trained[0][0]))
	require.False(t, math.IsNaN(got.Trained[1][1]))
	require.Len(t, got.BPB, 2)
	require.True(t, math.IsNaN(got.BPB[0]))
	require.False(t, math.IsNaN(got.BPB[1]))
	require.True(t, math.IsNaN(got.BaseBPB))
	require.Nil(t, got.BaseTrained)
}

func TestSequentialKeepsEachRoundsAdapterInTheStore(t *testing.T) {
	l := tinyLearner(t, 6)
	l.Train.Epochs = 2
	st, err := lora.OpenStore(t.TempDir(), lora.Fingerprint(l.Model.Config, l.Base()))
	require.NoError(t, err)
	l.Store = st
	var trained []*lora.Adapter
	s := accrete.Sequential{OnAdapter: func(_ int, a *lora.Adapter, _ lora.Result) error {
		trained = append(trained, a.Clone())
		return nil
	}}
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2)}
	_, err = accrete.Run(context.Background(), l, s, tasks, accrete.RunOptions{})
	require.NoError(t, err)
	metas := st.List()
	require.Len(t, metas, 2)
	require.Equal(t, []string{"r01-ka", "r02-mo"}, []string{metas[0].Name, metas[1].Name})
	require.Equal(t, "mo", metas[1].Task)
	for i, m := range metas {
		a, _, err := st.Get(m.Name, l.Model.Config)
		require.NoError(t, err)
		for mod, b := range trained[i].B {
			require.Equal(t, b.Data, a.B[mod].Data)
			require.Equal(t, trained[i].A[mod].Data, a.A[mod].Data)
		}
	}
	require.Len(t, l.History, 2)
	require.Equal(t, "mo", l.History[1].Task)
	require.Equal(t, "sequential-lora", l.History[1].Strategy)
}

func TestJointRefusesAnUnknownMode(t *testing.T) {
	l := tinyLearner(t, 1)
	err := accrete.Joint{Mode: "qlora"}.Learn(context.Background(), l, accrete.Round{Task: accrete.Task{Name: "t"}})
	require.ErrorContains(t, err, `accrete: Joint: unknown Mode "qlora" (lora or fft)`)
}

func TestValidateOverrides(t *testing.T) {
	require.NoError(t, accrete.ValidateOverrides(nil, nil))
	require.ErrorContains(t, accrete.ValidateOverrides(&lora.Config{Rank: -1}, nil), "Config.LoRA: ")
	require.ErrorContains(t, accrete.ValidateOverrides(nil, &lora.TrainConfig{LearningRate: -1}), "Config.Train: ")
}
