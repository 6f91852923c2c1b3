// Command paper runs the study "Collaboratively adding new knowledge to an LLM" (Lee & Wynter,
// arXiv 2410.14753) in miniature, on the shipped base model and knowledge packs, on two CPU cores:
//
//   - one round: LoRA vs full fine-tuning (FFT) — acquisition of the new task and retention of the
//     base model's own knowledge (Figure 1);
//   - sequential LoRA vs FFT over the rounds (Figure 2);
//   - O-LoRA with λ = 0.5 and λ = 5, the penalty starting each round at λ (orthlora.Initial), and with
//     -full λ = 0.5 on the papers' raw sum (Figure 3);
//   - semi-cooperative: merging (average, TIES, DARE) and a mixture of LoRA experts (Figure 4);
//   - fully cooperative: joint training and sequential training with replay (Figure 5).
//
// Acquisition is scored on held-out phrasings of the new facts (knowledge that generalises) and on the
// phrasings trained with; retention on the base model's facts (held-out phrasings) and as the change
// in bits per byte on held-out general text (packs.HeldOutText). It prints the table and the
// continual-learning metrics of every method, and writes report.md, report.csv, report.json, the
// figures and one accuracy-matrix heat map per method to the output directory.
//
// Every method runs over -seeds seeds (default 3); a seed moves the adapters' initialisation, the
// data order and, when -limit keeps fewer items than a task has, which items are sampled. The report
// gives each number's mean over the seeds and its 95% Student-t interval.
//
// Each family of methods trains at its own learning rate, chosen fairly (-lr-grid, on by default): 20%
// of every task's items and of the base facts are held back as validation items, never trained on and
// never scored as test items; each rate of the family's grid (-lr-grid-lora, -lr-grid-fft) trains one
// round on the first task, and the rate with the best mean of acquisition and retention on the
// validation items is the family's (the adapter methods share LoRA's; full fine-tuning has its own).
// The grid's points are the one-round acquisition-retention frontier (figure6_frontier.png, and tables
// in the report); -frontier adds sequential LoRA, FFT and O-LoRA over the grid, so that "LoRA forgets
// less than FFT" can be judged at matched acquisition. A rate given with -lr-lora or -lr-fft is used
// as given.
//
// With a merge method in the run, the interference study (-interference) takes every pair of the
// merge rows' tasks, compares the pair's one-round adapters before merging (merge.Interference: ΔW
// cosine, A-subspace overlap, TIES sign conflicts), merges the pair alone by each merge method, and
// correlates the interference with the score each task lost (Pearson and Spearman, Fisher-z
// intervals, Mantel-style permutation p-values): a section of report.md and figure7_interference.png.
//
// The methods beyond the paper (-methods ewc,nlora,ella,inflora,osf) run at a strength (λ, ε or the
// kept fraction) chosen on the validation items over the study's rounds (-strength-grid), as the
// learning rates are.
//
//	go run ./examples/paper                 # the default miniature (minutes on 2 cores: README's Results time it)
//	go run ./examples/paper -full           # every method over every round and item
//	go run ./examples/paper -limit 0 -seeds 5 # every item of every pack, five seeds
//	go run ./examples/paper -frontier      # also the sequential frontier over the learning-rate grids
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
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/eval/plot"
	"github.com/accrete/accrete/examples/internal/cli"
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
	limit, knowledge, rank  int
	bpbDocs                 int
	epochs, minSteps        int
	seeds                   int
	seed                    uint64
	lrLoRA, lrFFT           float64
	replayRatio             float64
	full, quiet             bool
	cpuProfile              string
	bf16                    bool
	// batch is the effective batch of a training step, run in micro-batches of microBatch sequences
	// (0: the whole batch at once); warmup the warm-up steps.
	batch, microBatch, warmup int
	// devices trains data-parallel over this many devices of an XLA backend (lora.TrainConfig.Devices).
	devices int
	// parallel is how many runs (a method on a seed) go at once (-parallel; 0: parallelRuns decides).
	parallel int
	// paperSettings is the paper's own training setup (-paper-settings).
	paperSettings bool
	// maxLen bounds a training sequence's tokens (accrete.Learner.MaxLen; 0: no bound).
	maxLen int
	// evalBatch is the prompts or pairs per scoring call (eval.Options.BatchSize).
	evalBatch int
	// jointRepeat repeats every task smaller than the round's largest that many times in joint
	// training (0: sampled up to the largest).
	jointRepeat int
	// lrGrid chooses each family's learning rate from lrGridLoRA or lrGridFFT on validation items,
	// unless its rate was given (lrLoRAGiven, lrFFTGiven); frontier also sweeps the grids sequentially.
	lrGrid, frontier        bool
	lrGridLoRA, lrGridFFT   []float64
	lrLoRAGiven, lrFFTGiven bool
	// taskMetrics overrides the metric of tasks read with -tasks (eval.ReadOptions.Metrics).
	taskMetrics map[string]eval.Metric
	// interference is how many tasks the interference study pairs (-1: the merge methods' rounds when
	// the run has one, else none; 0: none).
	interference int
	// strengthGrid chooses the strengths of the methods beyond the paper on validation items;
	// strengths are the chosen ones, by method name (strengthOf).
	strengthGrid bool
	strengths    map[string]float64
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("paper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var methods string
	fs.StringVar(&o.modelDir, "model", "", "Hugging Face Llama checkpoint directory with tokenizer.json (default: the shipped base model)")
	fs.StringVar(&o.tasksDir, "tasks", "", "directory of tasks: a tasks.json manifest with JSONL, or the paper's data as distributed (TRACE folders, MetaMathQA, GSM8K, lm-eval multiple choice; eval.ReadTaskDir) (default: the shipped knowledge packs)")
	taskMetrics := fs.String("task-metrics", "", "NAME=METRIC,... overrides the metric of tasks read with -tasks (e.g. Py150=rouge_l; metrics: exact_match, first_char, multiple_choice, rouge_l, edit_sim, sari, numeric_match)")
	fs.StringVar(&o.out, "out", "out/paper", "output directory for the report and figures")
	fs.StringVar(&methods, "methods", "", "comma-separated methods (default: "+strings.Join(defaultMethods, ",")+"; all: "+strings.Join(methodNames(), ",")+")")
	fs.IntVar(&o.rounds, "rounds", -1, "rounds (the first N tasks) of the multi-round methods other than sequential LoRA/FFT (default 3; 0 or -full: every task)")
	fs.IntVar(&o.seqRounds, "seq-rounds", -1, "rounds of sequential LoRA and FFT (default 4; 0 or -full: every task)")
	fs.IntVar(&o.limit, "limit", -1, fmt.Sprintf("items per task, sampled evenly over the task (default %d, the most that keeps the default run within 10 minutes on 2 cores; 0 or -full: every item)", defaultLimit))
	fs.IntVar(&o.knowledge, "knowledge", -1, "base-model facts scored for retention, sampled evenly (default: as -limit; 0: every fact)")
	fs.IntVar(&o.seeds, "seeds", 3, "seeds each method runs over (seed, seed+1, ...); the report gives means and 95% Student-t intervals")
	fs.IntVar(&o.bpbDocs, "bpb-docs", 16, "documents of held-out general text scored for bits per byte before and after every round (0: none)")
	fs.IntVar(&o.rank, "rank", 8, "LoRA rank")
	fs.IntVar(&o.epochs, "epochs", 6, "training epochs per round (≥ 1; -min-steps may add more)")
	fs.IntVar(&o.minSteps, "min-steps", 40, "fewest optimizer steps per round: a small task gets more epochs (lora.TrainConfig.MinSteps; 0: -epochs only)")
	fs.Float64Var(&o.lrLoRA, "lr-lora", 3e-3, "learning rate of the adapter methods (LoRA, O-LoRA, merging, MoE experts, replay, joint); when given, used as is instead of chosen from -lr-grid-lora")
	fs.Float64Var(&o.lrFFT, "lr-fft", 5e-4, "full fine-tuning learning rate; when given, used as is instead of chosen from -lr-grid-fft")
	fs.BoolVar(&o.lrGrid, "lr-grid", true, "choose each family's learning rate from its grid: one round on the first task per rate, scored on validation items held back from the study; false: -lr-lora and -lr-fft as given, and no items held back unless -frontier")
	gridLoRA := fs.String("lr-grid-lora", "1e-3,3e-3,1e-2", "learning rates the adapter methods choose from (comma-separated)")
	gridFFT := fs.String("lr-grid-fft", "1e-4,3e-4,1e-3", "learning rates full fine-tuning chooses from (comma-separated)")
	fs.BoolVar(&o.frontier, "frontier", false, "also train sequential LoRA, FFT and O-LoRA λ=0.5 at every rate of the grids, scored on the validation items: the sequential acquisition-retention frontier (expensive)")
	fs.Float64Var(&o.replayRatio, "replay-ratio", 0.5, "replay: samples of each earlier task per item of the current one (the paper's w_hist)")
	fs.Uint64Var(&o.seed, "seed", 1, "first seed (see -seeds)")
	fs.BoolVar(&o.full, "full", false, "run the paper's methods (and O-LoRA on the raw sum) over every round and item; the methods beyond the paper run with -methods")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bars")
	fs.BoolVar(&o.bf16, "bf16", false, "keep the base model's matrices as bfloat16 (model.LoadOptions.BF16): half the memory of its weights; full fine-tuning (fft1, seq-fft) trains them through float32 master weights")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof reads it)")
	fs.IntVar(&o.batch, "batch", 8, "effective batch: sequences per optimizer step")
	fs.IntVar(&o.parallel, "parallel", 0, fmt.Sprintf("runs (a method on a seed) trained and scored at once, each on its own copy of the model; the report is the same whatever the number. 0: one per CPU core, at most %d, on a CPU backend with a model of under %dM parameters; else 1", maxAutoParallel, autoParallelParams/1_000_000))
	fs.IntVar(&o.devices, "devices", 0, "train data-parallel over this many devices of an XLA backend (lora.TrainConfig.Devices: each micro-batch split evenly, weights and AdamW replicated); 0 or 1: one device")
	fs.IntVar(&o.microBatch, "micro-batch", 0, "sequences per forward/backward pass; the step accumulates gradients over -batch/-micro-batch of them (0: the whole batch at once)")
	fs.IntVar(&o.warmup, "warmup", 5, "warm-up steps of the learning rate")
	fs.IntVar(&o.evalBatch, "eval-batch", 64, "prompts (generation) or choice pairs (log-likelihood) per scoring call (eval.Options.BatchSize): on a CPU a larger batch decodes in fewer steps; lower it to fit a large model's logits in memory")
	fs.IntVar(&o.maxLen, "max-len", 0, "longest training sequence in tokens: a longer one keeps the head and tail of its prompt and the head of its answer, as the paper's code truncates (0: no limit)")
	fs.IntVar(&o.jointRepeat, "joint-repeat", 0, "joint: repeat every task smaller than the round's largest this many times, whole (the paper repeats each TRACE task 79 times beside MetaMathQA); 0: sample smaller tasks up to the largest's size")
	fs.IntVar(&o.interference, "interference", -1, "interference study: every pair of the first N tasks' one-round adapters is merged by each merge method, and the adapters' interference (ΔW cosine, A-subspace overlap, sign conflicts) is correlated with what the merge cost the two tasks (default: the merge methods' rounds, reusing their adapters, when the run has a merge method; 0: off; N above the merges' rounds trains the other tasks' adapters too)")
	fs.BoolVar(&o.strengthGrid, "strength-grid", true, "choose the strength of each method beyond the paper that runs (N-LoRA's, ELLA's and EWC's λ, InfLoRA's ε, OSF's kept fraction) from a grid around its set value: each value trains the method over the study's rounds of validation items; false: the values set on the tests' tiny model and the packages' defaults")
	fs.BoolVar(&o.paperSettings, "paper-settings", false, "the paper's training setup: constant learning rate 2e-5 for LoRA and FFT (no grid), effective batch 16 in micro-batches of 4, 10 epochs per task, no warm-up, joint training with smaller tasks repeated 79 times, every item and task in the paper's order; flags given explicitly still win")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		given[f.Name] = true
		o.lrLoRAGiven = o.lrLoRAGiven || f.Name == "lr-lora"
		o.lrFFTGiven = o.lrFFTGiven || f.Name == "lr-fft"
	})
	if o.paperSettings {
		// Lee & Wynter's setup (arXiv 2410.14753 and its released code's defaults, github.com/RhuiDih/cl):
		// one constant rate for both methods, an effective batch of 16, ~10 epochs per task; the data's
		// own order.
		set := func(name string, f func()) {
			if !given[name] {
				f()
			}
		}
		set("lr-lora", func() { o.lrLoRA, o.lrLoRAGiven = 2e-5, true })
		set("lr-fft", func() { o.lrFFT, o.lrFFTGiven = 2e-5, true })
		set("lr-grid", func() { o.lrGrid = false })
		set("batch", func() { o.batch = 16 })
		set("micro-batch", func() { o.microBatch = 4 })
		set("epochs", func() { o.epochs = 10 })
		set("min-steps", func() { o.minSteps = 0 })
		set("warmup", func() { o.warmup = 0 })
		set("joint-repeat", func() { o.jointRepeat = 79 })
		set("limit", func() { o.limit = 0 })
		set("rounds", func() { o.rounds = 0 })
		set("seq-rounds", func() { o.seqRounds = 0 })
	}
	if o.evalBatch < 1 {
		return o, fmt.Errorf("-eval-batch must be ≥ 1, got %d", o.evalBatch)
	}
	if o.maxLen < 0 {
		return o, fmt.Errorf("-max-len must be ≥ 0, got %d", o.maxLen)
	}
	if o.jointRepeat < 0 {
		return o, fmt.Errorf("-joint-repeat must be ≥ 0, got %d", o.jointRepeat)
	}
	if mb := cmp.Or(o.microBatch, o.batch); o.devices < 0 || o.devices > 1 && mb%o.devices != 0 {
		return o, fmt.Errorf("-devices must be ≥ 0 and divide the micro-batch (-micro-batch, else -batch) of %d, got %d", mb, o.devices)
	}
	if o.batch < 1 || o.microBatch < 0 || o.microBatch > o.batch || o.warmup < 0 {
		return o, fmt.Errorf("-batch must be ≥ 1, -micro-batch in [0, -batch] and -warmup ≥ 0; got %d, %d, %d", o.batch, o.microBatch, o.warmup)
	}
	var err error
	if o.lrGridLoRA, err = parseRates("lr-grid-lora", *gridLoRA); err != nil {
		return o, err
	}
	if o.lrGridFFT, err = parseRates("lr-grid-fft", *gridFFT); err != nil {
		return o, err
	}
	if o.taskMetrics, err = parseTaskMetrics(*taskMetrics); err != nil {
		return o, err
	}
	switch {
	case methods != "":
		o.methods = strings.Split(methods, ",")
	case o.full:
		o.methods = append(slices.Clone(defaultMethods), "olora-0.5-sum")
	default:
		o.methods = defaultMethods
	}
	for _, m := range o.methods {
		if _, ok := methodByName(m); !ok {
			return o, fmt.Errorf("unknown method %q (want any of %s)", m, strings.Join(methodNames(), ", "))
		}
	}
	for _, c := range []struct {
		flag string
		bad  bool
		want string
		v    any
	}{
		{"-rounds", o.rounds < -1, "≥ 0", o.rounds}, {"-seq-rounds", o.seqRounds < -1, "≥ 0", o.seqRounds},
		{"-limit", o.limit < -1, "≥ 0", o.limit}, {"-knowledge", o.knowledge < -1, "≥ 0", o.knowledge},
		{"-min-steps", o.minSteps < 0, "≥ 0", o.minSteps}, {"-rank", o.rank <= 0 || o.rank > 4096, "in [1, 4096]", o.rank},
		{"-lr-lora", !(o.lrLoRA > 0 && o.lrLoRA <= 1), "in (0, 1]", o.lrLoRA}, {"-lr-fft", !(o.lrFFT > 0 && o.lrFFT <= 1), "in (0, 1]", o.lrFFT},
		{"-replay-ratio", !(o.replayRatio > 0 && o.replayRatio <= 100), "in (0, 100]", o.replayRatio},
	} {
		if c.bad {
			return o, fmt.Errorf("%s must be %s, got %v", c.flag, c.want, c.v)
		}
	}
	if o.epochs < 1 {
		return o, fmt.Errorf("-epochs must be ≥ 1, got %d (-min-steps adds epochs to small tasks)", o.epochs)
	}
	if o.bpbDocs < 0 {
		return o, fmt.Errorf("-bpb-docs must be ≥ 0, got %d", o.bpbDocs)
	}
	if o.seeds < 1 {
		return o, fmt.Errorf("-seeds must be ≥ 1, got %d", o.seeds)
	}
	if o.parallel < 0 || o.parallel > maxParallel {
		return o, fmt.Errorf("-parallel must be in [0, %d], got %d", maxParallel, o.parallel)
	}
	if o.interference < -1 || o.interference == 1 {
		return o, fmt.Errorf("-interference must be 0 (off) or ≥ 2 tasks, got %d", o.interference)
	}
	// -1 is "not given": the miniature's defaults, or every task and item under -full; 0 is always
	// "every".
	unset := func(v, def int) int {
		if v >= 0 {
			return v
		}
		if o.full {
			return 0
		}
		return def
	}
	o.limit = unset(o.limit, defaultLimit)
	o.rounds = unset(o.rounds, 3)
	o.seqRounds = unset(o.seqRounds, 4)
	if o.knowledge < 0 {
		o.knowledge = o.limit
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
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "paper: -cpuprofile:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "paper: -cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
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
	if n := b.NumDevices(); o.devices > n {
		return fmt.Errorf("-devices %d, but backend %s has %d device(s) (set GOMLX_BACKEND to an XLA backend with more)", o.devices, b.Name(), n)
	}
	base, tok, err := cli.LoadModel(b, o.modelDir, model.LoadOptions{BF16: o.bf16})
	if err != nil {
		return err
	}
	o.parallel = parallelRuns(o, b, base.Config.NumParams())
	allTasks, allKnowledge, tmpl, err := loadTasks(o)
	if err != nil {
		return err
	}
	if err := checkOut(o.out); err != nil {
		return err
	}
	// The validation split: items held back from the study, on which the learning rates are chosen
	// and the frontier scored; the study trains and scores only the rest.
	var valTasks, valKnowledge []accrete.Task
	if needsValidation(o) || needsStrengthGrid(o) {
		allTasks, valTasks = splitValidation(allTasks, o.seed)
		allKnowledge, valKnowledge = splitValidation(allKnowledge, o.seed)
	}
	// Every seed samples its own items (the same for every method, so that methods compare on the
	// same items); with every item kept, the seeds differ only in initialisation and data order.
	type sample struct{ tasks, knowledge []accrete.Task }
	samples := make([]sample, o.seeds)
	for k := range samples {
		seed := o.seed + uint64(k)
		samples[k] = sample{sampleTasks(allTasks, o.limit, seed, k), sampleTasks(allKnowledge, o.knowledge, seed, k)}
	}
	var progress io.Writer = stdout
	if o.quiet {
		progress = nil
	}
	notes := describe(o, base.Config.NumParams(), allTasks, samples[0].tasks, allKnowledge, samples[0].knowledge)
	for _, k := range allKnowledge {
		if k.Template != (eval.Template{}) && k.Template != tmpl {
			notes = append(notes, fmt.Sprintf("Retention: %s is scored in its own prompt, %q, the one the base model learnt it in; the rounds train in the data's.",
				k.Name, k.Template.Format("…")))
		}
	}
	if valTasks != nil {
		notes = append(notes, describeValidation(o, valTasks, valKnowledge))
	}
	nInterference := interferenceTasks(o, len(allTasks))
	if nInterference >= 2 {
		notes = append(notes, describeInterference(o, samples[0].tasks, nInterference))
	}
	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}

	cache := accrete.NewAdapterCache() // methods that train the same adapter from the base share it
	scores := &accrete.ScoreCache{}    // and every run scores the base model (and equal weights) once
	// newLearner is a learner for one run, its progress on out (none under -quiet).
	newLearner := func(o options, out io.Writer) (*accrete.Learner, error) {
		m, err := model.New(b, base.Config, base.Weights.Clone())
		if err != nil {
			return nil, err
		}
		l, err := accrete.NewLearner(m, tok)
		if err != nil {
			return nil, err
		}
		l.Template = tmpl
		l.MaxLen = o.maxLen
		l.LoRA = lora.Config{Rank: o.rank, Seed: o.seed}
		l.Train = lora.TrainConfig{LearningRate: o.lrLoRA, Epochs: o.epochs, MinSteps: o.minSteps, BatchSize: o.batch,
			MicroBatchSize: o.microBatch, Seed: o.seed, WarmupSteps: o.warmup, Devices: o.devices}
		if progress != nil {
			l.Progress = out
		}
		l.Cache = cache
		return l, nil
	}
	report := eval.Report{Title: "accrete: adding knowledge in rounds (arXiv 2410.14753 in miniature)", Notes: notes}
	// Learning rates: the first seed's items, trained at each rate of a grid and scored on the
	// validation items, choose each family's rate; -frontier adds the sequential sweep.
	train := func(ctx context.Context, spec method, lr float64, tasks, knowledge []accrete.Task, out io.Writer) (eval.FrontierPoint, error) {
		so := withRate(o, familyOf(spec), lr)
		l, err := newLearner(so, out)
		if err != nil {
			return eval.FrontierPoint{}, err
		}
		fmt.Fprintf(out, "\n== %s at learning rate %s, on validation items (%d round(s), seed %d) ==\n", spec.label,
			eval.FormatRate(lr), len(tasks), so.seed)
		mat, err := accrete.Run(ctx, l, spec.build(so), tasks, accrete.RunOptions{Knowledge: knowledge, Scores: scores,
			Eval: eval.Options{BatchSize: so.evalBatch}})
		p, err := frontierPoint(lr, mat, err)
		if err != nil {
			return p, fmt.Errorf("%s at learning rate %s: %w", spec.name, eval.FormatRate(lr), err)
		}
		return p, nil
	}
	rates, err := chooseRates(ctx, &o, train, samples[0].tasks, valTasks, valKnowledge, stdout)
	if err != nil {
		return err
	}
	report.LearningRates, report.Frontier = rates.rates, rates.points
	report.Notes = append(report.Notes, rates.note)
	fmt.Fprintln(stdout, rates.note)
	strengthNote, err := chooseStrengths(ctx, &o, train, samples[0].tasks, valTasks, valKnowledge, stdout)
	if err != nil {
		return err
	}
	if strengthNote != "" {
		report.Notes = append(report.Notes, strengthNote)
		fmt.Fprintln(stdout, strengthNote)
	}
	general := heldOutText(o.bpbDocs) // read once: every run scores the same documents
	// Every (method, seed) run is independent of the others but for the caches, which hand a run
	// what an equal training or scoring gave (or is giving) another: -parallel runs them at once.
	specs := make([]method, len(o.methods))
	for i, name := range o.methods {
		specs[i], _ = methodByName(name)
		specs[i].label = labelOf(specs[i], o)
	}
	type outcome struct {
		res      eval.MethodResult
		warnings []string
	}
	outcomes := make([]outcome, len(specs)*len(samples))
	parallel := min(o.parallel, len(outcomes))
	if parallel > 1 {
		fmt.Fprintf(stdout, "\nRunning %d of the %d runs (methods × seeds) at a time (-parallel); each line names its run.\n", parallel, len(outcomes))
	}
	tally := studyTally{start: time.Now(), runs: len(outcomes)}
	for i := range outcomes {
		tally.rounds += runRounds(o, specs[i/len(samples)], len(samples[i%len(samples)].tasks))
	}
	runLabel := func(i int) string {
		return fmt.Sprintf("[%s s%d] ", specs[i/len(samples)].name, o.seed+uint64(i%len(samples)))
	}
	err = runJobs(ctx, parallel, len(outcomes), stdout, runLabel, func(ctx context.Context, i int, out io.Writer) error {
		spec, k := specs[i/len(samples)], i%len(samples)
		smp := samples[k]
		so := o
		so.seed = o.seed + uint64(k)
		l, err := newLearner(so, out)
		if err != nil {
			return err
		}
		ts := smp.tasks[:runRounds(o, spec, len(smp.tasks))]
		fmt.Fprintf(out, "\n== %s (%s, %d round(s), seed %d) ==\n", spec.label, spec.setting, len(ts), so.seed)
		start := time.Now()
		runOpts := accrete.RunOptions{Knowledge: smp.knowledge, GeneralText: general, Scores: scores,
			Eval: eval.Options{BatchSize: o.evalBatch}}
		mat, err := accrete.Run(ctx, l, spec.build(so), ts, runOpts)
		if err != nil {
			return fmt.Errorf("%s (seed %d): %w", spec.name, so.seed, err)
		}
		for _, r := range l.History {
			if r.Warning != "" {
				// A training collapse (or another anomaly) goes into the report, not only the log.
				outcomes[i].warnings = append(outcomes[i].warnings,
					fmt.Sprintf("%s, seed %d, round %d (%s): %s", spec.label, so.seed, r.Index+1, r.Task, r.Warning))
			}
		}
		res := eval.FromMatrix(spec.label, spec.setting, mat)
		if spec.oneRound {
			res.Acquisition = mat.R[0][0]
		}
		outcomes[i].res = res
		fmt.Fprintf(out, "%s, seed %d: acquisition %.3f held-out, %.3f trained phrasings; retention %.3f (base %.3f), ΔBPB %s; BWT %s, forgetting %s (%s)\n",
			spec.label, so.seed, res.Acquisition, res.AcquisitionTrained, res.Retention, mat.BaseKnowledge, fmtF(res.DeltaBPB),
			fmtF(mat.BWT()), fmtF(mat.Forgetting()), time.Since(start).Round(time.Second))
		fmt.Fprintln(out, tally.done(len(ts)))
		return nil
	})
	if err != nil {
		return err
	}
	var warnings []string
	for m := range specs {
		var runs []eval.MethodResult
		for k := range samples {
			runs = append(runs, outcomes[m*len(samples)+k].res)
			warnings = append(warnings, outcomes[m*len(samples)+k].warnings...)
		}
		agg, err := eval.Aggregate(runs)
		if err != nil {
			return err
		}
		report.Methods = append(report.Methods, agg)
	}
	if len(warnings) > 0 {
		note := "Warnings raised during training: " + strings.Join(warnings, "; ") + "."
		report.Notes = append(report.Notes, note)
		fmt.Fprintln(stdout, note)
	}
	// Figures 3–5 compare with sequential LoRA over as many rounds as the other methods had: the first
	// rounds of the longer sequential run are exactly that run (training is deterministic).
	if sub, ok := sequentialPrefix(report.Methods, rounds(len(allTasks), o.rounds)); ok {
		report.Methods = append(report.Methods, sub)
	}
	var ir *interferenceReport
	if nInterference >= 2 {
		var seedTasks [][]accrete.Task
		for _, smp := range samples {
			seedTasks = append(seedTasks, smp.tasks)
		}
		if ir, err = interferenceStudy(ctx, o, newLearner, seedTasks, nInterference, stdout); err != nil {
			return err
		}
	}
	if err := plot.SaveReport(&report, o.out); err != nil {
		return err
	}
	if ir != nil {
		if err := saveInterference(o.out, &report, ir); err != nil {
			return err
		}
		if err := interferenceFigure(o.out, ir); err != nil {
			return err
		}
	}
	if err := figures(o.out, report.Methods); err != nil {
		return err
	}
	if err := frontierFigure(o.out, report.Frontier); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := report.WriteMarkdown(stdout); err != nil {
		return err
	}
	if ir != nil {
		if err := writeInterference(stdout, ir); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "\nwrote %s (report.md, report.csv, report.json, figures) in %s\n", o.out, time.Since(began).Round(time.Second))
	return nil
}

// runRounds is the number of rounds spec runs over t tasks: one for a one-round method, -seq-rounds
// for sequential LoRA and FFT, -rounds for the others.
func runRounds(o options, spec method, t int) int {
	switch {
	case spec.oneRound:
		return min(1, t)
	case spec.sequential:
		return rounds(t, o.seqRounds)
	}
	return rounds(t, o.rounds)
}

// studyTally counts the study's finished runs and rounds, for a line with the time left after each run.
type studyTally struct {
	mu                   sync.Mutex
	start                time.Time
	runs, rounds         int // in all
	doneRuns, doneRounds int
}

// done counts a finished run of n rounds and says how far the study is, with the time left estimated
// from the rounds still to run at the rate of those done (rounds differ: a joint round late in the run
// trains on every task so far, so this is a guide, not a promise).
func (s *studyTally) done(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.doneRuns++
	s.doneRounds += n
	took := time.Since(s.start)
	left := time.Duration(float64(took) * float64(s.rounds-s.doneRounds) / float64(max(s.doneRounds, 1)))
	unit := time.Minute
	if left < 10*time.Minute {
		unit = time.Second
	}
	return fmt.Sprintf("study: %d of %d runs done (%d of %d rounds) in %s; about %s left", s.doneRuns, s.runs,
		s.doneRounds, s.rounds, took.Round(time.Second), left.Round(unit))
}

// rounds is the number of rounds a -rounds value n gives over t tasks: every task for 0.
func rounds(t, n int) int {
	if n <= 0 {
		return t
	}
	return min(n, t)
}

// sequentialPrefix returns "LoRA sequential (n rounds)": the first n rounds of every seed's
// sequential LoRA run, aggregated, when that run is longer than n.
func sequentialPrefix(results []eval.MethodResult, n int) (eval.MethodResult, bool) {
	for _, r := range results {
		if r.Method != "LoRA sequential" || r.Matrix == nil || r.Matrix.Rounds() <= n {
			continue
		}
		label := fmt.Sprintf("LoRA sequential (%d rounds)", n)
		var subs []eval.MethodResult
		for _, s := range r.Seeds {
			subs = append(subs, eval.FromMatrix(label, r.Setting, firstRounds(s.Matrix, n)))
		}
		agg, err := eval.Aggregate(subs)
		if err != nil {
			panic(err) // the seeds of one aggregate have the same tasks and rounds
		}
		return agg, true
	}
	return eval.MethodResult{}, false
}

// describe returns the report's header notes: the model, the seeds, the items scored per task (of
// how many), the base facts scored, and the rounds (tasks) each kind of method runs.
func describe(o options, params int, all, sampled, allKnowledge, knowledge []accrete.Task) []string {
	var items []string
	for i, t := range sampled {
		items = append(items, fmt.Sprintf("%s %d of %d", t.Name, len(t.Train), len(all[i].Train)))
	}
	notes := []string{
		fmt.Sprintf("Base model: %d parameters. Seeds: %d (%d–%d); each number is a mean over the seeds with its 95%% "+
			"Student-t interval.", params, o.seeds, o.seed, o.seed+uint64(o.seeds)-1),
		fmt.Sprintf("Items trained and scored per task (of the task's items; -limit %d): %s.", o.limit, strings.Join(items, ", ")),
	}
	if o.bf16 {
		notes = append(notes, "Base weights: every matrix stored as bfloat16 (-bf16), computation in float32; adapters and optimizer state float32.")
	}
	if len(knowledge) > 0 {
		var k []string
		for i, t := range knowledge {
			k = append(k, fmt.Sprintf("%s %d of %d", t.Name, len(t.Test), len(allKnowledge[i].Test)))
		}
		notes = append(notes, "Base-model facts scored for retention: "+strings.Join(k, ", ")+".")
	}
	kinds := map[string]bool{}
	for _, m := range o.methods {
		spec, _ := methodByName(m)
		switch {
		case spec.oneRound:
			kinds["one"] = true
		case spec.sequential:
			kinds["seq"] = true
		default:
			kinds["multi"] = true
		}
	}
	var rs []string
	names := func(n int) string { return fmt.Sprintf("%d (%s)", n, taskNames(sampled[:n])) }
	if kinds["one"] {
		rs = append(rs, "one-round methods "+names(1))
	}
	if kinds["seq"] {
		rs = append(rs, "sequential LoRA and FFT "+names(rounds(len(sampled), o.seqRounds)))
	}
	if kinds["multi"] {
		rs = append(rs, "the other methods "+names(rounds(len(sampled), o.rounds)))
	}
	notes = append(notes, "Rounds: "+strings.Join(rs, "; ")+". Methods: "+strings.Join(o.methods, ", ")+".")
	return append(notes, describeTraining(o))
}

// describeTraining states how each round trains: the effective batch and its micro-batches, the
// epochs, the warm-up, and how joint training sizes its tasks.
func describeTraining(o options) string {
	s := fmt.Sprintf("Training: AdamW, effective batch %d sequences per optimizer step", o.batch)
	if o.microBatch > 0 && o.microBatch < o.batch {
		s += fmt.Sprintf(" (gradients accumulated over micro-batches of %d)", o.microBatch)
	}
	s += fmt.Sprintf("; %d epochs per round", o.epochs)
	if o.minSteps > 0 {
		s += fmt.Sprintf(" (at least %d optimizer steps)", o.minSteps)
	}
	s += fmt.Sprintf("; %d warm-up steps, then a constant learning rate", o.warmup)
	if slices.Contains(o.methods, "joint") {
		if o.jointRepeat > 0 {
			s += fmt.Sprintf("; joint training repeats each task smaller than the largest %d times", o.jointRepeat)
		} else {
			s += "; joint training samples smaller tasks up to the largest's size"
		}
	}
	return s + "."
}

// sampleTasks keeps at most limit training and test items of each task (every item for 0), evenly
// spaced over the task as packs.Options.Limit does (index ⌊(i+u)·n/limit⌋); the first seed (k = 0)
// takes u = 0, as packs does, and later seeds a phase u ∈ [0, 1) drawn from seed, so that each seed
// samples other items.
func sampleTasks(tasks []accrete.Task, limit int, seed uint64, k int) []accrete.Task {
	u := 0.0
	if k > 0 {
		u = rand.New(rand.NewPCG(seed, 0x5a3)).Float64()
	}
	out := make([]accrete.Task, len(tasks))
	for i, t := range tasks {
		t.Train, t.Test = sampleEvenly(t.Train, limit, u), sampleEvenly(t.Test, limit, u)
		out[i] = t
	}
	return out
}

// sampleEvenly returns limit items of xs at ⌊(i+u)·len(xs)/limit⌋, or xs itself when limit is 0 or
// not below len(xs).
func sampleEvenly[T any](xs []T, limit int, u float64) []T {
	if limit <= 0 || limit >= len(xs) {
		return xs
	}
	out := make([]T, limit)
	for i := range out {
		out[i] = xs[min(len(xs)-1, int((float64(i)+u)*float64(len(xs))/float64(limit)))]
	}
	return out
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

// parseTaskMetrics parses -task-metrics: NAME=METRIC pairs, comma-separated; nil for "".
func parseTaskMetrics(s string) (map[string]eval.Metric, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]eval.Metric{}
	for _, kv := range strings.Split(s, ",") {
		name, m, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("-task-metrics: %q is not NAME=METRIC", kv)
		}
		if !eval.Metric(m).Valid() {
			return nil, fmt.Errorf("-task-metrics: %q: unknown metric %q", name, m)
		}
		out[name] = eval.Metric(m)
	}
	return out, nil
}

// loadTasks returns the new-knowledge tasks and the base-knowledge tasks (retention), every item of
// each (sampleTasks applies -limit and -knowledge per seed), and the template the rounds train in: the
// paper's (eval.PaperTemplate: TRACE prompts as is, MetaMathQA and GSM8K in Alpaca's prompt, EOS after
// the answer) for a directory of the paper's data, "Q:/A:" for the packs and a tasks.json manifest.
// The shipped model's own facts keep "Q:/A:" (their Task.Template) whatever the rounds train in: it
// learnt them in that template and knows none of them in the paper's.
func loadTasks(o options) (tasks, knowledge []accrete.Task, tmpl eval.Template, err error) {
	po := packs.Options{}
	base, err := packs.Base(po)
	if err != nil {
		return nil, nil, tmpl, err
	}
	base.Template = eval.DefaultTemplate
	if o.tasksDir == "" {
		tasks, err = packs.All(po)
		return tasks, []accrete.Task{base}, eval.DefaultTemplate, err
	}
	dir, err := eval.ReadTaskDir(o.tasksDir, eval.ReadOptions{Metrics: o.taskMetrics})
	if err != nil {
		return nil, nil, tmpl, err
	}
	for _, t := range dir.Tasks {
		if len(t.Train) == 0 {
			knowledge = append(knowledge, t) // score-only tasks measure retention
			continue
		}
		tasks = append(tasks, t)
	}
	if len(tasks) == 0 {
		return nil, nil, tmpl, fmt.Errorf("%s: no task with training items", o.tasksDir)
	}
	if len(knowledge) == 0 && o.modelDir == "" {
		knowledge = []accrete.Task{base}
	}
	return tasks, knowledge, dir.Template(), nil
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
		{"figure3_olora.png", "Figure 3: O-LoRA, small vs large λ", []string{baseline, "O-LoRA λ=0.5", "O-LoRA λ=5", "O-LoRA λ=0.5 (raw sum)"}},
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
		p, err := plot.Bars(f.title, sel)
		if err != nil {
			return err
		}
		if err := plot.Save(p, filepath.Join(dir, f.file), 16*36, 9*36); err != nil {
			return err
		}
	}
	return nil
}
