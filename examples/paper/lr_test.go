package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
)

// fakeTask has n facts, each in Train and Test under one id, as the packs' tasks have.
func fakeTask(name string, n int) accrete.Task {
	t := accrete.Task{Name: name}
	for i := range n {
		id := fmt.Sprintf("%s-%03d", name, i)
		t.Train = append(t.Train, accrete.Example{ID: id, Prompt: "train " + id, Answer: "a"})
		t.Test = append(t.Test, accrete.Example{ID: id, Prompt: "test " + id, Answer: "a"})
	}
	return t
}

func keys(exs []accrete.Example) map[string]bool {
	m := map[string]bool{}
	for _, e := range exs {
		m[itemKey(e)] = true
	}
	return m
}

func requireDisjoint(t *testing.T, a, b map[string]bool, msg string) {
	t.Helper()
	for k := range a {
		require.False(t, b[k], "%s: %q on both sides", msg, k)
	}
}

func TestSplitValidationIsDisjoint(t *testing.T) {
	// A task whose Train and Test are other items, one without ids, one of a single item, one of two.
	disjoint := accrete.Task{Name: "custom"}
	for i := range 12 {
		disjoint.Train = append(disjoint.Train, accrete.Example{ID: fmt.Sprint("tr", i), Prompt: "p", Answer: "a"})
	}
	for i := range 8 {
		disjoint.Test = append(disjoint.Test, accrete.Example{ID: fmt.Sprint("te", i), Prompt: "p", Answer: "a"})
	}
	noIDs := accrete.Task{Name: "noids"}
	for i := range 10 {
		noIDs.Train = append(noIDs.Train, accrete.Example{Prompt: fmt.Sprint("q", i), Answer: "a"})
	}
	noIDs.Test = noIDs.Train
	tasks := []accrete.Task{fakeTask("a", 50), fakeTask("b", 7), disjoint, noIDs, fakeTask("one", 1), fakeTask("two", 2)}
	study, val := splitValidation(tasks, 1)
	require.Len(t, study, len(tasks))
	require.Len(t, val, len(tasks))
	for i, tk := range tasks {
		s, v := study[i], val[i]
		require.Empty(t, v.Train, tk.Name)
		requireDisjoint(t, keys(v.Test), keys(s.Train), tk.Name+": validation vs study training")
		requireDisjoint(t, keys(v.Test), keys(s.Test), tk.Name+": validation vs study test")
		held := keys(v.Test)
		assert.Equal(t, len(tk.Train)+len(tk.Test), len(s.Train)+len(s.Test)+count(tk.Train, held)+count(tk.Test, held),
			"%s: every item not held back stays in the study", tk.Name)
		assert.Equal(t, len(held), len(v.Test), "%s: each held-back item is scored once", tk.Name)
		if len(tk.Train) > 1 {
			assert.NotEmpty(t, s.Train, tk.Name)
			assert.NotEmpty(t, s.Test, tk.Name)
		}
	}
	assert.Len(t, val[0].Test, 10, "20% of 50")
	assert.Len(t, val[1].Test, 1, "round(1.4)")
	assert.Len(t, val[2].Test, 4, "20% of 20 items, from either side")
	assert.Empty(t, val[4].Test, "a single item is kept for the study")
	assert.Len(t, val[5].Test, 1)
	assert.Len(t, tasks[0].Train, 50, "the input is not changed")

	again, _ := splitValidation(tasks, 1)
	assert.Equal(t, study, again, "the split is seeded")
	other, _ := splitValidation(tasks, 2)
	assert.NotEqual(t, study[0].Train, other[0].Train, "another seed holds back other items")
}

// count is how many of exs have a key in set.
func count(exs []accrete.Example, set map[string]bool) int {
	n := 0
	for _, e := range exs {
		if set[itemKey(e)] {
			n++
		}
	}
	return n
}

func TestChooseRate(t *testing.T) {
	nan := math.NaN()
	pt := func(lr, acq, ret float64) eval.FrontierPoint {
		return eval.FrontierPoint{LearningRate: lr, Acquisition: acq, Retention: ret}
	}
	for _, tc := range []struct {
		name   string
		points []eval.FrontierPoint
		want   int
	}{
		{"mean of acquisition and retention", []eval.FrontierPoint{pt(1e-3, 0.1, 0.9), pt(3e-3, 0.6, 0.8), pt(1e-2, 0.9, 0.3)}, 1},
		{"acquisition alone without retention", []eval.FrontierPoint{pt(1e-3, 0.1, nan), pt(3e-3, 0.6, nan), pt(1e-2, 0.9, nan)}, 2},
		{"a tie goes to the lowest rate", []eval.FrontierPoint{pt(1e-2, 0.5, 0.5), pt(1e-3, 0.6, 0.4), pt(3e-3, 0.4, 0.6)}, 1},
		{"failed points are skipped", []eval.FrontierPoint{pt(1e-3, 0.1, 0.2), {LearningRate: 1e-2, Acquisition: 1, Retention: 1, Failed: "loss not finite"}}, 0},
		{"unscored points are skipped", []eval.FrontierPoint{pt(1e-3, nan, 1), pt(3e-3, 0, 0)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseRate(tc.points)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			for i, p := range tc.points {
				assert.Equal(t, i == tc.want, p.Chosen, "point %d", i)
			}
		})
	}
	_, err := chooseRate([]eval.FrontierPoint{{LearningRate: 1, Failed: "x", Acquisition: nan}})
	require.Error(t, err)
}

func TestFrontierPointOfARun(t *testing.T) {
	m := eval.NewMatrix([]string{"a"}, []float64{0}, 0.9)
	require.NoError(t, m.AddRound([]float64{0.7}, 0.6))
	p, err := frontierPoint(1e-3, m, nil)
	require.NoError(t, err)
	assert.Equal(t, []float64{0.7, 0.6}, []float64{p.Acquisition, p.Retention})
	p, err = frontierPoint(1e-2, nil, fmt.Errorf("round 1: %w", lora.ErrNonFinite))
	require.NoError(t, err, "a diverged rate is a failed point")
	assert.NotEmpty(t, p.Failed)
	assert.True(t, math.IsNaN(p.Acquisition))
	_, err = frontierPoint(1e-2, nil, context.Canceled)
	require.ErrorIs(t, err, context.Canceled)
}

// TestChooseRatesOnFakes runs the grid and the frontier with a fake trainer: each family gets the
// rate its fake scores favour, and no item the trainer trains on or scores is a study test item.
func TestChooseRatesOnFakes(t *testing.T) {
	all := []accrete.Task{fakeTask("a", 40), fakeTask("b", 40), fakeTask("c", 40)}
	base := []accrete.Task{fakeTask("base", 100)}
	study, val := splitValidation(all, 7)
	studyBase, valBase := splitValidation(base, 7)
	sampled := sampleTasks(study, 16, 7, 0)
	testItems := map[string]bool{}
	for _, tk := range append(sampleTasks(study, 16, 8, 1), append(sampled, sampleTasks(studyBase, 16, 7, 0)...)...) {
		for k := range keys(tk.Test) {
			testItems[k] = true
		}
	}
	var calls []string
	fake := func(_ context.Context, spec method, lr float64, tasks, knowledge []accrete.Task, _ io.Writer) (eval.FrontierPoint, error) {
		calls = append(calls, fmt.Sprintf("%s %g %d", spec.name, lr, len(tasks)))
		for i, tk := range tasks {
			require.Equal(t, sampled[i].Train, tk.Train, "trains on the study's items")
			requireDisjoint(t, keys(tk.Test), keys(tk.Train), "validation items are not trained on")
			requireDisjoint(t, keys(tk.Test), testItems, "validation items are not study test items")
			require.Subset(t, keysOf(val[i].Test), keysOf(tk.Test))
		}
		require.Len(t, knowledge, 1)
		requireDisjoint(t, keys(knowledge[0].Test), testItems, "validation facts are not study test items")
		// LoRA's scores peak at 3e-3, FFT's at 1e-4.
		acq, ret := map[float64]float64{1e-3: 0.3, 3e-3: 0.7, 1e-2: 0.9, 1e-4: 0.5, 3e-4: 0.6}[lr], map[float64]float64{1e-3: 0.9, 3e-3: 0.8, 1e-2: 0.2, 1e-4: 0.8, 3e-4: 0.5}[lr]
		if spec.name == "fft1" && lr == 1e-3 {
			return eval.FrontierPoint{LearningRate: lr, Acquisition: math.NaN(), Retention: math.NaN(), Failed: "loss not finite"}, nil
		}
		return eval.FrontierPoint{LearningRate: lr, Acquisition: acq, Retention: ret}, nil
	}
	o, err := parse([]string{"-methods", "lora1,fft1,olora-0.5", "-frontier", "-rounds", "2", "-seq-rounds", "3"}, nil)
	require.NoError(t, err)
	var log bytes.Buffer
	c, err := chooseRates(context.Background(), &o, fake, sampled, val, valBase, &log)
	require.NoError(t, err)
	assert.Equal(t, 3e-3, o.lrLoRA)
	assert.Equal(t, 1e-4, o.lrFFT)
	assert.Equal(t, []string{"lora1 0.001 1", "lora1 0.003 1", "lora1 0.01 1", "fft1 0.0001 1", "fft1 0.0003 1", "fft1 0.001 1",
		"seq-lora 0.001 3", "seq-lora 0.003 3", "seq-lora 0.01 3", "seq-fft 0.0001 3", "seq-fft 0.0003 3", "seq-fft 0.001 3",
		"olora-0.5 0.001 2", "olora-0.5 0.003 2", "olora-0.5 0.01 2"}, calls)
	require.Len(t, c.points, 15)
	assert.Equal(t, "one round", c.points[0].Training)
	assert.Equal(t, "sequential, 3 rounds", c.points[6].Training)
	assert.Equal(t, "sequential, 2 rounds", c.points[12].Training)
	require.Len(t, c.rates, 2)
	assert.Equal(t, []float64{1e-3, 3e-3, 1e-2}, c.rates[0].Grid)
	assert.Contains(t, c.note, "LoRA 3e-03, chosen from {1e-03, 3e-03, 1e-02}")
	assert.Contains(t, c.note, "FFT 1e-04")

	// A rate given by its flag is used as given, and a family no method uses is not swept.
	calls = nil
	o, err = parse([]string{"-methods", "lora1,seq-lora", "-lr-lora", "2e-3"}, nil)
	require.NoError(t, err)
	c, err = chooseRates(context.Background(), &o, fake, sampled, val, valBase, &log)
	require.NoError(t, err)
	assert.Empty(t, calls)
	assert.Equal(t, 2e-3, o.lrLoRA)
	require.Len(t, c.rates, 1)
	assert.Nil(t, c.rates[0].Grid)
	assert.Contains(t, c.note, "LoRA 2e-03, given (-lr-lora)")
}

func TestNeedsValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"-lr-grid=false"}, false},
		{[]string{"-lr-grid=false", "-frontier"}, true},
		{[]string{"-lr-lora", "1e-3", "-lr-fft", "1e-4"}, false},
		{[]string{"-lr-lora", "1e-3", "-methods", "lora1,seq-lora,replay"}, false},
		{[]string{"-lr-lora", "1e-3", "-methods", "lora1,fft1"}, true},
	} {
		o, err := parse(tc.args, nil)
		require.NoError(t, err)
		assert.Equal(t, tc.want, needsValidation(o), "%v", tc.args)
	}
}

func keysOf(exs []accrete.Example) []string {
	var out []string
	for _, e := range exs {
		out = append(out, itemKey(e))
	}
	return out
}

func TestLearningRateFlags(t *testing.T) {
	o, err := parse(nil, nil)
	require.NoError(t, err)
	assert.True(t, o.lrGrid)
	assert.False(t, o.frontier)
	assert.Equal(t, []float64{1e-3, 3e-3, 1e-2}, o.lrGridLoRA)
	assert.Equal(t, []float64{1e-4, 3e-4, 1e-3}, o.lrGridFFT)
	assert.False(t, o.lrLoRAGiven || o.lrFFTGiven)
	assert.Equal(t, 6, o.epochs)

	o, err = parse([]string{"-lr-grid-lora", "1e-2, 1e-3,1e-3", "-lr-fft", "1e-4"}, nil)
	require.NoError(t, err)
	assert.Equal(t, []float64{1e-3, 1e-2}, o.lrGridLoRA, "sorted, without repeats")
	assert.True(t, o.lrFFTGiven)
	assert.False(t, o.lrLoRAGiven)

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-lr-grid-lora", "1e-3,x"}, `-lr-grid-lora: "x" is not a positive learning rate`},
		{[]string{"-lr-grid-fft", "0"}, `-lr-grid-fft: "0"`},
		{[]string{"-lr-grid-fft", ""}, `-lr-grid-fft: ""`},
		{[]string{"-epochs", "0"}, "-epochs must be ≥ 1, got 0"},
	} {
		_, err := parse(tc.args, nil)
		assert.ErrorContains(t, err, tc.msg, "%v", tc.args)
	}
}
