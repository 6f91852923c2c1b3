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
	"github.com/accrete/accrete/moe"
	"github.com/accrete/accrete/packs"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// options are the command's flags.
type options struct {
	modelDir          string
	packs             []string
	limit, knowledge  int
	epochs, rank      int
	topK, calibration int
	routerEpochs      int
	lr                float64
	seed              uint64
	quiet             bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("moe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var list string
	var rounds int
	fs.StringVar(&list, "packs", "capitals,collectives,continents", "knowledge packs to add, one expert per round (any of "+strings.Join(packs.Names(), ",")+")")
	fs.IntVar(&rounds, "rounds", 0, "rounds: the first N of -packs (0: all of them)")
	fs.IntVar(&o.topK, "topk", 2, "experts mixed per token")
	fs.IntVar(&o.calibration, "calibration", 16, "items of each pack kept to train the router")
	fs.IntVar(&o.routerEpochs, "router-epochs", 10, "router training epochs per round, over the kept items of every pack so far")
	fs.IntVar(&o.limit, "limit", 32, "items per pack")
	fs.IntVar(&o.knowledge, "knowledge", 32, "items of the base model's own facts scored for retention (0: none)")
	fs.IntVar(&o.epochs, "epochs", 8, "training epochs per expert")
	fs.IntVar(&o.rank, "rank", 8, "LoRA rank of each expert")
	fs.Float64Var(&o.lr, "lr", 5e-3, "learning rate of the experts")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the experts, the routers, the calibration sample and the data order")
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
	case o.topK < 1 || o.calibration < 1 || o.routerEpochs < 1:
		return o, fmt.Errorf("-topk, -calibration and -router-epochs must be ≥ 1, got %d, %d and %d", o.topK, o.calibration, o.routerEpochs)
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
		fmt.Fprintln(stderr, "moe:", err)
		return 2
	}
	if err := study(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "moe:", err)
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
	l, tasks, knowledge, err := setup(o, stderr)
	if err != nil {
		return err
	}
	s := moe.New(moe.Config{TopK: o.topK, CalibrationPerTask: o.calibration, Seed: o.seed,
		// The router's own training: moe's defaults (learning rate 1e-2, batch 8) with -router-epochs.
		RouterTrain: &lora.TrainConfig{LearningRate: 1e-2, Epochs: o.routerEpochs, BatchSize: 8, Seed: o.seed}})
	mat, err := accrete.Run(ctx, l, s, tasks, accrete.RunOptions{Knowledge: knowledge})
	if err != nil {
		return err
	}
	report := eval.Report{Title: "Mixture of LoRA experts over " + strings.Join(o.packs, ", "),
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
