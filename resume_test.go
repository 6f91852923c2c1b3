package accrete_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
)

// cancelAt is a learner's Progress that cancels a run (an interruption, as kill -9 is between two
// writes) at the first write containing match, or, when match is "", at the k-th write (1-based).
// It counts writes in n.
type cancelAt struct {
	match  string
	k, n   int
	cancel context.CancelFunc
}

func (c *cancelAt) Write(p []byte) (int, error) {
	c.n++
	if c.cancel != nil && (c.match != "" && strings.Contains(string(p), c.match) || c.match == "" && c.n == c.k) {
		c.cancel()
	}
	return len(p), nil
}

// interrupted runs Sequential over tasks on l with a checkpoint in dir and stops it as round 2 starts.
func interrupted(t *testing.T, l *accrete.Learner, tasks []accrete.Task, dir string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l.Progress = &cancelAt{match: "round 2/", cancel: cancel}
	_, err := accrete.Run(ctx, l, accrete.Sequential{}, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.ErrorIs(t, err, context.Canceled)
	require.FileExists(t, filepath.Join(dir, "round-01", "run.json"))
}

func shortLearner(t *testing.T, seed uint64) *accrete.Learner {
	l := tinyLearner(t, seed)
	l.Train.Epochs = 1
	return l
}

// TestResumeRefusesAnotherRun: a checkpoint directory records what it is a run of, and a resume that
// differs in any of it is refused with the field named, unless ResumeMismatchOK.
func TestResumeRefusesAnotherRun(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2)}
	dir := t.TempDir()
	interrupted(t, shortLearner(t, 7), tasks, dir)

	otherBase := func() *accrete.Learner {
		l := shortLearner(t, 8)
		l.LoRA.Seed, l.Train.Seed = 7, 7
		return l
	}
	for _, c := range []struct {
		name    string
		learner func() *accrete.Learner
		s       accrete.Strategy
		tasks   []accrete.Task
		o       accrete.RunOptions
		want    string
	}{
		{name: "strategy", s: accrete.Sequential{Mode: accrete.ModeFFT},
			want: `strategy differs: checkpoint has "sequential-lora", this run "sequential-fft"`},
		{name: "strategy settings", s: accrete.Sequential{Train: &lora.TrainConfig{LearningRate: 1}},
			want: "strategy settings differs"},
		{name: "a task's items", tasks: []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 99)},
			want: `task 2 differs: checkpoint has "mo sha256:`},
		{name: "item limit", tasks: []accrete.Task{tinyTask("ka", 3, 1), tinyTask("mo", 4, 2)},
			want: `task 1 differs`},
		{name: "learning rate", learner: func() *accrete.Learner {
			l := shortLearner(t, 7)
			l.Train.LearningRate = 2e-2
			return l
		}, want: "learner training config differs"},
		{name: "rank", learner: func() *accrete.Learner {
			l := shortLearner(t, 7)
			l.LoRA.Rank = 4
			return l
		}, want: "learner LoRA config differs"},
		{name: "seed", learner: func() *accrete.Learner { l := shortLearner(t, 7); l.Train.Seed = 1; return l },
			want: `seed differs: checkpoint has "lora 7, train 7", this run "lora 7, train 1"`},
		{name: "template", learner: func() *accrete.Learner {
			l := shortLearner(t, 7)
			l.Template = eval.Template{Prompt: "Question: {prompt}\nAnswer:"}
			return l
		}, want: "template differs"},
		{name: "base model", learner: otherBase, want: `base model differs: checkpoint has "sha256:`},
		{name: "general text", o: accrete.RunOptions{GeneralText: []string{"red"}}, want: "general text differs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := shortLearner(t, 7)
			if c.learner != nil {
				l = c.learner()
			}
			s := c.s
			if s == nil {
				s = accrete.Sequential{}
			}
			ts := c.tasks
			if ts == nil {
				ts = tasks
			}
			before := l.Model.Weights.Clone()
			o := c.o
			o.CheckpointDir = dir
			_, err := accrete.Run(context.Background(), l, s, ts, o)
			require.ErrorContains(t, err, c.want)
			require.ErrorContains(t, err, "resume "+dir)
			for n, w := range before {
				require.Equal(t, w.Data, l.Model.Weights[n].Data, "a refused resume leaves the model alone: %s", n)
			}
		})
	}

	// ResumeMismatchOK continues, with the difference in the log.
	l := shortLearner(t, 7)
	l.Train.LearningRate = 2e-2
	var log strings.Builder
	l.Progress = &log
	mat, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks,
		accrete.RunOptions{CheckpointDir: dir, ResumeMismatchOK: true})
	require.NoError(t, err)
	require.Equal(t, 2, mat.Rounds())
	require.Contains(t, log.String(), "warning: resuming "+dir+" although its learner training config differs")
	require.Contains(t, log.String(), "resuming after round 1")
}

// TestResumeRemovesStaleTemporaryDirectories: a run killed while writing a checkpoint leaves a
// .round-* directory, which the next run removes (and does not resume from).
func TestResumeRemovesStaleTemporaryDirectories(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 4, 1), tinyTask("mo", 4, 2)}
	dir := t.TempDir()
	interrupted(t, shortLearner(t, 7), tasks, dir)
	stale := filepath.Join(dir, ".round-123456")
	require.NoError(t, os.MkdirAll(filepath.Join(stale, "model"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(stale, "model", ".model.safetensors.tmp-1"), []byte("half"), 0o644))
	mine := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(mine, []byte("mine"), 0o644))

	l := shortLearner(t, 7)
	var log strings.Builder
	l.Progress = &log
	_, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks, accrete.RunOptions{CheckpointDir: dir})
	require.NoError(t, err)
	require.NoDirExists(t, stale)
	require.FileExists(t, mine, "what is not ours stays")
	require.Contains(t, log.String(), "removed "+stale)
	left, err := filepath.Glob(filepath.Join(dir, ".*"))
	require.NoError(t, err)
	require.Empty(t, left)
}

// countdown is a context that is cancelled at its k-th Err call: every place the run checks for
// cancellation (each training step, each scoring call, each round) is a point where it can be
// stopped, as kill -9 can stop it anywhere. With k ≤ 0 it only counts the calls in n.
type countdown struct {
	context.Context
	k, n int
	done chan struct{}
}

func newCountdown(k int) *countdown {
	return &countdown{Context: context.Background(), k: k, done: make(chan struct{})}
}

func (c *countdown) Err() error {
	c.n++
	if c.k > 0 && c.n == c.k {
		close(c.done)
	}
	if c.k > 0 && c.n >= c.k {
		return context.Canceled
	}
	return nil
}

func (c *countdown) Done() <-chan struct{} { return c.done }

// TestResumeSoak interrupts a small study at random points (every cancellation check of the run is
// one: each training step, each scoring call, each round) and resumes each: every final matrix and
// every final weight must equal an uninterrupted run's. 50 points; 10 with -short.
func TestResumeSoak(t *testing.T) {
	tasks := []accrete.Task{tinyTask("ka", 3, 1), tinyTask("mo", 3, 2), tinyTask("zu", 3, 3)}
	opts := accrete.RunOptions{GeneralText: []string{"what is ka"}}
	learner := func() *accrete.Learner {
		l := tinyLearner(t, 11)
		l.Train = lora.TrainConfig{LearningRate: 1e-2, Epochs: 2, BatchSize: 2, Seed: 11}
		return l
	}
	l := learner()
	count := newCountdown(0)
	want, err := accrete.Run(count, l, accrete.Sequential{}, tasks, opts)
	require.NoError(t, err)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	wantW := l.Model.Weights
	checks := count.n
	require.Greater(t, checks, 20)

	points := 50
	if testing.Short() {
		points = 10
	}
	rng := rand.New(rand.NewPCG(16, 5))
	stopped := 0
	for p := range points {
		k := 1 + rng.IntN(checks)
		dir := t.TempDir()
		o := opts
		o.CheckpointDir = dir
		_, err := accrete.Run(newCountdown(k), learner(), accrete.Sequential{}, tasks, o)
		if err != nil {
			require.ErrorIs(t, err, context.Canceled, "point %d (check %d of %d)", p, k, checks)
			stopped++
		}
		l = learner()
		got, err := accrete.Run(context.Background(), l, accrete.Sequential{}, tasks, o)
		require.NoError(t, err, "point %d (check %d of %d)", p, k, checks)
		gotJSON, err := json.Marshal(got)
		require.NoError(t, err)
		require.JSONEq(t, string(wantJSON), string(gotJSON), "point %d (check %d of %d)", p, k, checks)
		for n, w := range wantW {
			require.Equal(t, w.Data, l.Model.Weights[n].Data, "point %d (check %d of %d): %s", p, k, checks, n)
		}
	}
	t.Logf("%d of %d points stopped the run (of %d cancellation checks)", stopped, points, checks)
	require.Greater(t, stopped, points/2)
}
