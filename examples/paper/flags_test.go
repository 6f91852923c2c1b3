package main

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
)

func TestLimitAndRoundsFlags(t *testing.T) {
	for _, tc := range []struct {
		args                         []string
		limit, know, rounds, seqRnds int
	}{
		{nil, defaultLimit, defaultLimit, 3, 4},
		{[]string{"-limit", "0"}, 0, 0, 3, 4},
		{[]string{"-limit", "40", "-knowledge", "0"}, 40, 0, 3, 4},
		{[]string{"-full"}, 0, 0, 0, 0},
		{[]string{"-full", "-limit", "32", "-rounds", "3"}, 32, 32, 3, 0},
		{[]string{"-rounds", "0"}, defaultLimit, defaultLimit, 0, 4},
	} {
		o, err := parse(tc.args, nil)
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, []int{tc.limit, tc.know, tc.rounds, tc.seqRnds}, []int{o.limit, o.knowledge, o.rounds, o.seqRounds}, "%v", tc.args)
		assert.Equal(t, 3, o.seeds)
		assert.Equal(t, 40, o.minSteps)
	}
	for _, args := range [][]string{{"-limit", "-2"}, {"-seeds", "0"}, {"-min-steps", "-1"}, {"-devices", "-1"},
		{"-devices", "3"}, {"-batch", "8", "-micro-batch", "2", "-devices", "4"}} {
		_, err := parse(args, nil)
		assert.Error(t, err, "%v", args)
	}
}

// TestBF16Flag checks that -bf16 parses with the full fine-tuning methods (lora.Train trains
// bfloat16 weights through float32 master weights) as with the adapter methods.
func TestBF16Flag(t *testing.T) {
	for _, methods := range []string{"fft1", "lora1,seq-fft", "lora1,seq-lora,olora-0.5,moe"} {
		o, err := parse([]string{"-bf16", "-methods", methods}, nil)
		require.NoError(t, err, methods)
		require.True(t, o.bf16)
	}
	o, err := parse([]string{"-bf16"}, nil) // the default methods include fft1 and seq-fft
	require.NoError(t, err)
	require.Contains(t, o.methods, "fft1")
}

func TestSampleEvenly(t *testing.T) {
	xs := make([]int, 10)
	for i := range xs {
		xs[i] = i
	}
	assert.Equal(t, []int{0, 2, 5, 7}, sampleEvenly(xs, 4, 0), "as packs.Options.Limit")
	assert.Equal(t, []int{1, 3, 6, 8}, sampleEvenly(xs, 4, 0.5), "a later seed's phase: ⌊(i+½)·10/4⌋")
	assert.Equal(t, xs, sampleEvenly(xs, 0, 0.5), "0: every item")
	assert.Equal(t, xs, sampleEvenly(xs, 12, 0))
	tasks := []accrete.Task{{Name: "a", Train: make([]accrete.Example, 30), Test: make([]accrete.Example, 30)}}
	for i := range 30 {
		tasks[0].Train[i].ID, tasks[0].Test[i].ID = fmt.Sprint(i), fmt.Sprint(i)
	}
	s1, s2 := sampleTasks(tasks, 5, 1, 0), sampleTasks(tasks, 5, 2, 1)
	require.Len(t, s1[0].Train, 5)
	assert.Equal(t, s1[0].Train, s1[0].Test, "train and test keep the same items")
	assert.NotEqual(t, s1[0].Train, s2[0].Train, "another seed samples other items")
	assert.Len(t, tasks[0].Train, 30, "the input is not changed")
}

func TestDescribeSaysWhatRuns(t *testing.T) {
	mk := func(name string, n int) accrete.Task {
		return accrete.Task{Name: name, Train: make([]accrete.Example, n), Test: make([]accrete.Example, n)}
	}
	all := []accrete.Task{mk("a", 100), mk("b", 20), mk("c", 50)}
	sampled := []accrete.Task{mk("a", 16), mk("b", 16), mk("c", 16)}
	o, err := parse([]string{"-methods", "lora1,seq-lora,replay", "-rounds", "2", "-seq-rounds", "0"}, nil)
	require.NoError(t, err)
	notes := strings.Join(describe(o, 1000, all, sampled, []accrete.Task{mk("base", 1277)}, []accrete.Task{mk("base", 16)}), "\n")
	assert.Contains(t, notes, "Seeds: 3 (1–3)")
	assert.Contains(t, notes, "a 16 of 100, b 16 of 20, c 16 of 50")
	assert.Contains(t, notes, "base 16 of 1277")
	assert.Contains(t, notes, "one-round methods 1 (a)")
	assert.Contains(t, notes, "sequential LoRA and FFT 3 (a, b, c)")
	assert.Contains(t, notes, "the other methods 2 (a, b)")
	assert.Contains(t, notes, "Training: AdamW, effective batch 8 sequences per optimizer step; 6 epochs per round (at least 40 optimizer steps)")

	o, err = parse([]string{"-paper-settings", "-methods", "seq-lora,joint"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "Training: AdamW, effective batch 16 sequences per optimizer step (gradients accumulated over micro-batches of 4); "+
		"10 epochs per round; 0 warm-up steps, then a constant learning rate; joint training repeats each task smaller than the largest 79 times.",
		describeTraining(o), "a run states its effective batch")
}

func TestPaperSettings(t *testing.T) {
	o, err := parse([]string{"-paper-settings"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 2e-5, o.lrLoRA)
	require.Equal(t, 2e-5, o.lrFFT)
	require.False(t, o.lrGrid)
	require.Equal(t, []int{16, 4, 10, 0, 0, 0, 0, 0, 79}, []int{o.batch, o.microBatch, o.epochs, o.minSteps, o.warmup, o.limit, o.rounds, o.seqRounds, o.jointRepeat})
	o, err = parse([]string{"-paper-settings", "-epochs", "3", "-lr-lora", "1e-4"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 3, o.epochs, "an explicit flag wins")
	require.Equal(t, 1e-4, o.lrLoRA)
	_, err = parse([]string{"-max-len", "-1"}, io.Discard)
	require.ErrorContains(t, err, "-max-len must be ≥ 0, got -1")
	o, err = parse([]string{"-max-len", "1024"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 1024, o.maxLen)
	_, err = parse([]string{"-joint-repeat", "-1"}, io.Discard)
	require.ErrorContains(t, err, "-joint-repeat must be ≥ 0, got -1")
	_, err = parse([]string{"-micro-batch", "9"}, io.Discard)
	require.ErrorContains(t, err, "-micro-batch in [0, -batch]")
}

func TestRepeatSmallerIsThePapersJoint(t *testing.T) {
	mk := func(name string, n int) accrete.Task {
		tk := accrete.Task{Name: name}
		for i := range n {
			tk.Train = append(tk.Train, accrete.Example{ID: fmt.Sprint(name, i)})
		}
		return tk
	}
	// Six small tasks beside one large one, as TRACE's 5,000 items beside MetaMathQA's 395k.
	r := accrete.Round{Index: 2, Task: mk("metamath", 400), History: []accrete.Task{mk("a", 5), mk("b", 5)}}
	got := repeatSmaller(r, 79)
	assert.Len(t, got.Task.Train, 400, "the largest once")
	require.Len(t, got.History, 2)
	assert.Len(t, got.History[0].Train, 5*79)
	assert.Equal(t, got.History[1].Train[:5], got.History[1].Train[5:10], "whole repeats, in order")
	assert.Len(t, r.History[0].Train, 5, "the round given is not changed")
	spec, _ := methodByName("joint")
	o, err := parse([]string{"-paper-settings"}, io.Discard)
	require.NoError(t, err)
	assert.IsType(t, repeatedJoint{}, spec.build(o))
	_, fully := spec.build(o).(accrete.FullyCooperative)
	assert.True(t, fully, "sees the earlier rounds' data")
}
