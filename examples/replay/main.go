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
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/examples/internal/cli"
	"github.com/accrete/accrete/replay"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command's flags.
type options struct {
	cli.Common
	budget int
	ratio  float64
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.Register(fs, cli.Help{
		Packs:     "knowledge packs to add, one per round",
		Rounds:    "rounds: the first N of -packs, at least 2 (0: all of them)",
		Knowledge: true,
		Seed:      "seed of the adapters, the data order and the replayed samples",
	})
	fs.Float64Var(&o.ratio, "ratio", 0.5, "items replayed from each earlier pack per item of the current one (the paper's w_hist)")
	fs.IntVar(&o.budget, "budget", 0, "keep at most this many earlier items, in a reservoir (0: keep the earlier packs whole)")
	if err := o.Parse(fs, args); err != nil {
		return o, err
	}
	switch {
	case len(o.Packs) < 2:
		return o, fmt.Errorf("replay needs at least 2 rounds, got %d", len(o.Packs))
	case !(o.ratio > 0) || math.IsInf(o.ratio, 0):
		return o, fmt.Errorf("-ratio must be > 0 and finite, got %g", o.ratio)
	case o.budget < 0:
		return o, fmt.Errorf("-budget must be ≥ 0, got %d", o.budget)
	}
	return o, o.Validate()
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("replay", args, stdout, stderr, parse, study)
}

func study(ctx context.Context, o options, stdout, stderr io.Writer) error {
	began := time.Now()
	l, tasks, knowledge, err := o.Setup(stderr)
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
		{replay.Wrap(seq, replay.Config{Ratio: o.ratio, Budget: o.budget, Seed: o.Seed}),
			fmt.Sprintf("sequential LoRA + replay (ratio %g)", o.ratio), "fully-cooperative"},
	}
	if o.budget > 0 {
		methods[1].name = fmt.Sprintf("sequential LoRA + replay (ratio %g, budget %d)", o.ratio, o.budget)
	}
	report := eval.Report{Title: "Replay over " + strings.Join(o.Packs, ", ")}
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
