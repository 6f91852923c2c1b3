// Command orthlora adds knowledge packs to the shipped base model round after round with O-LoRA
// (Wang et al., "Orthogonal Subspace Learning for Language Model Continual Learning", arXiv
// 2310.14152), as "Collaboratively adding new knowledge to an LLM" (Lee & Wynter, arXiv 2410.14753)
// runs it.
//
// Every round trains a fresh LoRA adapter on one pack with the task loss plus
// λ·Σ|A_new·A_pastᵀ|/divisor (-scale: initial, the default, starts the penalty at λ; sum is the
// papers' raw sum), which pushes the new adapter's input subspace away from the earlier rounds'
// adapters, then folds it into the weights. The program prints the accuracy matrix (with ACC and
// BWT), and for every round the task loss against the orthogonality penalty and how much the
// adapter overlaps the earlier ones — at initialisation, after training with λ and, with -baseline,
// after training with λ = 0 (plain sequential LoRA).
//
//	go run ./examples/orthlora                     # λ = 0.5 over capitals, collectives, continents
//	go run ./examples/orthlora -lambda 5 -rounds 2 -baseline=false
//	go run ./examples/orthlora -lambda 0.5 -scale sum  # the paper's λ on its raw sum
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/examples/internal/cli"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/orthlora"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command's flags.
type options struct {
	cli.Common
	lambda   float64
	scale    orthlora.Scale
	baseline bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("orthlora", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.Register(fs, cli.Help{
		Packs:     "knowledge packs to add, one per round",
		Rounds:    "rounds: the first N of -packs (0: all of them)",
		Knowledge: true,
		Seed:      "seed of the adapters' initialisation and the data order",
	})
	fs.Float64Var(&o.lambda, "lambda", 0.5, "O-LoRA's λ, the weight of the orthogonality penalty (the paper tries 0.5 and 5)")
	scale := fs.String("scale", "initial", "what the overlap is divided by before λ weighs it: initial (the penalty starts each round at λ), mean (per entry of A·A_pastᵀ) or sum (the papers' raw sum)")
	fs.BoolVar(&o.baseline, "baseline", true, "also run λ = 0 (plain sequential LoRA) to compare the overlaps")
	if err := o.Parse(fs, args); err != nil {
		return o, err
	}
	if o.lambda < 0 {
		return o, fmt.Errorf("-lambda must be ≥ 0, got %g", o.lambda)
	}
	var ok bool
	if o.scale, ok = parseScale(*scale); !ok {
		return o, fmt.Errorf("-scale must be initial, mean or sum, got %q", *scale)
	}
	return o, o.Validate()
}

func parseScale(s string) (orthlora.Scale, bool) {
	for _, sc := range []orthlora.Scale{orthlora.Initial, orthlora.Mean, orthlora.Sum} {
		if sc.String() == s {
			return sc, true
		}
	}
	return 0, false
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("orthlora", args, stdout, stderr, parse, study)
}

// outcome is one O-LoRA run: its matrix, its per-round log, and each round's overlap with the
// earlier adapters before training (the freshly drawn A).
type outcome struct {
	strategy    *orthlora.Strategy
	matrix      *eval.Matrix
	initOverlap []float64
}

// olora runs O-LoRA with λ over the tasks from the base model.
func olora(ctx context.Context, l *accrete.Learner, lambda float64, scale orthlora.Scale, tasks, knowledge []accrete.Task) (outcome, error) {
	l.ResetToBase()
	var out outcome
	out.strategy = orthlora.New(orthlora.Config{
		Lambda: lambda,
		Scale:  scale,
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
	l, tasks, knowledge, err := o.Setup(stderr)
	if err != nil {
		return err
	}
	runs := []float64{o.lambda}
	if o.baseline && o.lambda != 0 {
		runs = append(runs, 0)
	}
	var report eval.Report
	report.Title = "O-LoRA over " + strings.Join(o.Packs, ", ")
	var outs []outcome
	for _, lambda := range runs {
		out, err := olora(ctx, l, lambda, o.scale, tasks, knowledge)
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
		fmt.Fprintln(stdout, "Overlap is Σ|A·A_pastᵀ| with the earlier rounds' adapters; the penalty is λ × overlap ÷ divisor (scale "+o.scale.String()+").")
		fmt.Fprintln(stdout)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "round\ttask\tsteps\ttask loss\tpenalty\tpenalty/task\toverlap at init\toverlap trained\tdivisor\t")
		for i, h := range out.strategy.History {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%.4g\t%.4g\t%.4g\t%.4g\t%.4g\t%.4g\t\n", h.Index+1, h.Task, h.Steps, h.Loss, h.Extra,
				h.Ratio(), out.initOverlap[i], h.Overlap, h.Divisor)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\ndone in %s\n", time.Since(began).Round(time.Second))
	return nil
}
