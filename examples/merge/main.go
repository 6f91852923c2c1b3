// Command merge trains one LoRA adapter per knowledge pack from the shipped base model, each on its
// own pack only (the semi-cooperative setting of "Collaboratively adding new knowledge to an LLM",
// Lee & Wynter, arXiv 2410.14753), then merges them without any data and scores every merged model
// on every pack.
//
// The methods work on each module's full update ΔW = scale·B·A. By default: linear averaging, TIES
// (Yadav et al., arXiv 2306.01708), DARE-TIES (Yu et al., arXiv 2311.03099) and concatenation, which
// is the linear average written exactly as one LoRA of rank Σr. -methods also offers task arithmetic,
// DARE-linear, magnitude pruning, DELLA and DELLA-linear (Deep et al., arXiv 2406.11617), breadcrumbs
// (Davari & Belilovsky, arXiv 2312.06795), Model Stock (Jang et al., arXiv 2403.19522), NuSLERP (two
// packs only) and the Karcher mean. Finally the linear merge is re-factored by truncated SVD into a
// LoRA of rank r, with the relative error that costs.
//
// Before merging, -interference (on by default) prints, for every pair of adapters and averaged over
// the modules, the cosine of their ΔW, the principal angles between their A subspaces and the
// fraction of shared entries whose signs conflict, on the whole ΔW and after TIES's trim at -density.
//
//	go run ./examples/merge                                    # capitals, collectives, continents
//	go run ./examples/merge -methods ties,dare_ties -density 0.5 -refactor-rank 4
//	go run ./examples/merge -packs capitals,collectives -methods linear,della,breadcrumbs,model_stock,nuslerp,karcher
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/examples/internal/cli"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/merge"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// defaultMethods are the methods merged by default.
var defaultMethods = []merge.Method{merge.Linear, merge.TIES, merge.DARETIES, merge.Concat}

// options are the command's flags.
type options struct {
	cli.Common
	methods      []merge.Method
	refactorRank int
	density      float64
	interference bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var methods string
	var all []string
	for _, m := range merge.Methods {
		all = append(all, string(m))
	}
	var def []string
	for _, m := range defaultMethods {
		def = append(def, string(m))
	}
	o.Register(fs, cli.Help{
		Packs:  "knowledge packs, one adapter each",
		Epochs: "training epochs per adapter",
		Rank:   "LoRA rank of each adapter",
		Seed:   "seed of the adapters, the data order and DARE's drop masks",
	})
	fs.StringVar(&methods, "methods", strings.Join(def, ","), "merge methods (any of "+strings.Join(all, ",")+")")
	fs.Float64Var(&o.density, "density", 0.2, "fraction of each ΔW that TIES keeps; DARE keeps it in expectation (drops 1−density)")
	fs.IntVar(&o.refactorRank, "refactor-rank", 8, "re-factor the linear merge into a LoRA of this rank (0: skip)")
	fs.BoolVar(&o.interference, "interference", true, "print each pair of adapters' interference before merging: ΔW cosine, A-subspace principal angles, sign conflicts")
	if err := o.Parse(fs, args); err != nil {
		return o, err
	}
	for _, m := range strings.Split(methods, ",") {
		if !slices.Contains(merge.Methods, merge.Method(m)) {
			return o, fmt.Errorf("unknown method %q in -methods (want any of %s)", m, strings.Join(all, ", "))
		}
		o.methods = append(o.methods, merge.Method(m))
	}
	switch {
	case !(o.density > 0 && o.density <= 1):
		return o, fmt.Errorf("-density must be in (0, 1], got %g", o.density)
	case o.refactorRank < 0:
		return o, fmt.Errorf("-refactor-rank must be ≥ 0, got %d", o.refactorRank)
	case slices.Contains(o.methods, merge.NuSLERP) && len(o.Packs) > 2:
		return o, fmt.Errorf("-methods nuslerp merges two adapters, but -packs names %d", len(o.Packs))
	}
	return o, o.Validate()
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("merge", args, stdout, stderr, parse, study)
}

// scoreAll scores the learner's effective model on every task.
func scoreAll(ctx context.Context, l *accrete.Learner, tasks []accrete.Task) ([]float64, error) {
	out := make([]float64, len(tasks))
	for i, t := range tasks {
		s, err := eval.Score(ctx, l.EvalModel(), t, eval.Options{Template: l.Template})
		if err != nil {
			return nil, fmt.Errorf("scoring %s: %w", t.Name, err)
		}
		out[i] = s.Headline() // held-out phrasings where the task has them, else the trained one (acc_norm for multiple choice)
	}
	return out, nil
}

func study(ctx context.Context, o options, stdout, stderr io.Writer) error {
	began := time.Now()
	l, tasks, _, err := o.Setup(stderr) // no -knowledge: merging scores the packs only
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# Merging %d adapters, each trained from the base on one pack\n\n", len(tasks))
	fmt.Fprintln(stdout, "own adapter: each pack scored with its own adapter alone, the reference for every merge.")
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "model\t%s\tmean\t\n", strings.Join(o.Packs, "\t"))
	row := func(name string, scores []float64) {
		fmt.Fprintf(tw, "%s\t", name)
		var sum float64
		for _, s := range scores {
			fmt.Fprintf(tw, "%.3f\t", s)
			sum += s
		}
		fmt.Fprintf(tw, "%.3f\t\n", sum/float64(len(scores)))
	}

	base, err := scoreAll(ctx, l, tasks)
	if err != nil {
		return err
	}
	row("base model", base)

	// One adapter per pack, each trained from the base on its own pack only. Each adapter alone is
	// the reference a merge is measured against: its score on its own pack.
	adapters := make([]*lora.Adapter, len(tasks))
	alone := make([]float64, len(tasks))
	for i, t := range tasks {
		lc := l.LoRA
		lc.Seed += uint64(i) // a different A for every adapter
		name := accrete.AdapterName(accrete.Round{Index: i, Task: t})
		a, _, err := l.TrainAdapter(ctx, name, l.Encode(t.Train), &lc, nil)
		if err != nil {
			return err
		}
		adapters[i] = a
		l.Model.SetAdapter(a)
		s, err := eval.Score(ctx, l.EvalModel(), t, eval.Options{Template: l.Template})
		l.Model.SetAdapter(nil)
		if err != nil {
			return fmt.Errorf("scoring %s: %w", t.Name, err)
		}
		alone[i] = s.Headline()
	}
	row("own adapter", alone)

	var interference []string
	if o.interference && len(adapters) > 1 {
		if interference, err = interferenceReport(adapters, o.Packs, o.density); err != nil {
			return err
		}
	}

	for _, method := range o.methods {
		cfg := merge.Config{Method: method, Density: o.density, Seed: o.Seed}
		l.ResetToBase()
		if method == merge.Concat {
			// Concatenation keeps the merge a LoRA (rank Σr), attached like any adapter: it equals the
			// linear average exactly.
			cat, err := merge.Concatenate("concat", adapters, cfg)
			if err != nil {
				return err
			}
			l.Model.SetAdapter(cat)
		} else {
			// Every other method folds base + merged ΔW into the weights, one module at a time.
			if err := merge.Merge(adapters, cfg, merge.FoldInto(l.Model.Weights)); err != nil {
				return err
			}
			l.Model.UpdateWeights()
		}
		scores, err := scoreAll(ctx, l, tasks)
		if err != nil {
			return err
		}
		row(string(method), scores)
	}

	var errs []string
	if o.refactorRank > 0 {
		// Re-factor the linear merge into one LoRA of the chosen rank by truncated SVD, and score it.
		// The error at other ranks shows the trade-off: it falls to ~0 at Σr, the concatenation's rank.
		ranks := []int{o.refactorRank}
		for _, r := range []int{o.Rank / 2, o.Rank * len(adapters)} {
			if r >= 1 && !slices.Contains(ranks, r) {
				ranks = append(ranks, r)
			}
		}
		slices.Sort(ranks)
		for _, r := range ranks {
			f, err := merge.Refactor("refactored", adapters, merge.Config{Method: merge.Linear, Seed: o.Seed}, r)
			if err != nil {
				return err
			}
			line := fmt.Sprintf("rank %2d: relative error %.4g", r, f.Error)
			if r == o.refactorRank {
				l.ResetToBase()
				l.Model.SetAdapter(f.Adapter)
				scores, err := scoreAll(ctx, l, tasks)
				if err != nil {
					return err
				}
				row(fmt.Sprintf("linear → rank %d", r), scores)
				worst, worstModule := 0.0, ""
				for m, e := range f.ModuleError {
					if e > worst || (e == worst && m.Path() < worstModule) {
						worst, worstModule = e, m.Path()
					}
				}
				line += fmt.Sprintf(" (scored above; worst module %s: %.4g)", worstModule, worst)
			}
			errs = append(errs, line)
		}
	}
	l.ResetToBase()
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nscores: acc_norm for multiple choice, else the score on the trained phrasing")
	if len(interference) > 0 {
		fmt.Fprintln(stdout, "\ninterference before merging (mean over modules): ΔW cosine, principal angles between the A subspaces, and the fraction of")
		fmt.Fprintf(stdout, "entries nonzero in both whose signs differ, on the whole ΔW and after TIES's trim to density %g:\n", o.density)
		for _, line := range interference {
			fmt.Fprintln(stdout, "  "+line)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(stdout, "\nre-factoring the linear merge (Frobenius norm, ‖ΔW − B·A‖/‖ΔW‖ over all modules):")
		for _, e := range errs {
			fmt.Fprintln(stdout, "  "+e)
		}
	}
	fmt.Fprintf(stdout, "\ndone in %s\n", time.Since(began).Round(time.Second))
	return nil
}

// interferenceReport returns one line per pair of adapters: their interference averaged over modules.
func interferenceReport(adapters []*lora.Adapter, names []string, density float64) ([]string, error) {
	whole, err := merge.Interference(adapters, 1)
	if err != nil {
		return nil, err
	}
	trimmed, err := merge.Interference(adapters, density)
	if err != nil {
		return nil, err
	}
	w, t := merge.MeanInterference(whole), merge.MeanInterference(trimmed)
	var lines []string
	for k, p := range w {
		angles := "none"
		if len(p.Angles) > 0 {
			var mean float64
			for _, a := range p.Angles {
				mean += a
			}
			angles = fmt.Sprintf("mean %.1f°, smallest %.1f°", mean/float64(len(p.Angles))*180/math.Pi, p.Angles[0]*180/math.Pi)
		}
		lines = append(lines, fmt.Sprintf("%s × %s: cosine %.3f, A angles %s (overlap %.3f), sign conflicts %.3f, trimmed %.3f",
			names[p.I], names[p.J], p.Cosine, angles, p.Overlap(), p.SignConflict, t[k].SignConflict))
	}
	return lines, nil
}
