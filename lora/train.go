package lora

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/internal/adamw"
	"github.com/accrete/accrete/internal/progress"
	"github.com/accrete/accrete/model"
)

// Sequence is one tokenised training example, a prompt followed by its answer: the loss covers the
// tokens from PromptLen on (the answer), each predicted from everything before it; the prompt's tokens
// are context only.
type Sequence struct {
	Tokens    []int
	PromptLen int
}

// Schedule names a learning-rate schedule after warm-up.
type Schedule string

// Learning-rate schedules.
const (
	Constant Schedule = "constant"
	Linear   Schedule = "linear" // decays linearly to 0 at the last step
	Cosine   Schedule = "cosine" // decays along a half cosine to 0 at the last step
)

// TrainConfig configures Train. Zero values mean the documented defaults.
//
// A trained tensor stored as bfloat16 (model.LoadOptions.BF16, Weights.ToBF16) is trained through a
// float32 master copy with float32 AdamW moments, automatically: see "Full fine-tuning in bfloat16"
// in the package documentation. Every field applies to it unchanged.
type TrainConfig struct {
	// LearningRate is AdamW's peak step size. Default (0): 1e-3.
	LearningRate float64
	// Schedule after warm-up. Default (""): Constant.
	Schedule Schedule
	// WarmupSteps ramp the rate linearly from 0. Default 0: none.
	WarmupSteps int
	// WeightDecay is AdamW's decoupled decay. Default 0.
	WeightDecay float64
	// Beta1, Beta2, Epsilon of Adam. Defaults (0): 0.9, 0.999, 1e-8.
	Beta1, Beta2, Epsilon float64
	// ClipNorm clips the global gradient norm. Default (0): 1.0; negative: no clipping.
	ClipNorm float64
	// Epochs over the data. Default (0): 1.
	Epochs int
	// MaxSteps, when > 0, stops after that many optimizer steps.
	MaxSteps int
	// MinSteps, when > 0, raises Epochs until the run has at least MinSteps optimizer steps, so that
	// a small task is not under-trained (20 items of 5 phrasings at batch 8 are 13 steps an epoch);
	// a larger task keeps Epochs. MaxSteps still caps it. Default 0: Epochs as given.
	MinSteps int
	// BatchSize is the number of sequences per optimizer step (the effective batch). Default (0): 8.
	BatchSize int
	// MicroBatchSize, when > 0 and < BatchSize, splits each step's batch into micro-batches of at most
	// this many sequences that run one after another (gradient accumulation): their gradients are
	// summed, each weighted by its share of the step's answer tokens, before the one AdamW step, so the
	// update equals the full batch's up to float rounding while activations are held for only
	// MicroBatchSize sequences at a time. Default (0): BatchSize, no accumulation.
	MicroBatchSize int
	// TargetLoss, when > 0, stops after the first epoch whose mean task loss is at or below it.
	TargetLoss float64
	// Seed shuffles the data each epoch and drives dropout. Default 0.
	Seed uint64
	// ExtraLoss, when set, is added to the task loss inside the graph (O-LoRA's orthogonality penalty);
	// p holds every parameter node by name. It must return a scalar.
	ExtraLoss func(p model.Params) *graph.Node
	// Progress receives a progress bar with loss and ETA. nil: silent.
	Progress io.Writer
	// Label prefixes the progress bar. Default "train".
	Label string
	// MemoryBudget is the bytes the run may use: Train refuses a run whose memory plan (PlanMemory
	// for this model, the trained tensors, MicroBatchSize and the longest example) exceeds it, before
	// it allocates anything, with a *PlanError that wraps ErrMemory and holds the plan. Default (0):
	// the machine's physical memory on the CPU backends (no check where it cannot be read, or on
	// other backends); negative: no check.
	MemoryBudget int64
	// Layout says where the trained tensors and AdamW's state live during the run. Default
	// (LayoutAuto): on the host on the CPU backends, on the device on the others (XLA).
	Layout Layout
	// Recompute keeps only each decoder layer's input from the forward pass and recomputes the layer's
	// activations in the backward pass, one layer at a time (activation checkpointing,
	// model.RecomputedGradients): the step's activations shrink from every layer's intermediates to
	// one layer's plus the layers' inputs, for about a third more compute. For long sequences. It
	// cannot be combined with adapter dropout (a recomputed layer would draw other masks). Default
	// false.
	Recompute bool
	// Devices, when > 1, trains data-parallel on that many devices of the backend (XLA with several
	// GPUs or TPUs) through GoMLX's AutoSharding: each micro-batch is split along the batch axis, the
	// trained tensors and AdamW's state are replicated, and XLA adds the gradients' all-reduce (see
	// "Several devices" in the package documentation). The update is the one-device update of the
	// same batch. It needs the device layout and a MicroBatchSize (BatchSize without accumulation)
	// that Devices divides; Train refuses a backend with fewer devices, such as the CPU backends (one
	// each). Default (0 or 1): one device.
	Devices int
}

func (c TrainConfig) withDefaults() TrainConfig {
	c.LearningRate = cmpOr(c.LearningRate, 1e-3)
	if c.Schedule == "" {
		c.Schedule = Constant
	}
	c.Beta1 = cmpOr(c.Beta1, 0.9)
	c.Beta2 = cmpOr(c.Beta2, 0.999)
	c.Epsilon = cmpOr(c.Epsilon, 1e-8)
	c.ClipNorm = cmpOr(c.ClipNorm, 1.0)
	if c.Epochs <= 0 {
		c.Epochs = 1
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 8
	}
	if c.MicroBatchSize <= 0 || c.MicroBatchSize > c.BatchSize {
		c.MicroBatchSize = c.BatchSize
	}
	if c.Label == "" {
		c.Label = "train"
	}
	return c
}

func cmpOr(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// Validate names the first bad field.
func (c TrainConfig) Validate() error {
	if c.MicroBatchSize < 0 {
		return fmt.Errorf("lora train config: MicroBatchSize must be ≥ 0, got %d", c.MicroBatchSize)
	}
	c = c.withDefaults()
	switch {
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("lora train config: LearningRate must be > 0, got %g", c.LearningRate)
	case c.Schedule != Constant && c.Schedule != Linear && c.Schedule != Cosine:
		return fmt.Errorf("lora train config: Schedule %q unknown (constant, linear or cosine)", c.Schedule)
	case c.WarmupSteps < 0:
		return fmt.Errorf("lora train config: WarmupSteps must be ≥ 0, got %d", c.WarmupSteps)
	case c.WeightDecay < 0:
		return fmt.Errorf("lora train config: WeightDecay must be ≥ 0, got %g", c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("lora train config: Beta1, Beta2 must be in [0, 1), got %g, %g", c.Beta1, c.Beta2)
	case c.MaxSteps < 0:
		return fmt.Errorf("lora train config: MaxSteps must be ≥ 0, got %d", c.MaxSteps)
	case c.MinSteps < 0:
		return fmt.Errorf("lora train config: MinSteps must be ≥ 0, got %d", c.MinSteps)
	case c.Layout != LayoutAuto && c.Layout != LayoutHost && c.Layout != LayoutDevice:
		return fmt.Errorf("lora train config: Layout %q unknown (\"\", host or device)", c.Layout)
	case c.Devices < 0:
		return fmt.Errorf("lora train config: Devices must be ≥ 0, got %d", c.Devices)
	}
	return nil
}

// Result summarises a training run.
type Result struct {
	Steps, Epochs int
	// Loss is the mean task loss of the last epoch; Extra the mean ExtraLoss term of the last epoch.
	Loss, Extra float64
	// FirstLoss is the task loss of the first step's batch, before any update: where the run started.
	FirstLoss float64
	// EpochLoss and EpochExtra hold the per-epoch means.
	EpochLoss, EpochExtra []float64
	// Tokens counts the training tokens processed (padding excluded).
	Tokens int
}

// Collapse thresholds (Result.Collapse), in nats.
const (
	// CollapseRise is how far above FirstLoss a run's last loss may end.
	CollapseRise = 1.0
	// CollapseChance is how close to ln(vocabulary) (a uniform prediction) a run's last loss may end
	// when it started more than CollapseRise below it.
	CollapseChance = 0.25
)

// Collapse describes a run whose loss went up instead of down, or returns "" for one that did not:
// the last epoch's mean loss ends more than CollapseRise above FirstLoss, or, for a run that started
// more than CollapseRise below ln(vocabSize) (the loss of a uniform prediction), within
// CollapseChance of it: the model forgot what it knew. A learning rate far too high does this.
// vocabSize ≤ 1 skips the second test.
func (r Result) Collapse(vocabSize int) string {
	if r.Steps == 0 || math.IsNaN(r.Loss) || math.IsNaN(r.FirstLoss) {
		return ""
	}
	if r.Loss > r.FirstLoss+CollapseRise {
		return fmt.Sprintf("loss rose from %.3f to %.3f over %d steps (collapse; is the learning rate too high?)", r.FirstLoss, r.Loss, r.Steps)
	}
	if vocabSize > 1 {
		chance := math.Log(float64(vocabSize))
		if r.FirstLoss < chance-CollapseRise && r.Loss > chance-CollapseChance {
			return fmt.Sprintf("loss went from %.3f to %.3f over %d steps, near ln(%d) = %.3f, a uniform prediction (collapse; is the learning rate too high?)",
				r.FirstLoss, r.Loss, r.Steps, vocabSize, chance)
		}
	}
	return ""
}

// ErrNonFinite is returned (wrapped) when the loss becomes NaN or ±Inf; the weights are restored.
var ErrNonFinite = errors.New("lora: loss is not finite")

// Train minimises the masked cross-entropy of data (plus cfg.ExtraLoss) over the named tensors of m,
// which may be base weights (full fine-tuning) or tensors of the attached adapter (LoRA), with AdamW.
// Every other tensor stays bit-identical. On error (a non-finite loss, a cancelled ctx) the trained
// tensors are restored to their values before the call. The optimizer state lives for this call only:
// in host memory on the CPU backends, in device buffers updated in the graph elsewhere (cfg.Layout).
// A trained tensor stored as bfloat16 stays bfloat16: AdamW updates a float32 master copy of it, made
// from its stored values at the start of the call, and the tensor holds the master rounded to nearest
// even after every step (see "Full fine-tuning in bfloat16" in the package documentation).
//
// A run has four steps: check the inputs and the memory plan (trainedTensors, checkExamples,
// checkMemory), build the step graph (newStepGraph), loop over epochs and batches (trainLoop), and
// apply each step's update (updater).
func Train(ctx context.Context, m *model.Model, trainable []string, data []Sequence, cfg TrainConfig) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	if len(data) == 0 {
		return Result{}, errors.New("lora: Train: no examples")
	}
	host, err := trainedTensors(m, trainable)
	if err != nil {
		return Result{}, err
	}
	if err := checkExamples(m.Config, data); err != nil {
		return Result{}, err
	}
	if err := checkMemory(m, host, data, cfg); err != nil {
		return Result{}, err
	}
	dp, err := newDataParallel(m, cfg)
	if err != nil {
		return Result{}, err
	}
	defer dp.close()
	upd, err := newUpdater(m, trainable, host, cfg, dp)
	if err != nil {
		return Result{}, err
	}
	defer upd.close()
	sg := newStepGraph(m, trainable, cfg.ExtraLoss)
	sg.dp = dp
	if cfg.Recompute {
		if sg.drop != nil {
			return Result{}, fmt.Errorf("lora: Train: TrainConfig.Recompute cannot be combined with the adapter's dropout (%g): a recomputed layer would draw other masks", sg.drop.Config.Dropout)
		}
		sg.recompute = trainable
	}
	defer sg.close()

	epochs, total := stepCount(cfg, len(data))
	cfg.Epochs = epochs
	l := &trainLoop{
		cfg: cfg, data: data, prog: sg, upd: upd, total: total,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x7a1)),
		bar: progress.New(cfg.Progress, cfg.Label, total),
	}
	if err := l.run(ctx); err != nil {
		return l.res, errors.Join(err, upd.restore())
	}
	if err := upd.commit(); err != nil {
		return l.res, errors.Join(err, upd.restore())
	}
	return l.res, nil
}

// trainedTensors returns the tensors named trainable, found among m's weights or its adapter's
// tensors, and refuses an empty list and an unknown name. A tensor stored as bfloat16 is trained
// through a float32 master copy (master.go).
func trainedTensors(m *model.Model, trainable []string) (map[string]*model.Tensor, error) {
	if len(trainable) == 0 {
		return nil, errors.New("lora: Train: no trainable tensors")
	}
	host := map[string]*model.Tensor{}
	adapterTensors := map[string]*model.Tensor{}
	if a := m.Adapter(); a != nil {
		adapterTensors = a.Tensors()
	}
	for _, n := range trainable {
		t, ok := m.Weights[n]
		if !ok {
			t, ok = adapterTensors[n]
		}
		if !ok {
			return nil, fmt.Errorf("lora: Train: no tensor %q in the model or its adapter", n)
		}
		host[n] = t
	}
	return host, nil
}

// checkExamples refuses an example with no answer token, longer than the model's context or with a
// token outside its vocabulary.
func checkExamples(mc model.Config, data []Sequence) error {
	for i, ex := range data {
		if len(ex.Tokens) < 2 || ex.PromptLen < 1 || ex.PromptLen >= len(ex.Tokens) {
			return fmt.Errorf("lora: Train: example %d has %d tokens and PromptLen %d: need 1 ≤ PromptLen < len(Tokens)",
				i, len(ex.Tokens), ex.PromptLen)
		}
		if L := mc.MaxPositionEmbeddings; L > 0 && len(ex.Tokens) > L {
			return fmt.Errorf("lora: Train: example %d has %d tokens, more than the model's max_position_embeddings %d (cut long items with accrete.Learner.MaxLen)",
				i, len(ex.Tokens), L)
		}
		for _, id := range ex.Tokens {
			if id < 0 || id >= mc.VocabSize {
				return fmt.Errorf("lora: Train: example %d: token %d outside the vocabulary [0, %d)", i, id, mc.VocabSize)
			}
		}
	}
	return nil
}

// newUpdater returns the updater of cfg.Layout: on the host, or on the device (the default off the
// CPU backends, and always on several devices: dp non-nil).
func newUpdater(m *model.Model, trainable []string, host map[string]*model.Tensor, cfg TrainConfig, dp *dataParallel) (updater, error) {
	if dp != nil || cfg.Layout == LayoutDevice || cfg.Layout == LayoutAuto && !onHost(m.Backend()) {
		return newMeshUpdater(m, trainable, host, cfg, dp)
	}
	return newHostUpdater(m, trainable, host, cfg), nil
}

// stepCount returns the epochs a run of n examples takes (Epochs, raised to reach MinSteps) and its
// optimizer steps (capped by MaxSteps).
func stepCount(cfg TrainConfig, n int) (epochs, total int) {
	stepsPerEpoch := (n + cfg.BatchSize - 1) / cfg.BatchSize
	epochs = cfg.Epochs
	if cfg.MinSteps > 0 {
		epochs = max(epochs, (cfg.MinSteps+stepsPerEpoch-1)/stepsPerEpoch)
	}
	total = epochs * stepsPerEpoch
	if cfg.MaxSteps > 0 {
		total = min(total, cfg.MaxSteps)
	}
	return epochs, total
}

// stepGraph is the training graph of one micro-batch: it returns the task loss, the extra loss and
// the gradients of the trained tensors, each scaled by the micro-batch's weight. It compiles one
// program per padded shape [B, T] and answer window A (batchArgs).
//
// The graph's inputs are every parameter of the model (in names' order), then tokens and positions
// [B, T], the answer window's positions, targets and loss mask [B, A], the micro-batch's weight in the
// step's loss (its share of the answer tokens; 1 without accumulation, which leaves the gradients
// bit-identical) and, when the adapter has dropout, the RNG state its masks are drawn from. Only the
// window's A rows of each sequence go through the output head and the softmax: the prompt's positions
// predict nothing the loss reads, and on short answers after long prompts the head's [T, V] product
// and its gradient were a large share of a step's work (a quarter on the study's facts) and its largest
// buffers.
type stepGraph struct {
	m     *model.Model
	names []string // every parameter, in input order
	wrt   []int    // the trained tensors' positions in names
	drop  *Adapter // the adapter whose inputs get dropout, or nil
	extra func(p model.Params) *graph.Node
	execs map[[3]int]*graph.Exec
	// recompute, when set, names the trained tensors and the step recomputes activations
	// (TrainConfig.Recompute).
	recompute []string
	// dp, when set, runs the step on several devices (TrainConfig.Devices).
	dp *dataParallel
}

func newStepGraph(m *model.Model, trainable []string, extra func(p model.Params) *graph.Node) *stepGraph {
	s := &stepGraph{m: m, names: m.ParamNames(), extra: extra, execs: map[[3]int]*graph.Exec{}}
	s.wrt = make([]int, len(trainable))
	for i, n := range trainable {
		s.wrt[i] = slices.Index(s.names, n)
	}
	if a, ok := m.Adapter().(*Adapter); ok && a.Config.Dropout > 0 {
		s.drop = a
	}
	return s
}

// build is the graph function: see stepGraph for its inputs.
func (s *stepGraph) build(in []*graph.Node) []*graph.Node {
	mc := s.m.Config
	p := model.BuildParams(s.names, in)
	k := len(s.names)
	tokens, positions, window, targets, mask, weight := in[k], in[k+1], in[k+2], in[k+3], in[k+4], in[k+5]
	hook := s.m.Hook(p)
	if s.drop != nil {
		hook = dropoutHook(s.drop, p, in[k+6])
	}
	// The gradients are taken with respect to p's entries: for a bfloat16 parameter that is its
	// conversion to float32 (BuildParams), so its gradient is float32, never rounded to bfloat16.
	wrt := make([]*graph.Node, len(s.wrt))
	for i, j := range s.wrt {
		wrt[i] = p[s.names[j]]
	}
	fin := model.ForwardInput{Tokens: tokens, Positions: positions, Hook: hook}
	if s.recompute != nil {
		lossFn := func(h *graph.Node) *graph.Node {
			return model.MaskedCrossEntropy(model.Logits(mc, p, answerRows(h, window)), targets, mask)
		}
		loss, grads := model.RecomputedGradients(mc, p, fin, lossFn, wrt, s.recompute)
		extra := graph.ZerosLike(loss)
		if s.extra != nil {
			extra = s.extra(p)
			for i, g := range graph.Gradient(extra, wrt...) {
				grads[i] = graph.Add(grads[i], g)
			}
		}
		for i := range grads {
			grads[i] = graph.Mul(grads[i], weight)
		}
		return append([]*graph.Node{loss, extra}, grads...)
	}
	h, _ := model.Forward(mc, p, fin)
	loss := model.MaskedCrossEntropy(model.Logits(mc, p, answerRows(h, window)), targets, mask)
	total, extra := loss, graph.ZerosLike(loss)
	if s.extra != nil {
		extra = s.extra(p)
		total = graph.Add(loss, extra)
	}
	total = graph.Mul(total, weight)
	return append([]*graph.Node{loss, extra}, graph.Gradient(total, wrt...)...)
}

// answerRows gathers the hidden states h [B, T, D] at the answer window's positions window [B, A]
// (int32, each in [0, T)): [B, A, D]. The gather is row-local, so a shard of the batch (data
// parallel) gathers its own rows.
func answerRows(h, window *graph.Node) *graph.Node {
	d := h.Shape().Dimensions
	B, T, D := d[0], d[1], d[2]
	A := window.Shape().Dimensions[1]
	g := h.Graph()
	row := graph.MulScalar(graph.Iota(g, shapes.Make(dtypes.Int32, B, A), 0), float64(T))
	at := graph.Reshape(graph.Add(row, graph.ConvertDType(window, dtypes.Int32)), B*A, 1)
	return graph.Reshape(graph.Gather(graph.Reshape(h, B*T, D), at), B, A, D)
}

// run computes one micro-batch laid out as [B, T] with answer window A by batchArgs, with weight w;
// rngState is the dropout masks' RNG state, nil without dropout. On several devices (dp) grads holds
// every device's copy of the gradients, device after device.
func (s *stepGraph) run(args []any, shape [3]int, w float32, rngState *tensors.Tensor) (loss, extra float64, grads []*tensors.Tensor, err error) {
	if s.dp != nil {
		return s.dp.step(s, args, shape, w, rngState)
	}
	args = append(args, tensors.FromScalar(w))
	if s.drop != nil {
		args = append(args, rngState)
	}
	e, ok := s.execs[shape]
	if !ok {
		e = graph.MustNewExec(s.m.Backend(), s.build)
		s.execs[shape] = e
	}
	params := s.m.ParamTensors(s.names)
	all := make([]any, 0, len(params)+len(args))
	for _, t := range params {
		all = append(all, t)
	}
	out, err := e.Exec(append(all, args...)...)
	if err != nil {
		return 0, 0, nil, err
	}
	loss, extra = scalar(out[0]), scalar(out[1])
	finalize(out[:2])
	return loss, extra, out[2:], nil
}

func (s *stepGraph) close() {
	for _, e := range s.execs {
		e.Finalize()
	}
}

// dropoutHook is a's hook for a training graph with parameters p: the input of every adapted module
// gets dropout before a.Delta, its masks drawn from state, which the hook threads through the modules
// in the order the forward pass calls them.
func dropoutHook(a *Adapter, p model.Params, state *graph.Node) model.Hook {
	return func(layer int, module string, x *graph.Node) *graph.Node {
		if _, ok := a.A[Module{layer, module}]; ok {
			state, x = dropout(state, x, a.Config.Dropout)
		}
		return a.Delta(p, layer, module, x)
	}
}

// dropout is inverted dropout at rate p (torch.nn.Dropout): each element of x survives with
// probability 1−p and is scaled by 1/(1−p). It returns the advanced RNG state with the result, as
// graph.RandomUniform does.
func dropout(state, x *graph.Node, p float64) (*graph.Node, *graph.Node) {
	state, u := graph.RandomUniform(state, x.Shape())
	keep := graph.GreaterOrEqual(u, graph.ConstAsDType(u.Graph(), u.DType(), p))
	return state, graph.Where(keep, graph.DivScalar(x, 1-p), graph.ZerosLike(x))
}

// trainLoop is the loop of one Train call over epochs and batches.
type trainLoop struct {
	cfg   TrainConfig // with defaults, Epochs raised to reach MinSteps
	data  []Sequence
	prog  *stepGraph
	upd   updater
	total int        // optimizer steps of the run
	rng   *rand.Rand // shuffles the data each epoch and seeds each micro-batch's dropout
	bar   *progress.Bar
	res   Result
}

// run trains until the epochs or the steps are done or the epoch loss reaches cfg.TargetLoss. On
// error the caller restores the weights.
func (l *trainLoop) run(ctx context.Context) error {
	order := make([]int, len(l.data))
	for i := range order {
		order[i] = i
	}
	for epoch := 0; epoch < l.cfg.Epochs && l.res.Steps < l.total; epoch++ {
		l.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if err := l.epoch(ctx, epoch, order); err != nil {
			return err
		}
		if l.cfg.TargetLoss > 0 && l.res.Loss <= l.cfg.TargetLoss {
			l.bar.Update(l.total, fmt.Sprintf("early stop: epoch loss %.4f ≤ %g", l.res.Loss, l.cfg.TargetLoss))
			break
		}
	}
	return nil
}

// epoch runs the steps of one epoch over data in order and records its mean losses.
func (l *trainLoop) epoch(ctx context.Context, epoch int, order []int) error {
	var sumLoss, sumExtra float64
	var nb int
	for s := 0; s < len(order) && l.res.Steps < l.total; s += l.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := make([]Sequence, 0, l.cfg.BatchSize)
		for _, i := range order[s:min(s+l.cfg.BatchSize, len(order))] {
			batch = append(batch, l.data[i])
		}
		loss, extra, ntok, err := l.step(batch)
		if err != nil {
			return err
		}
		if l.res.Steps == 0 {
			l.res.FirstLoss = loss
		}
		l.res.Steps++
		l.res.Tokens += ntok
		sumLoss += loss
		sumExtra += extra
		nb++
		info := fmt.Sprintf("loss %.4f", loss)
		if l.cfg.ExtraLoss != nil {
			info += fmt.Sprintf(" extra %.4g", extra)
		}
		l.bar.Update(l.res.Steps, fmt.Sprintf("epoch %d/%d %s", epoch+1, l.cfg.Epochs, info))
	}
	l.res.Epochs++
	l.res.Loss, l.res.Extra = sumLoss/float64(nb), sumExtra/float64(nb)
	l.res.EpochLoss = append(l.res.EpochLoss, l.res.Loss)
	l.res.EpochExtra = append(l.res.EpochExtra, l.res.Extra)
	return nil
}

// step is one optimizer step on batch: the gradients of its micro-batches, each weighted by its share
// of the batch's answer tokens, are summed and applied in one AdamW update. It returns the batch's
// task and extra loss and its answer tokens.
func (l *trainLoop) step(batch []Sequence) (loss, extra float64, ntok int, err error) {
	type microBatch struct {
		args  []any
		shape [3]int
		ntok  int
	}
	var micros []microBatch
	for lo := 0; lo < len(batch); lo += l.cfg.MicroBatchSize {
		args, shape, n := batchArgs(batch[lo:min(lo+l.cfg.MicroBatchSize, len(batch))], l.cfg.MicroBatchSize)
		micros = append(micros, microBatch{args, shape, n})
		ntok += n
	}
	step := l.res.Steps
	var grads []*tensors.Tensor
	for _, mb := range micros {
		w := float32(1)
		if len(micros) > 1 {
			w = float32(float64(mb.ntok) / float64(ntok))
		}
		var state *tensors.Tensor
		if l.prog.drop != nil {
			state = rngState(l.rng)
		}
		lo, x, g, err := l.prog.run(mb.args, mb.shape, w, state)
		if err != nil {
			finalize(grads)
			return 0, 0, 0, fmt.Errorf("lora: training step %d: %w", step, err)
		}
		if math.IsNaN(lo+x) || math.IsInf(lo+x, 0) {
			finalize(g)
			finalize(grads)
			return 0, 0, 0, fmt.Errorf("%w at step %d (task loss %g, extra %g); weights restored", ErrNonFinite, step, lo, x)
		}
		if len(micros) == 1 {
			loss, extra = lo, x
		} else {
			loss += float64(w) * lo
			extra += float64(w) * x
		}
		if grads == nil {
			grads = g
		} else if grads, err = l.upd.add(grads, g); err != nil {
			return 0, 0, 0, fmt.Errorf("lora: training step %d: accumulating gradients: %w", step, err)
		}
	}
	if err := l.upd.step(grads, step, l.total); err != nil {
		return 0, 0, 0, fmt.Errorf("lora: training step %d: optimizer: %w", step, err)
	}
	return loss, extra, ntok, nil
}

// rngState draws a fresh GoMLX RNG state (dropout masks) from rng.
func rngState(rng *rand.Rand) *tensors.Tensor {
	st := tensors.FromShape(graph.RNGStateShape)
	tensors.MutableFlatData(st, func(f []uint64) {
		for i := range f {
			f[i] = rng.Uint64()
		}
	})
	return st
}

// accumulate adds each gradient of g into the one of acc at the same index, in place.
func accumulate(acc, g []*tensors.Tensor) {
	type chunk struct{ i, lo, hi int }
	var chunks []chunk
	for i, t := range acc {
		n := t.Shape().Size()
		for lo := 0; lo < n; lo += adamChunk {
			chunks = append(chunks, chunk{i, lo, min(n, lo+adamChunk)})
		}
	}
	dst := make([][]float32, len(acc))
	src := make([][]float32, len(g))
	for i := range acc {
		// The flat slices stay valid after the access functions return: the tensors are local and
		// neither is finalized before the additions are done.
		tensors.MutableFlatData(acc[i], func(f []float32) { dst[i] = f })
		tensors.ConstFlatData(g[i], func(f []float32) { src[i] = f })
	}
	parallelChunks(len(chunks), func(k int) {
		ch := chunks[k]
		d, s := dst[ch.i][ch.lo:ch.hi], src[ch.i][ch.lo:ch.hi]
		for j := range d {
			d[j] += s[j]
		}
	})
}

// trainPlan is the memory plan of a Train call on m with the trained tensors host.
func trainPlan(m *model.Model, host map[string]*model.Tensor, data []Sequence, cfg TrainConfig) Plan {
	o := PlanOptions{Method: MethodLoRA, Batch: cfg.MicroBatchSize, Accumulate: cfg.MicroBatchSize < cfg.BatchSize}
	for n, t := range host {
		o.TrainableParams += int64(t.Size())
		if _, ok := m.Weights[n]; ok {
			o.Method = MethodFFT
		}
	}
	if a, ok := m.Adapter().(*Adapter); ok {
		o.Adapter = a.Config
	}
	maxLen, maxAnswer := 0, 0
	for _, ex := range data {
		maxLen = max(maxLen, len(ex.Tokens))
		lo, hi := answerWindow(ex)
		maxAnswer = max(maxAnswer, hi-lo)
	}
	o.SeqLen = model.StepBucket(maxLen)
	o.AnswerLen = min(model.Bucket(maxAnswer), o.SeqLen)
	o.Device = !onHost(m.Backend()) && cfg.Layout != LayoutHost
	o.CopiedWeights = m.Backend().String() == "go"
	o.Recompute = cfg.Recompute
	o.Devices = cfg.Devices
	if e, ok := m.Weights["model.embed_tokens.weight"]; ok && e.IsBF16() {
		o.DType = BF16
	}
	// The step graph computes in float32 whatever the weights are stored in (model.BuildParams), and
	// its gradients are float32: bfloat16 FFT adds float32 master weights (PlanMemory).
	o.Compute = F32
	return PlanMemory(m.Config, o)
}

// checkMemory refuses a run whose plan exceeds cfg.MemoryBudget (or its default).
func checkMemory(m *model.Model, host map[string]*model.Tensor, data []Sequence, cfg TrainConfig) error {
	budget := cfg.MemoryBudget
	if budget < 0 {
		return nil
	}
	if budget == 0 {
		if !onHost(m.Backend()) {
			return nil
		}
		if budget = hostMemory(); budget == 0 {
			return nil
		}
	}
	if p := trainPlan(m, host, data, cfg); !p.Fits(budget) {
		return &PlanError{Plan: p, Budget: budget}
	}
	return nil
}

// onHost reports whether b computes in host memory: accrete's CPU backend or GoMLX's pure-Go one.
func onHost(b backends.Backend) bool {
	s := b.String()
	return s == "accrete" || s == "go"
}

func scalar(t *tensors.Tensor) float64 {
	var v float64
	tensors.ConstFlatData(t, func(f []float32) { v = float64(f[0]) })
	return v
}

func finalize(ts []*tensors.Tensor) {
	for _, t := range ts {
		t.FinalizeAll()
	}
}

// batchArgs lays out a batch right-padded to [B, T] (B = batchSize, T = model.StepBucket of its
// longest sequence): tokens and positions (−1 on padding) [B, T]; then, over each sequence's answer
// window (the positions whose next token is an answer token, from PromptLen−1 on) right-padded to A
// (a length bucket ≤ T), the window's positions, the targets (the next token) and the loss mask (1 on
// answer tokens) [B, A]. It returns the args, the shape {B, T, A} and the answer tokens counted.
func batchArgs(batch []Sequence, batchSize int) (args []any, shape [3]int, ntok int) {
	seqs := make([][]int, len(batch))
	A := 0
	for i, ex := range batch {
		seqs[i] = ex.Tokens
		lo, hi := answerWindow(ex)
		A = max(A, hi-lo)
	}
	B, T := batchSize, 0
	for _, s := range seqs {
		T = max(T, len(s))
	}
	T = model.StepBucket(T)
	tok, pos := model.PadBatchLen(seqs, B, T)
	A = min(model.Bucket(A), T)
	win := make([]int32, B*A)
	tgt := make([]int32, B*A)
	mask := make([]float32, B*A)
	for b, ex := range batch {
		lo, hi := answerWindow(ex)
		for j, t := 0, lo; t < hi; j, t = j+1, t+1 {
			win[b*A+j] = int32(t)
			tgt[b*A+j] = int32(ex.Tokens[t+1])
			mask[b*A+j] = 1
			ntok++
		}
	}
	args = []any{
		tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(win, B, A), tensors.FromFlatDataAndDimensions(tgt, B, A),
		tensors.FromFlatDataAndDimensions(mask, B, A),
	}
	return args, [3]int{B, T, A}, ntok
}

// answerWindow is the positions [lo, hi) of ex whose next token is an answer token: the loss reads
// the logits there.
func answerWindow(ex Sequence) (lo, hi int) {
	lo, hi = max(ex.PromptLen-1, 0), len(ex.Tokens)-1
	return lo, max(hi, lo)
}

// adamW is AdamW (Loshchilov & Hutter 2019) on host memory, with bias correction, decoupled weight
// decay, global-norm clipping and the learning-rate schedule.
type adamW struct {
	cfg    TrainConfig
	params [][]float32 // the values updated: a float32 tensor's Data, or a bfloat16 tensor's master
	m1, m2 [][]float32
}

func newAdamW(params [][]float32, cfg TrainConfig) *adamW {
	o := &adamW{cfg: cfg, params: params}
	for _, p := range params {
		o.m1 = append(o.m1, make([]float32, len(p)))
		o.m2 = append(o.m2, make([]float32, len(p)))
	}
	return o
}

// lr returns the learning rate at step (0-based) of total.
func (o *adamW) lr(step, total int) float64 { return o.cfg.lrAt(step, total) }

// lrAt returns the learning rate at step (0-based) of total.
func (c TrainConfig) lrAt(step, total int) float64 {
	if c.WarmupSteps > 0 && step < c.WarmupSteps {
		return c.LearningRate * float64(step+1) / float64(c.WarmupSteps)
	}
	rest := max(total-c.WarmupSteps, 1)
	frac := float64(step-c.WarmupSteps) / float64(rest)
	switch c.Schedule {
	case Linear:
		return c.LearningRate * (1 - frac)
	case Cosine:
		return c.LearningRate * 0.5 * (1 + math.Cos(math.Pi*frac))
	}
	return c.LearningRate
}

func (o *adamW) step(grads []*tensors.Tensor, step, total int) {
	c := o.cfg
	gs := make([][]float32, len(grads))
	for i, g := range grads {
		tensors.ConstFlatData(g, func(f []float32) { gs[i] = f })
	}
	clip := 1.0
	if c.ClipNorm > 0 {
		// Each tensor's sum of squares runs on one goroutine (adamw.SumSquares depends only on the
		// data) and the sums are added in tensor order, so the norm does not depend on the cores.
		sq := make([]float64, len(gs))
		parallelChunks(len(gs), func(i int) { sq[i] = adamw.SumSquares(gs[i]) })
		var norm2 float64
		for _, s := range sq {
			norm2 += s
		}
		if n := math.Sqrt(norm2); n > c.ClipNorm {
			clip = c.ClipNorm / n
		}
	}
	lr := o.lr(step, total)
	t := float64(step + 1)
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := 1 - math.Pow(c.Beta2, t)
	h := adamw.Hyper{
		B1: float32(c.Beta1), B2: float32(c.Beta2), Clip: float32(clip),
		Decay: float32(1 - lr*c.WeightDecay), StepSize: float32(lr / bc1),
		SqrtBc2: float32(math.Sqrt(bc2)), Eps: float32(c.Epsilon),
	}
	// The update is element-wise: split every tensor into chunks and spread them over the cores.
	type chunk struct{ i, lo, hi int }
	var chunks []chunk
	for i, p := range o.params {
		for lo := 0; lo < len(p); lo += adamChunk {
			chunks = append(chunks, chunk{i, lo, min(len(p), lo+adamChunk)})
		}
	}
	parallelChunks(len(chunks), func(k int) {
		ch := chunks[k]
		adamw.Update(o.params[ch.i][ch.lo:ch.hi], gs[ch.i][ch.lo:ch.hi], o.m1[ch.i][ch.lo:ch.hi], o.m2[ch.i][ch.lo:ch.hi], h)
	})
}

// adamChunk is the number of elements of a tensor one goroutine updates at a time.
const adamChunk = 1 << 16

// parallelChunks runs f(0..n-1) on up to runtime.NumCPU() goroutines.
func parallelChunks(n int, f func(k int)) {
	workers := min(n, runtime.NumCPU())
	if workers <= 1 {
		for k := range n {
			f(k)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int(next.Add(1) - 1); k < n; k = int(next.Add(1) - 1) {
				f(k)
			}
		}()
	}
	wg.Wait()
}
