package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/accrete/accrete"
)

// The strengths of the methods beyond the paper (issue 19): how strongly each protects the earlier
// rounds. Like the learning rates, they are chosen on the validation items (-strength-grid, on by
// default), since their papers' values were tuned on other models and losses.

// strength is a method's protection hyper-parameter: its symbol, the value the study runs with when no
// grid chooses one, where that value comes from, and the grid -strength-grid chooses from.
type strength struct {
	symbol, source string
	value          float64
	grid           []float64
}

// strengths are the methods beyond the paper that have a strength. The λ's of N-LoRA, ELLA and EWC
// were set on the tests' tiny model, where each cuts its measured interference several-fold at a
// task-loss cost under 1%; InfLoRA's ε and OSF's kept fraction are their packages' defaults (GPM's
// 0.95, PEFT's half). Each grid spans a factor of 10 either way (λ) or the range in use (ε, keep).
var strengths = map[string]strength{
	"nlora":   {"λ", "set on the tests' tiny model", 1e-4, []float64{1e-5, 1e-4, 1e-3}},
	"inflora": {"ε", "the package's default (GPM's)", 0.95, []float64{0.9, 0.95, 0.99}},
	"ella":    {"λ", "set on the tests' tiny model", 0.01, []float64{1e-3, 1e-2, 1e-1}},
	"ewc":     {"λ", "set on the tests' tiny model", 0.1, []float64{1e-2, 1e-1, 1}},
	"osf":     {"keep", "the package's default (PEFT's)", 0.5, []float64{0.25, 0.5, 0.75}},
}

// strengthOf is the strength method name runs with under o: the one chosen (o.strengths), else its
// table value.
func strengthOf(o options, name string) float64 {
	if v, ok := o.strengths[name]; ok {
		return v
	}
	return strengths[name].value
}

// labelOf is spec's label under o, with its strength when it has one ("EWC λ=0.1").
func labelOf(spec method, o options) string {
	s, ok := strengths[spec.name]
	if !ok {
		return spec.label
	}
	return spec.label + " " + s.symbol + "=" + strconv.FormatFloat(strengthOf(o, spec.name), 'g', -1, 64)
}

// needsStrengthGrid says whether -strength-grid has a strength to choose: a method with one runs.
func needsStrengthGrid(o options) bool {
	if !o.strengthGrid {
		return false
	}
	for _, m := range o.methods {
		if _, ok := strengths[m]; ok {
			return true
		}
	}
	return false
}

// strengthSelection states how a strength is picked from its grid, for the report.
const strengthSelection = "the value with the highest mean of acquisition (ACC over the study's rounds, on the " +
	"validation items' held-out phrasings) and retention (the validation base facts) after those rounds, at the " +
	"LoRA family's learning rate; on a tie the lowest value"

// chooseStrengths sets o.strengths for the methods of o that have a strength: with -strength-grid each
// value of the method's grid trains the method over the study's rounds of the validation tasks (as
// the learning-rate grid trains one round) and the best mean of acquisition and retention is chosen
// (chooseRate's criterion); without it, the table's values are kept. It returns the report's note.
func chooseStrengths(ctx context.Context, o *options, train trainAt, sampled, val, valKnowledge []accrete.Task, log io.Writer) (string, error) {
	var names []string
	for _, m := range o.methods {
		if _, ok := strengths[m]; ok {
			names = append(names, m)
		}
	}
	if len(names) == 0 {
		return "", nil
	}
	if !o.strengthGrid {
		var said []string
		for _, n := range names {
			spec, _ := methodByName(n)
			said = append(said, labelOf(spec, *o)+" ("+strengths[n].source+")")
		}
		return "Strengths of the methods beyond the paper, as given, not tuned on this model (-strength-grid=false): " +
			strings.Join(said, "; ") + ".", nil
	}
	n := rounds(len(sampled), o.rounds)
	tasks, err := validationTasks(sampled, val, n, o.limit)
	if err != nil {
		return "", err
	}
	knowledge := sampleTasks(valKnowledge, o.knowledge, o.seed, 0)
	if o.strengths == nil {
		o.strengths = map[string]float64{}
	}
	var said []string
	for _, name := range names {
		spec, _ := methodByName(name)
		st := strengths[name]
		var jobs []trainJob
		for _, v := range st.grid {
			at := *o
			at.strengths = map[string]float64{name: v}
			s := spec
			s.label = labelOf(spec, at)
			s.build = func(so options) accrete.Strategy {
				so.strengths = at.strengths
				return spec.build(so)
			}
			jobs = append(jobs, trainJob{s, o.lrLoRA, tasks, knowledge})
		}
		pts, err := trainAll(ctx, o.parallel, train, jobs, log)
		if err != nil {
			return "", err
		}
		for i, v := range st.grid {
			pts[i].LearningRate = v // chooseRate ranks by this field
			fmt.Fprintf(log, "strength grid: %s: acquisition %s, retention %s%s\n", jobs[i].spec.label, fmtScore(pts[i].Acquisition),
				fmtScore(pts[i].Retention), failedNote(pts[i]))
		}
		best, err := chooseRate(pts)
		if err != nil {
			return "", fmt.Errorf("%s: %w", spec.label, err)
		}
		o.strengths[name] = pts[best].LearningRate
		var each []string
		for _, p := range pts {
			mark := ""
			if p.Chosen {
				mark = ", chosen"
			}
			each = append(each, fmt.Sprintf("%s %s/%s%s", strconv.FormatFloat(p.LearningRate, 'g', -1, 64),
				fmtScore(p.Acquisition), fmtScore(p.Retention), mark))
		}
		said = append(said, fmt.Sprintf("%s %s from {%s} (acquisition/retention: %s)", spec.label, st.symbol,
			formatStrengths(st.grid), strings.Join(each, "; ")))
	}
	return fmt.Sprintf("Strengths of the methods beyond the paper, chosen on the validation items over %d rounds "+
		"(-strength-grid; =false runs the values set on the tests' tiny model and the packages' defaults) as %s: %s.",
		n, strengthSelection, strings.Join(said, "; ")), nil
}

func formatStrengths(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ", ")
}
