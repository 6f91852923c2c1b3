// Command paper runs the study "Collaboratively adding new knowledge to an LLM" (Lee & Wynter,
// arXiv 2410.14753) in miniature, on the shipped base model and knowledge packs, on two CPU cores:
//
//   - one round: LoRA vs full fine-tuning (FFT) — acquisition of the new task and retention of the
//     base model's own knowledge (Figure 1);
//   - sequential LoRA vs FFT over the rounds (Figure 2);
//   - O-LoRA with λ = 0.5 and λ = 5 (Figure 3);
//   - semi-cooperative: merging (average, TIES, DARE) and a mixture of LoRA experts (Figure 4);
//   - fully cooperative: joint training and sequential training with replay (Figure 5).
//
// Acquisition is scored on held-out phrasings of the new facts (knowledge that generalises) and on the
// phrasings trained with; retention on the base model's facts (held-out phrasings) and as the change
// in bits per byte on held-out general text (packs.HeldOutText). It prints the table and the
// continual-learning metrics of every method, and writes report.md, report.csv, report.json, the
// figures and one accuracy-matrix heat map per method to the output directory.
//
//	go run ./examples/paper                 # the default miniature (under 10 minutes on 2 cores)
//	go run ./examples/paper -full           # every method over every round
//	go run ./examples/paper -model DIR -tasks DIR -methods seq-lora,replay -rounds 4 -out results
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/internal/cli"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/packs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	modelDir, tasksDir, out string
	methods                 []string
	rounds, seqRounds       int
	limit, rank             int
	bpbDocs                 int
	epochs                  int
	seed                    uint64
	lrLoRA, lrFFT           float64
	replayRatio             float64
	full, quiet             bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("paper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var methods string
	fs.StringVar(&o.modelDir, "model", "", "Hugging Face Llama checkpoint directory with tokenizer.json (default: the shipped base model)")
	fs.StringVar(&o.tasksDir, "tasks", "", "directory of your own JSONL tasks with a tasks.json manifest (default: the shipped knowledge packs)")
	fs.StringVar(&o.out, "out", "out/paper", "output directory for the report and figures")
	fs.StringVar(&methods, "methods", "", "comma-separated methods (default: "+strings.Join(defaultMethods, ",")+"; all: "+strings.Join(methodNames(), ",")+")")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds (tasks) of the multi-round methods other than sequential LoRA/FFT (default 4; -full: every task)")
	fs.IntVar(&o.seqRounds, "seq-rounds", 0, "rounds of sequential LoRA and FFT (default 7; -full: every task)")
	fs.IntVar(&o.limit, "limit", 0, "items per task (default 16; -full: every item)")
	fs.IntVar(&o.bpbDocs, "bpb-docs", 64, "documents of held-out general text scored for bits per byte before and after every round (0: none)")
	fs.IntVar(&o.rank, "rank", 8, "LoRA rank")
	fs.IntVar(&o.epochs, "epochs", 0, "training epochs per round (default 12)")
	fs.Float64Var(&o.lrLoRA, "lr-lora", 3e-3, "LoRA learning rate")
	fs.Float64Var(&o.lrFFT, "lr-fft", 5e-4, "full fine-tuning learning rate")
	fs.Float64Var(&o.replayRatio, "replay-ratio", 0.5, "replay: samples of each earlier task per item of the current one (the paper's w_hist)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every random choice")
	fs.BoolVar(&o.full, "full", false, "run every method over every round and item")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bars")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case methods != "":
		o.methods = strings.Split(methods, ",")
	case o.full:
		o.methods = methodNames()
	default:
		o.methods = defaultMethods
	}
	for _, m := range o.methods {
		if _, ok := methodByName(m); !ok {
			return o, fmt.Errorf("unknown method %q (want any of %s)", m, strings.Join(methodNames(), ", "))
		}
	}
	if o.rounds < 0 || o.seqRounds < 0 || o.limit < 0 || o.rank <= 0 || o.epochs < 0 || o.lrLoRA <= 0 || o.lrFFT <= 0 || o.replayRatio <= 0 {
		return o, errors.New("-rounds, -limit and -epochs must be ≥ 0; -rank, -lr-lora, -lr-fft and -replay-ratio > 0")
	}
	if o.bpbDocs < 0 {
		return o, fmt.Errorf("-bpb-docs must be ≥ 0, got %d", o.bpbDocs)
	}
	if !o.full {
		o.limit = cmp.Or(o.limit, 16)
		o.rounds = cmp.Or(o.rounds, 4)
		o.seqRounds = cmp.Or(o.seqRounds, 7)
	}
	if o.epochs == 0 {
		o.epochs = 12
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "paper:", err)
		return 2
	}
	if err := study(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "paper:", err)
		return 1
	}
	return 0
}

func study(ctx context.Context, o options, stdout io.Writer) error {
	began := time.Now()
	b, err := model.Backend()
	if err != nil {
		return err
	}
	base, tok, err := cli.LoadModel(b, o.modelDir)
	if err != nil {
		return err
	}
	tasks, knowledge, err := loadTasks(o)
	if err != nil {
		return err
	}
	rounds := func(n int) int {
		if n <= 0 {
			return len(tasks)
		}
		return min(n, len(tasks))
	}
	var progress io.Writer = stdout
	if o.quiet {
		progress = nil
	}
	fmt.Fprintf(stdout, "accrete paper: %d-parameter base model; tasks in round order: %s; %d items per task; methods %s\n",
		base.Config.NumParams(), taskNames(tasks), len(tasks[0].Train), strings.Join(o.methods, ","))

	cache := accrete.NewAdapterCache() // methods that train the same adapter from the base share it
	newLearner := func() (*accrete.Learner, error) {
		m, err := model.New(b, base.Config, base.Weights.Clone())
		if err != nil {
			return nil, err
		}
		l, err := accrete.NewLearner(m, tok)
		if err != nil {
			return nil, err
		}
		l.LoRA = lora.Config{Rank: o.rank, Seed: o.seed}
		l.Train = lora.TrainConfig{LearningRate: o.lrLoRA, Epochs: o.epochs, BatchSize: 8, Seed: o.seed, WarmupSteps: 5}
		l.Progress = progress
		l.Cache = cache
		return l, nil
	}
	runOpts := accrete.RunOptions{Knowledge: knowledge, GeneralText: heldOutText(o.bpbDocs)}
	report := eval.Report{Title: "accrete: adding knowledge in rounds (arXiv 2410.14753 in miniature)"}
	for _, name := range o.methods {
		spec, _ := methodByName(name)
		l, err := newLearner()
		if err != nil {
			return err
		}
		ts := tasks[:rounds(o.rounds)]
		switch {
		case spec.oneRound:
			ts = tasks[:1]
		case spec.sequential:
			ts = tasks[:rounds(o.seqRounds)]
		}
		fmt.Fprintf(stdout, "\n== %s (%s, %d round(s)) ==\n", spec.label, spec.setting, len(ts))
		start := time.Now()
		mat, err := accrete.Run(ctx, l, spec.build(o), ts, runOpts)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res := eval.FromMatrix(spec.label, spec.setting, mat)
		if spec.oneRound {
			res.Acquisition = mat.R[0][0]
		}
		report.Methods = append(report.Methods, res)
		fmt.Fprintf(stdout, "%s: acquisition %.3f held-out, %.3f trained phrasings; retention %.3f (base %.3f), ΔBPB %s; BWT %s, forgetting %s (%s)\n",
			spec.label, res.Acquisition, res.AcquisitionTrained, res.Retention, mat.BaseKnowledge, fmtF(res.DeltaBPB),
			fmtF(mat.BWT()), fmtF(mat.Forgetting()), time.Since(start).Round(time.Second))
	}
	// Figures 3–5 compare with sequential LoRA over as many rounds as the other methods had: the first
	// rounds of the longer sequential run are exactly that run (training is deterministic).
	if n := rounds(o.rounds); n < rounds(o.seqRounds) {
		for _, r := range report.Methods {
			if r.Method == "LoRA sequential" && r.Matrix != nil && r.Matrix.Rounds() > n {
				sub := eval.FromMatrix(fmt.Sprintf("LoRA sequential (%d rounds)", n), r.Setting, firstRounds(r.Matrix, n))
				report.Methods = append(report.Methods, sub)
				break
			}
		}
	}
	if err := report.Save(o.out); err != nil {
		return err
	}
	if err := figures(o.out, report.Methods); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := report.WriteMarkdown(stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s (report.md, report.csv, report.json, figures) in %s\n", o.out, time.Since(began).Round(time.Second))
	return nil
}

// firstRounds returns the accuracy matrix of the first n rounds and tasks of m, trained-phrasing
// scores and bits per byte included.
func firstRounds(m *eval.Matrix, n int) *eval.Matrix {
	sub := eval.NewMatrix(m.Tasks[:n], prefix(m.Base, n), m.BaseKnowledge)
	sub.BaseTrained, sub.BaseBPB = prefix(m.BaseTrained, n), m.BaseBPB
	for i := range n {
		rs := eval.RoundScores{Scores: m.R[i][:n], Knowledge: math.NaN(), BPB: math.NaN()}
		if len(m.Trained) > i {
			rs.Trained = m.Trained[i][:n]
		}
		if len(m.Knowledge) > i {
			rs.Knowledge = m.Knowledge[i]
		}
		if len(m.BPB) > i {
			rs.BPB = m.BPB[i]
		}
		if err := sub.Add(rs); err != nil {
			panic(err) // n ≤ m.Rounds() and the rows have len(m.Tasks) entries
		}
	}
	return sub
}

// prefix is xs[:n], or nil for nil xs.
func prefix(xs []float64, n int) []float64 {
	if xs == nil {
		return nil
	}
	return xs[:n]
}

// heldOutText returns the first n documents of the shipped held-out general text (nil for n = 0):
// the text whose bits per byte measure retention of general language ability.
func heldOutText(n int) []string {
	if n == 0 {
		return nil
	}
	docs := packs.HeldOutText()
	return docs[:min(n, len(docs))]
}

func fmtF(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%+.3f", x)
}

func taskNames(ts []accrete.Task) string {
	var n []string
	for _, t := range ts {
		n = append(n, t.Name)
	}
	return strings.Join(n, ", ")
}

// loadTasks returns the new-knowledge tasks and the base-knowledge tasks (retention).
func loadTasks(o options) (tasks, knowledge []accrete.Task, err error) {
	po := packs.Options{Limit: o.limit}
	base, err := packs.Base(po)
	if err != nil {
		return nil, nil, err
	}
	if o.tasksDir == "" {
		tasks, err = packs.All(po)
		return tasks, []accrete.Task{base}, err
	}
	all, err := eval.ReadTasks(o.tasksDir)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range all {
		if o.limit > 0 && len(t.Train) > o.limit {
			t.Train = t.Train[:o.limit]
		}
		if o.limit > 0 && len(t.Test) > o.limit {
			t.Test = t.Test[:o.limit]
		}
		if len(t.Train) == 0 {
			knowledge = append(knowledge, t) // score-only tasks measure retention
			continue
		}
		tasks = append(tasks, t)
	}
	if len(tasks) == 0 {
		return nil, nil, fmt.Errorf("%s: no task with training items", o.tasksDir)
	}
	if len(knowledge) == 0 && o.modelDir == "" {
		knowledge = []accrete.Task{base}
	}
	return tasks, knowledge, nil
}

// figure groups the methods of one of the paper's figures.
type figure struct {
	file, title string
	methods     []string // labels
}

func figures(dir string, results []eval.MethodResult) error {
	baseline := "LoRA sequential"
	for _, r := range results {
		if strings.HasPrefix(r.Method, "LoRA sequential (") {
			baseline = r.Method
		}
	}
	figs := []figure{
		{"figure1_one_round.png", "Figure 1: one round, LoRA vs full fine-tuning", []string{"LoRA (one round)", "FFT (one round)"}},
		{"figure2_sequential.png", "Figure 2: sequential LoRA vs FFT", []string{"LoRA sequential", "FFT sequential"}},
		{"figure3_olora.png", "Figure 3: O-LoRA, small vs large λ", []string{baseline, "O-LoRA λ=0.5", "O-LoRA λ=5"}},
		{"figure4_semi_cooperative.png", "Figure 4: semi-cooperative (no data kept)", []string{baseline, "O-LoRA λ=0.5", "merge average", "merge TIES", "merge DARE", "MoE top-2"}},
		{"figure5_fully_cooperative.png", "Figure 5: fully cooperative (data kept)", []string{baseline, "joint", "replay"}},
	}
	for _, f := range figs {
		var sel []eval.MethodResult
		for _, r := range results {
			if slices.Contains(f.methods, r.Method) {
				sel = append(sel, r)
			}
		}
		if len(sel) == 0 {
			continue
		}
		p, err := eval.PlotBars(f.title, sel)
		if err != nil {
			return err
		}
		if err := eval.SavePlot(p, filepath.Join(dir, f.file), 16*36, 9*36); err != nil {
			return err
		}
	}
	return nil
}
