package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/ewc"
	"github.com/accrete/accrete/osf"
)

func TestStrengthLabelsAndFlags(t *testing.T) {
	o, err := parse([]string{"-methods", "ewc,osf,lora1"}, nil)
	require.NoError(t, err)
	assert.True(t, o.strengthGrid, "on by default")
	assert.True(t, needsStrengthGrid(o))
	ewcSpec, _ := methodByName("ewc")
	osfSpec, _ := methodByName("osf")
	lora1, _ := methodByName("lora1")
	assert.Equal(t, "EWC λ=0.1", labelOf(ewcSpec, o))
	assert.Equal(t, "OSF keep=0.5", labelOf(osfSpec, o))
	assert.Equal(t, "LoRA (one round)", labelOf(lora1, o))
	o.strengths = map[string]float64{"ewc": 1}
	assert.Equal(t, "EWC λ=1", labelOf(ewcSpec, o))
	assert.Equal(t, 1.0, ewcSpec.build(o).(accrete.Configurable).Settings().(ewc.Config).Lambda, "the strategy runs at it")
	assert.Equal(t, 0.5, osfSpec.build(o).(accrete.Configurable).Settings().(osf.Config).Keep)

	o, err = parse([]string{"-methods", "ewc", "-strength-grid=false"}, nil)
	require.NoError(t, err)
	assert.False(t, needsStrengthGrid(o))
	o, err = parse(nil, nil)
	require.NoError(t, err)
	assert.False(t, needsStrengthGrid(o), "the default run has no method with a strength")
	for name, s := range strengths {
		spec, ok := methodByName(name)
		require.True(t, ok, name)
		assert.Contains(t, s.grid, s.value, "%s: the grid holds the set value", name)
		for _, v := range s.grid {
			at := options{strengths: map[string]float64{name: v}}
			st := spec.build(at)
			if val, ok := st.(accrete.Validator); ok {
				assert.NoError(t, val.Validate(), "%s at %g", name, v)
			}
		}
	}
}

func TestChooseStrengths(t *testing.T) {
	// A fake training whose score peaks at EWC's λ = 1 and OSF's keep = 0.25.
	score := map[float64]float64{0.01: 0.2, 0.1: 0.5, 1: 0.7, 0.25: 0.6, 0.5: 0.4, 0.75: 0.1}
	var rounds []int
	train := func(_ context.Context, spec method, lr float64, tasks, _ []accrete.Task, _ io.Writer) (eval.FrontierPoint, error) {
		rounds = append(rounds, len(tasks))
		var v float64
		switch c := spec.build(options{}).(accrete.Configurable).Settings().(type) {
		case ewc.Config:
			v = c.Lambda
		case osf.Config:
			v = c.Keep
		}
		assert.Equal(t, 3e-3, lr, "the LoRA family's rate")
		return eval.FrontierPoint{LearningRate: lr, Acquisition: score[v], Retention: score[v]}, nil
	}
	tasks := []accrete.Task{fakeTask("a", 20), fakeTask("b", 20), fakeTask("c", 20), fakeTask("d", 20)}
	study, val := splitValidation(tasks, 1)
	o, err := parse([]string{"-methods", "ewc,osf,seq-lora", "-rounds", "3"}, nil)
	require.NoError(t, err)
	var log bytes.Buffer
	note, err := chooseStrengths(context.Background(), &o, train, study, val, nil, &log)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"ewc": 1, "osf": 0.25}, o.strengths)
	assert.Equal(t, []int{3, 3, 3, 3, 3, 3}, rounds, "each value over the study's 3 rounds")
	assert.Contains(t, note, "EWC λ from {0.01, 0.1, 1}")
	assert.Contains(t, note, "1 0.700/0.700, chosen")
	assert.Contains(t, log.String(), "strength grid: OSF keep=0.75: acquisition 0.100")

	o, err = parse([]string{"-methods", "ewc", "-strength-grid=false"}, nil)
	require.NoError(t, err)
	note, err = chooseStrengths(context.Background(), &o, nil, study, val, nil, &log)
	require.NoError(t, err)
	assert.Equal(t, "Strengths of the methods beyond the paper, as given, not tuned on this model (-strength-grid=false): "+
		"EWC λ=0.1 (set on the tests' tiny model).", note)
	o, err = parse(nil, nil)
	require.NoError(t, err)
	note, err = chooseStrengths(context.Background(), &o, nil, study, val, nil, &log)
	require.NoError(t, err)
	assert.Empty(t, note, "no method with a strength")
}
