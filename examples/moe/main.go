// Command moe adds knowledge packs to the shipped base model as a mixture of LoRA experts (moetify,
// Lee, Wynter & Ganti, arXiv 2408.17280), the semi-cooperative strategy of "Collaboratively adding
// new knowledge to an LLM" (Lee & Wynter, arXiv 2410.14753).
//
// Every round trains one adapter from the base on one pack and adds it as a frozen expert; a small
// router per adapted module, retrained each round on a few kept items of every pack so far, picks
// the top-k experts for every token. The base weights never change. The program prints the accuracy
// matrix (with ACC and BWT) and how well the router routes: for each pack, the share of its prompt
// tokens whose top-1 expert is each expert, the pack's own expert on the diagonal.
//
//	go run ./examples/moe                            # top-2 over capitals, collectives, continents
//	go run ./examples/moe -topk 1 -calibration 8 -rounds 2
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
	"github.com/accrete/accrete/moe"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command's flags.
type options struct {
	cli.Common
	topK, calibration int
	routerEpochs      int
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("moe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.Register(fs, cli.Help{
		Packs:     "knowledge packs to add, one expert per round",
		Rounds:    "rounds: the first N of -packs (0: all of them)",
		Knowledge: true,
		Epochs:    "training epochs per expert",
		Rank:      "LoRA rank of each expert",
		LR:        "learning rate of the experts",
		Seed:      "seed of the experts, the routers, the calibration sample and the data order",
	})
	fs.IntVar(&o.topK, "topk", 2, "experts mixed per token")
	fs.IntVar(&o.calibration, "calibration", 16, "items of each pack kept to train the router")
	fs.IntVar(&o.routerEpochs, "router-epochs", 10, "router training epochs per round, over the kept items of every pack so far")
	if err := o.Parse(fs, args); err != nil {
		return o, err
	}
	if o.topK < 1 || o.calibration < 1 || o.routerEpochs < 1 {
		return o, fmt.Errorf("-topk, -calibration and -router-epochs must be ≥ 1, got %d, %d and %d", o.topK, o.calibration, o.routerEpochs)
	}
	return o, o.Validate()
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Main("moe", args, stdout, stderr, parse, study)
}

// routing returns, for the prompts of task t, the share of tokens (over every adapted module) whose
// top-1 gate is each expert.
func routing(l *accrete.Learner, mix *moe.Mixture, t accrete.Task) ([]float64, error) {
	seqs := make([][]int, len(t.Test))
	for i, it := range t.Test {
		seqs[i] = l.Tokenizer.Encode(l.Template.Format(it.Prompt), true, false)
	}
	gates, err := mix.Gates(l.Model, seqs) // module → [sequence][token][expert]
	if err != nil {
		return nil, err
	}
	share := make([]float64, len(mix.Experts))
	var n float64
	for _, perSeq := range gates {
		for _, perTok := range perSeq {
			for _, g := range perTok {
				share[argmax(g)]++
				n++
			}
		}
	}
	for e := range share {
		share[e] /= n
	}
	return share, nil
}

// argmax is the index of the largest gate, the first on ties.
func argmax(g []float32) int {
	best := 0
	for i, v := range g {
		if v > g[best] {
			best = i
		}
	}
	return best
}

func study(ctx context.Context, o options, stdout, stderr io.Writer) error {
	began := time.Now()
	l, tasks, knowledge, err := o.Setup(stderr)
	if err != nil {
		return err
	}
	s := moe.New(moe.Config{TopK: o.topK, CalibrationPerTask: o.calibration, Seed: o.Seed,
		// The router's own training: moe's defaults (learning rate 1e-2, batch 8) with -router-epochs.
		RouterTrain: &lora.TrainConfig{LearningRate: 1e-2, Epochs: o.routerEpochs, BatchSize: 8, Seed: o.Seed}})
	mat, err := accrete.Run(ctx, l, s, tasks, accrete.RunOptions{Knowledge: knowledge})
	if err != nil {
		return err
	}
	report := eval.Report{Title: "Mixture of LoRA experts over " + strings.Join(o.Packs, ", "),
		Methods: []eval.MethodResult{eval.FromMatrix(s.Name(), "semi-cooperative", mat)}}
	if err := report.WriteMarkdown(stdout); err != nil {
		return err
	}

	// Run leaves the final mixture attached to the model: ask it where each pack's tokens go.
	mix := s.Mixture()
	fmt.Fprintf(stdout, "\n## Routing: share of each pack's prompt tokens whose top-1 expert is…\n\n")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "pack\t")
	for e := range mix.Experts {
		fmt.Fprintf(tw, "expert %d (%s)\t", e+1, tasks[e].Name)
	}
	fmt.Fprintln(tw, "own expert\t")
	var mean float64
	for j, t := range tasks {
		share, err := routing(l, mix, t)
		if err != nil {
			return fmt.Errorf("routing %s: %w", t.Name, err)
		}
		fmt.Fprintf(tw, "%s\t", t.Name)
		for _, v := range share {
			fmt.Fprintf(tw, "%.3f\t", v)
		}
		fmt.Fprintf(tw, "%.3f\t\n", share[j])
		mean += share[j]
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nrouting accuracy (mean share routed to the own expert): %.3f; chance %.3f\n",
		mean/float64(len(tasks)), 1/float64(len(tasks)))
	fmt.Fprintf(stdout, "\ndone in %s\n", time.Since(began).Round(time.Second))
	return nil
}
