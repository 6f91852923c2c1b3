// Command orthlora adds knowledge packs to the shipped base model round after round with O-LoRA
// (Wang et al., "Orthogonal Subspace Learning for Language Model Continual Learning", arXiv
// 2310.14152), as "Collaboratively adding new knowledge to an LLM" (Lee & Wynter, arXiv 2410.14753)
// runs it.
//
// Every round trains a fresh LoRA adapter on one pack with the task loss plus
// λ·Σ|A_new·A_pastᵀ|, which pushes the new adapter's input subspace away from the earlier rounds'
// adapters, then folds it into the weights. The program prints the accuracy matrix (with ACC and
// BWT), and for every round the task loss against the orthogonality penalty and how much the
// adapter overlaps the earlier ones — at initialisation, after training with λ and, with -baseline,
// after training with λ = 0 (plain sequential LoRA).
//
//	go run ./examples/orthlora                     # λ = 0.5 over capitals, collectives, continents
//	go run ./examples/orthlora -lambda 5 -rounds 2 -baseline=false
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/model/tokenizer"
	"github.com/accrete/accrete/orthlora"
	"github.com/accrete/accrete/packs"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command's flags.
type options struct {
	modelDir         string
	packs            []string
	limit, knowledge int
	epochs, rank     int
	lr, lambda       float64
	seed             uint64
	baseline, quiet  bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("orthlora", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var list string
	var rounds int
	fs.StringVar(&list, "packs", "capitals,collectives,continents", "knowledge packs to add, one per round (any of "+strings.Join(packs.Names(), ",")+")")
	fs.IntVar(&rounds, "rounds", 0, "rounds: the first N of -packs (0: all of them)")
	fs.Float64Var(&o.lambda, "lambda", 0.5, "O-LoRA's λ, the weight of the orthogonality penalty (the paper tries 0.5 and 5)")
	fs.BoolVar(&o.baseline, "baseline", true, "also run λ = 0 (plain sequential LoRA) to compare the overlaps")
	fs.IntVar(&o.limit, "limit", 32, "items per pack")
	fs.IntVar(&o.knowledge, "knowledge", 32, "items of the base model's own facts scored for retention (0: none)")
	fs.IntVar(&o.epochs, "epochs", 8, "training epochs per round")
	fs.IntVar(&o.rank, "rank", 8, "LoRA rank")
	fs.Float64Var(&o.lr, "lr", 5e-3, "learning rate")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the adapters' initialisation and the data order")
	fs.StringVar(&o.modelDir, "model", "", "Hugging Face Llama directory with tokenizer.json (default: the shipped base model)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.packs, err = choosePacks(list, rounds); err != nil {
		return o, err
	}
	switch {
	case o.lambda < 0:
		return o, fmt.Errorf("-lambda must be ≥ 0, got %g", o.lambda)
	case o.limit < 1 || o.epochs < 1 || o.rank < 1:
		return o, fmt.Errorf("-limit, -epochs and -rank must be ≥ 1, got %d, %d and %d", o.limit, o.epochs, o.rank)
	case o.knowledge < 0:
		return o, fmt.Errorf("-knowledge must be ≥ 0, got %d", o.knowledge)
	case !(o.lr > 0):
		return o, fmt.Errorf("-lr must be > 0, got %g", o.lr)
	}
	return o, nil
}

// choosePacks splits a comma-separated list of pack names, checks them and keeps the first rounds.
func choosePacks(list string, rounds int) ([]string, error) {
	names := strings.Split(list, ",")
	for _, n := range names {
		if !slices.Contains(packs.Names(), n) {
			return nil, fmt.Errorf("unknown pack %q in -packs (want any of %s)", n, strings.Join(packs.Names(), ", "))
		}
	}
	if rounds < 0 || rounds > len(names) {
		return nil, fmt.Errorf("-rounds must be between 0 and the %d packs of -packs, got %d", len(names), rounds)
	}
	if rounds > 0 {
		names = names[:rounds]
	}
	return names, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "orthlora:", err)
		return 2
	}
	if err := study(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "orthlora:", err)
		return 1
	}
	return 0
}

// setup loads the base model and the packs, and returns a learner whose defaults every round uses.
func setup(o options, stderr io.Writer) (l *accrete.Learner, tasks, knowledge []accrete.Task, err error) {
	var m *model.Model
	var tok *tokenizer.BPE
	if o.modelDir == "" {
		m, tok, err = tiny.Load(nil) // the shipped base model, on the pure-Go backend
	} else {
		m, tok, err = tiny.LoadDir(nil, o.modelDir)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if l, err = accrete.NewLearner(m, tok); err != nil {
		return nil, nil, nil, err
	}
	l.LoRA = lora.Config{Rank: o.rank, Seed: o.seed}
	l.Train = lora.TrainConfig{LearningRate: o.lr, Epochs: o.epochs, Seed: o.seed}
	if !o.quiet {
		l.Progress = stderr
	}
	for _, name := range o.packs {
		t, err := packs.Load(name, packs.Options{Limit: o.limit})
		if err != nil {
			return nil, nil, nil, err
		}
		tasks = append(tasks, t)
	}
	if o.knowledge > 0 {
		// The base model's own facts: their score after each round is the matrix's retention column.
		b, err := packs.Base(packs.Options{Limit: o.knowledge})
		if err != nil {
			return nil, nil, nil, err
		}
		knowledge = []accrete.Task{b}
	}
	return l, tasks, knowledge, nil
}

// outcome is one O-LoRA run: its matrix, its per-round log, and each round's overlap with the
// earlier adapters before training (the freshly drawn A).
type outcome struct {
	strategy    *orthlora.Strategy
	matrix      *eval.Matrix
	initOverlap []float64
}

// olora runs O-LoRA with λ over the tasks from the base model.
func olora(ctx context.Context, l *accrete.Learner, lambda float64, tasks, knowledge []accrete.Task) (outcome, error) {
	l.ResetToBase()
	var out outcome
	out.strategy = orthlora.New(orthlora.Config{
		Lambda: lambda,
		// OnAdapter sees each trained adapter before it joins the past subspace; redraw the adapter
		// the round started from (same config, seed offset by the round as the strategy does) to see
		// how much of the overlap training removed.
		OnAdapter: func(round int, a *lora.Adapter, _ lora.Result) error {
			lc := a.Config
			lc.Seed = l.LoRA.Seed + uint64(round)
			init, err := lora.NewAdapter("init", l.Model.Config, lc)
			if err != nil {
				return err
			}
			out.initOverlap = append(out.initOverlap, orthlora.OverlapPast(init, out.strategy.Past()))
			return nil
		},
	})
	var err error
	out.matrix, err = accrete.Run(ctx, l, out.strategy, tasks, accrete.RunOptions{Knowledge: knowledge})
	return out, err
}

func study(ctx context.Context, o options, stdout, stderr io.Writer) error {
	began := time.Now()
	l, tasks, knowledge, err := setup(o, stderr)
	if err != nil {
		return err
	}
	runs := []float64{o.lambda}
	if o.baseline && o.lambda != 0 {
		runs = append(runs, 0)
	}
	var report eval.Report
	report.Title = "O-LoRA over " + strings.Join(o.packs, ", ")
	var outs []outcome
	for _, lambda := range runs {
		out, err := olora(ctx, l, lambda, tasks, knowledge)
		if err != nil {
			return err
		}
		outs = append(outs, out)
		report.Methods = append(report.Methods, eval.FromMatrix(out.strategy.Name(), "semi-cooperative", out.matrix))
	}
	// The summary (ACC, BWT, ...) and every accuracy matrix, as Markdown tables.
	if err := report.WriteMarkdown(stdout); err != nil {
		return err
	}

	for _, out := range outs {
		fmt.Fprintf(stdout, "\n## %s: task loss vs orthogonality penalty\n\n", out.strategy.Name())
		fmt.Fprintln(stdout, "Overlap is Σ|A·A_pastᵀ| with the earlier rounds' adapters (the penalty is λ × overlap).")
		fmt.Fprintln(stdout)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "round\ttask\tsteps\ttask loss\tpenalty\tpenalty/task\toverlap at init\toverlap trained\t")
		for i, h := range out.strategy.History {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%.4g\t%.4g\t%.4g\t%.4g\t%.4g\t\n", h.Index+1, h.Task, h.Steps, h.Loss, h.Extra,
				h.Ratio(), out.initOverlap[i], h.Overlap)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\ndone in %s\n", time.Since(began).Round(time.Second))
	return nil
}
