package replay

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
)

// recorder is a base strategy that records the rounds it is given.
type recorder struct{ rounds []accrete.Round }

func (r *recorder) Learn(_ context.Context, _ *accrete.Learner, rd accrete.Round) error {
	r.rounds = append(r.rounds, rd)
	return nil
}

// fcRecorder is a fully cooperative recorder.
type fcRecorder struct{ recorder }

func (*fcRecorder) FullyCooperative() bool { return true }

// statefulRecorder saves and loads the number of rounds it has seen.
type statefulRecorder struct {
	recorder
	loaded string
}

func (s *statefulRecorder) SaveState(dir string) error {
	return os.WriteFile(filepath.Join(dir, "n"), []byte(strings.Repeat("x", len(s.rounds))), 0o644)
}

func (s *statefulRecorder) LoadState(dir string, _ *accrete.Learner) error {
	b, err := os.ReadFile(filepath.Join(dir, "n"))
	s.loaded = string(b)
	return err
}

func task(name string, n int) accrete.Task {
	return accrete.Task{Name: name, Train: items(name, n), Test: items(name+"-test", 2)}
}

func countByTask(exs []accrete.Example) map[string]int {
	out := map[string]int{}
	for _, e := range exs {
		out[e.ID[:strings.IndexByte(e.ID, '-')]]++
	}
	return out
}

func TestRatioCounts(t *testing.T) {
	history := []accrete.Task{task("small", 3), task("big", 40), task("empty", 0)}
	for _, tc := range []struct {
		ratio   float64
		n, want int
	}{
		{0.25, 20, 5}, // the small task repeats
		{0.1, 15, 2},  // round(1.5) = 2
		{0, 20, 2},    // default 0.1
		{1, 12, 12},   // the small task four times over
		{0.01, 20, 0}, // round(0.2) = 0
		{2.5, 4, 10},  // more than the current task
		{0.5, 80, 40}, // all of the big task, no repetition
	} {
		rec := &recorder{}
		s := Wrap(rec, Config{Ratio: tc.ratio, Seed: 1})
		cur := task("cur", tc.n)
		require.NoError(t, s.Learn(context.Background(), nil, accrete.Round{Index: 3, Task: cur, History: history}))
		got := rec.rounds[0].Task
		counts := countByTask(got.Train)
		assert.Equal(t, tc.n, counts["cur"], "ratio %g: the current task whole", tc.ratio)
		assert.Equal(t, tc.want, counts["small"], "ratio %g n %d", tc.ratio, tc.n)
		assert.Equal(t, tc.want, counts["big"], "ratio %g n %d", tc.ratio, tc.n)
		assert.Zero(t, counts["empty"])
		assert.Len(t, got.Train, tc.n+2*tc.want)
		assert.Equal(t, cur.Test, got.Test)
		assert.Equal(t, cur.Name, got.Name)
		assert.Equal(t, 3, rec.rounds[0].Index)
		// Repetition is as even as it can be, and the big task is drawn without repetition.
		per := map[string]int{}
		for _, e := range got.Train {
			per[e.ID]++
		}
		for id, c := range per {
			switch {
			case strings.HasPrefix(id, "small-"):
				assert.InDelta(t, float64(tc.want)/3, c, 1, id)
			case strings.HasPrefix(id, "big-"), strings.HasPrefix(id, "cur-"):
				assert.Equal(t, 1, c, id)
			}
		}
	}
}

func TestDeterministicAndReshuffled(t *testing.T) {
	history := []accrete.Task{task("a", 30), task("b", 7)}
	cur := task("cur", 20)
	mixed := func(seed uint64, index int) []string {
		rec := &recorder{}
		require.NoError(t, Wrap(rec, Config{Ratio: 0.3, Seed: seed}).Learn(context.Background(), nil,
			accrete.Round{Index: index, Task: cur, History: history}))
		return ids(rec.rounds[0].Task.Train)
	}
	assert.Equal(t, mixed(1, 2), mixed(1, 2))
	assert.NotEqual(t, mixed(1, 2), mixed(2, 2))
	assert.NotEqual(t, mixed(1, 2), mixed(1, 3), "each round has its own draw and order")
	assert.NotEqual(t, ids(cur.Train), mixed(1, 2)[:20], "the mixed set is shuffled")
}

func TestNeverMutatesInputs(t *testing.T) {
	history := []accrete.Task{task("a", 5), task("b", 9)}
	cur := task("cur", 10)
	hCopy := slices.Clone(history)
	trainCopy := slices.Clone(cur.Train)
	aCopy := slices.Clone(history[0].Train)
	for _, budget := range []int{0, 4} {
		base := accrete.StrategyFunc(func(_ context.Context, _ *accrete.Learner, r accrete.Round) error {
			for i := range r.Task.Train { // a base that scribbles over what it is given
				r.Task.Train[i].Answer = "changed"
			}
			return nil
		})
		require.NoError(t, Wrap(base, Config{Ratio: 2, Budget: budget}).Learn(context.Background(), nil,
			accrete.Round{Index: 2, Task: cur, History: history}))
		assert.Equal(t, hCopy, history)
		assert.Equal(t, trainCopy, cur.Train)
		assert.Equal(t, aCopy, history[0].Train)
	}
}

func TestHistoryOnlyForFullyCooperativeBases(t *testing.T) {
	history := []accrete.Task{task("a", 5)}
	semi := &recorder{}
	s := Wrap(semi, Config{})
	var fc accrete.FullyCooperative = s
	assert.True(t, fc.FullyCooperative())
	require.NoError(t, s.Learn(context.Background(), nil, accrete.Round{Index: 1, Task: task("cur", 10), History: history}))
	assert.Nil(t, semi.rounds[0].History)

	full := &fcRecorder{}
	require.NoError(t, Wrap(full, Config{}).Learn(context.Background(), nil, accrete.Round{Index: 1, Task: task("cur", 10), History: history}))
	assert.Equal(t, history, full.rounds[0].History)
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		base accrete.Strategy
		want string
	}{
		{accrete.Sequential{}, "replay(sequential-lora)"},
		{accrete.Sequential{Mode: accrete.ModeFFT}, "replay(sequential-fft)"},
		{accrete.Joint{}, "replay(joint-lora)"},
		{&recorder{}, "replay(*replay.recorder)"},
		{Wrap(accrete.Sequential{}, Config{}), "replay(replay(sequential-lora))"},
	} {
		assert.Equal(t, tc.want, Wrap(tc.base, Config{}).Name())
	}
}

func TestValidate(t *testing.T) {
	assert.ErrorContains(t, Config{Ratio: -0.1}.Validate(), "Config.Ratio")
	assert.ErrorContains(t, Config{Ratio: math.Inf(1)}.Validate(), "Config.Ratio")
	assert.ErrorContains(t, Config{Ratio: 1e9}.Validate(), "Config.Ratio must be in [0, 100], got 1e+09")
	assert.ErrorContains(t, Config{Budget: -1}.Validate(), "Config.Budget")
	rec := &recorder{}
	err := Wrap(rec, Config{Ratio: math.NaN()}).Learn(context.Background(), nil, accrete.Round{Task: task("cur", 3)})
	assert.ErrorContains(t, err, "Config.Ratio")
	assert.Empty(t, rec.rounds)
}

func TestBudget(t *testing.T) {
	tasks := []accrete.Task{task("a", 30), task("b", 25), task("c", 20), task("d", 10)}
	rec := &recorder{}
	s := Wrap(rec, Config{Ratio: 0.5, Budget: 12, Seed: 3})
	for i, tk := range tasks {
		require.NoError(t, s.Learn(context.Background(), nil, accrete.Round{Index: i, Task: tk, History: tasks[:i]}))
		counts := countByTask(rec.rounds[i].Task.Train)
		assert.Equal(t, len(tk.Train), counts[tk.Name[:1]])
		replayed := len(rec.rounds[i].Task.Train) - len(tk.Train)
		per := int(math.Round(0.5 * float64(len(tk.Train))))
		assert.Equal(t, per*i, replayed, "round %d", i)
		distinct := map[string]bool{}
		for _, e := range rec.rounds[i].Task.Train {
			if !strings.HasPrefix(e.ID, tk.Name+"-") {
				distinct[e.ID] = true
				assert.Less(t, int(e.ID[0]-'a'), i, "only earlier tasks are replayed")
			}
		}
		assert.LessOrEqual(t, len(distinct), 12, "at most Budget distinct replayed items")
	}
	// Rounds 2 and 3 replay from a full buffer: at most 12 distinct items, and all of them.
	distinct := map[string]bool{}
	for _, e := range rec.rounds[3].Task.Train {
		distinct[e.ID] = true
	}
	assert.Equal(t, 10+12, len(distinct))
}

func TestStateForwardingAndResume(t *testing.T) {
	tasks := []accrete.Task{task("a", 30), task("b", 25), task("c", 20)}
	for _, budget := range []int{0, 8} {
		cfg := Config{Ratio: 0.4, Budget: budget, Seed: 5}
		// Straight through.
		ref := &statefulRecorder{}
		s := Wrap(ref, cfg)
		for i, tk := range tasks {
			require.NoError(t, s.Learn(context.Background(), nil, accrete.Round{Index: i, Task: tk, History: tasks[:i]}))
		}
		// Two rounds, a save, a fresh strategy that loads, the third round.
		first := &statefulRecorder{}
		s1 := Wrap(first, cfg)
		for i, tk := range tasks[:2] {
			require.NoError(t, s1.Learn(context.Background(), nil, accrete.Round{Index: i, Task: tk, History: tasks[:i]}))
		}
		dir := t.TempDir()
		require.NoError(t, s1.SaveState(dir))
		assert.FileExists(t, filepath.Join(dir, BaseStateDir, "n"))
		if budget > 0 {
			assert.FileExists(t, filepath.Join(dir, BufferFile))
		} else {
			assert.NoFileExists(t, filepath.Join(dir, BufferFile))
		}
		second := &statefulRecorder{}
		s2 := Wrap(second, cfg)
		require.NoError(t, s2.LoadState(dir, nil))
		assert.Equal(t, "xx", second.loaded, "the base's state is forwarded")
		require.NoError(t, s2.Learn(context.Background(), nil, accrete.Round{Index: 2, Task: tasks[2], History: tasks[:2]}))
		assert.Equal(t, ids(ref.rounds[2].Task.Train), ids(second.rounds[0].Task.Train), "budget %d", budget)
		// Without any saved state the buffer is refilled from the history: the same round again.
		third := &recorder{}
		require.NoError(t, Wrap(third, cfg).Learn(context.Background(), nil, accrete.Round{Index: 2, Task: tasks[2], History: tasks[:2]}))
		assert.Equal(t, ids(ref.rounds[2].Task.Train), ids(third.rounds[0].Task.Train), "budget %d", budget)
	}
	t.Run("base error", func(t *testing.T) {
		boom := errors.New("boom")
		s := Wrap(accrete.StrategyFunc(func(context.Context, *accrete.Learner, accrete.Round) error { return boom }), Config{})
		assert.ErrorIs(t, s.Learn(context.Background(), nil, accrete.Round{Task: task("a", 2)}), boom)
		dir := t.TempDir()
		require.NoError(t, s.SaveState(dir), "a base without state saves nothing")
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries)
	})
	t.Run("corrupt buffer", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, BufferFile), []byte("{"), 0o644))
		err := Wrap(&recorder{}, Config{Budget: 3}).LoadState(dir, nil)
		assert.ErrorContains(t, err, BufferFile)
	})
}
