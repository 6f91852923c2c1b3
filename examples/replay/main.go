// Command replay compares sequential LoRA with sequential LoRA plus replay over knowledge packs
// added to the shipped base model round after round, as in "Collaboratively adding new knowledge to
// an LLM" (Lee & Wynter, arXiv 2410.14753).
//
// Sequential LoRA trains each round's adapter on that round's pack only and folds it into the
// weights, so later rounds can overwrite what earlier ones taught. Replay (fully cooperative) mixes
// into every round, from each earlier pack, ratio × (items of the current pack) of its items — the
// paper's w_hist. The program prints both accuracy matrices (with ACC, BWT and forgetting) and how
// much of round 1's pack each method still knows after the last round.
//
//	go run ./examples/replay                          # capitals, collectives, verse; ratio 0.5
//	go run ./examples/replay -ratio 0.25 -budget 16   # replay from a 16-item reservoir
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/model/tokenizer"
	"github.com/accrete/accrete/packs"
	"github.com/accrete/accrete/replay"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command's flags.
type options struct {
	modelDir         string
	packs            []string
	limit, knowledge int
	epochs, rank     int
	budget           int
	lr, ratio        float64
	seed             uint64
	quiet            bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var list string
	var rounds int
	fs.StringVar(&list, "packs", "capitals,collectives,continents", "knowledge packs to add, one per round (any of "+strings.Join(packs.Names(), ",")+")")
	fs.IntVar(&rounds, "rounds", 0, "rounds: the first N of -packs, at least 2 (0: all of them)")
	fs.Float64Var(&o.ratio, "ratio", 0.5, "items replayed from each earlier pack per item of the current one (the paper's w_hist)")
	fs.IntVar(&o.budget, "budget", 0, "keep at most this many earlier items, in a reservoir (0: keep the earlier packs whole)")
	fs.IntVar(&o.limit, "limit", 32, "items per pack")
	fs.IntVar(&o.knowledge, "knowledge", 32, "items of the base model's own facts scored for retention (0: none)")
	fs.IntVar(&o.epochs, "epochs", 8, "training epochs per round")
	fs.IntVar(&o.rank, "rank", 8, "LoRA rank")
	fs.Float64Var(&o.lr, "lr", 5e-3, "learning rate")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the adapters, the data order and the replayed samples")
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
	case len(o.packs) < 2:
		return o, fmt.Errorf("replay needs at least 2 rounds, got %d", len(o.packs))
	case !(o.ratio > 0) || math.IsInf(o.ratio, 0):
		return o, fmt.Errorf("-ratio must be > 0 and finite, got %g", o.ratio)
	case o.budget < 0:
		return o, fmt.Errorf("-budget must be ≥ 0, got %d", o.budget)
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
		fmt.Fprintln(stderr, "replay:", err)
		return 2
	}
	if err := study(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "replay:", err)
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

func study(ctx context.Context, o options, stdout, stderr io.Writer) error {
	began := time.Now()
	l, tasks, knowledge, err := setup(o, stderr)
	if err != nil {
		return err
	}
	// Replay wraps the very same sequential strategy: only the training data of each round changes.
	seq := accrete.Sequential{}
	methods := []struct {
		strategy accrete.Strategy
		name     string
		setting  string
	}{
		{seq, "sequential LoRA", "semi-cooperative"},
		{replay.Wrap(seq, replay.Config{Ratio: o.ratio, Budget: o.budget, Seed: o.seed}),
			fmt.Sprintf("sequential LoRA + replay (ratio %g)", o.ratio), "fully-cooperative"},
	}
	if o.budget > 0 {
		methods[1].name = fmt.Sprintf("sequential LoRA + replay (ratio %g, budget %d)", o.ratio, o.budget)
	}
	report := eval.Report{Title: "Replay over " + strings.Join(o.packs, ", ")}
	for _, m := range methods {
		l.ResetToBase() // every method starts from the base model
		mat, err := accrete.Run(ctx, l, m.strategy, tasks, accrete.RunOptions{Knowledge: knowledge})
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		report.Methods = append(report.Methods, eval.FromMatrix(m.name, m.setting, mat))
	}
	l.ResetToBase()
	if err := report.WriteMarkdown(stdout); err != nil {
		return err
	}

	// Retention of the first round's pack: its score right after round 1 and after the last round.
	last := len(tasks) - 1
	fmt.Fprintf(stdout, "\n## Retention of round 1's pack (%s) after round %d\n\n", tasks[0].Name, last+1)
	for _, m := range report.Methods {
		r := m.Matrix.R
		fmt.Fprintf(stdout, "%-*s  %.3f after round 1 → %.3f after round %d (%s of it kept)\n",
			len(report.Methods[1].Method), m.Method, r[0][0], r[last][0], last+1, percent(r[last][0], r[0][0]))
	}
	fmt.Fprintf(stdout, "\ndone in %s\n", time.Since(began).Round(time.Second))
	return nil
}

// percent formats part/whole as a percentage, "–" when whole is 0.
func percent(part, whole float64) string {
	if whole == 0 || math.IsNaN(part) || math.IsNaN(whole) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*part/whole)
}
