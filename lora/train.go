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
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/internal/adamw"
	"github.com/accrete/accrete/internal/progress"
	"github.com/accrete/accrete/model"
)

// Example is one training sequence: the loss covers the tokens from PromptLen on (the answer), each
// predicted from everything before it; the prompt's tokens are context only.
type Example struct {
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
func Train(ctx context.Context, m *model.Model, trainable []string, data []Example, cfg TrainConfig) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	if len(data) == 0 {
		return Result{}, errors.New("lora: Train: no examples")
	}
	if len(trainable) == 0 {
		return Result{}, errors.New("lora: Train: no trainable tensors")
	}
	names := m.ParamNames()
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
			return Result{}, fmt.Errorf("lora: Train: no tensor %q in the model or its adapter", n)
		}
		if t.IsBF16() {
			return Result{}, fmt.Errorf("lora: Train: tensor %q %v is stored as bfloat16, which is for frozen weights; "+
				"training it needs float32 (load the model without model.LoadOptions.BF16)", n, t.Shape)
		}
		host[n] = t
	}
	for i, ex := range data {
		if len(ex.Tokens) < 2 || ex.PromptLen < 1 || ex.PromptLen >= len(ex.Tokens) {
			return Result{}, fmt.Errorf("lora: Train: example %d has %d tokens and PromptLen %d: need 1 ≤ PromptLen < len(Tokens)",
				i, len(ex.Tokens), ex.PromptLen)
		}
		if L := m.Config.MaxPositionEmbeddings; L > 0 && len(ex.Tokens) > L {
			return Result{}, fmt.Errorf("lora: Train: example %d has %d tokens, more than the model's max_position_embeddings %d (cut long items with accrete.Learner.MaxLen)",
				i, len(ex.Tokens), L)
		}
		for _, id := range ex.Tokens {
			if id < 0 || id >= m.Config.VocabSize {
				return Result{}, fmt.Errorf("lora: Train: example %d: token %d outside the vocabulary [0, %d)", i, id, m.Config.VocabSize)
			}
		}
	}
	if err := checkMemory(m, host, data, cfg); err != nil {
		return Result{}, err
	}
	var upd updater = newHostUpdater(m, trainable, host, cfg)
	if cfg.Layout == LayoutDevice || cfg.Layout == LayoutAuto && !onHost(m.Backend()) {
		u, err := newDeviceUpdater(m, trainable, host, cfg)
		if err != nil {
			return Result{}, err
		}
		upd = u
	}
	defer upd.close()
	restore := upd.restore

	idx := make([]int, len(trainable))
	for i, n := range trainable {
		idx[i] = slices.Index(names, n)
	}
	var dropAdapter *Adapter
	if a, ok := m.Adapter().(*Adapter); ok && a.Config.Dropout > 0 {
		dropAdapter = a
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a1))
	mc := m.Config
	// The graph's inputs: the parameters, then tokens, positions, targets, mask, the micro-batch's
	// weight in the step's loss (its share of the answer tokens; 1 without accumulation, which
	// leaves the gradients bit-identical) and, with dropout, the RNG state.
	build := func() *graph.Exec {
		return graph.MustNewExec(m.Backend(), func(in []*graph.Node) []*graph.Node {
			p := model.BuildParams(names, in)
			k := len(names)
			if dropAdapter != nil {
				dropAdapter.rng = in[k+5]
				defer func() { dropAdapter.rng = nil }()
			}
			h, _ := model.Forward(mc, p, model.ForwardInput{Tokens: in[k], Positions: in[k+1], Hook: m.Hook(p)})
			loss := model.MaskedCrossEntropy(model.Logits(mc, p, h), in[k+2], in[k+3])
			total, extra := loss, graph.ZerosLike(loss)
			if cfg.ExtraLoss != nil {
				extra = cfg.ExtraLoss(p)
				total = graph.Add(loss, extra)
			}
			total = graph.Mul(total, in[k+4])
			wrt := make([]*graph.Node, len(idx))
			for i, j := range idx {
				wrt[i] = in[j]
			}
			return append([]*graph.Node{loss, extra}, graph.Gradient(total, wrt...)...)
		})
	}
	execs := map[[2]int]*graph.Exec{}
	defer func() {
		for _, e := range execs {
			e.Finalize()
		}
	}()
	// micro runs one micro-batch and returns its task loss, extra loss and weighted gradients.
	micro := func(args []any, B, T int) (loss, extra float64, grads []*tensors.Tensor, err error) {
		if dropAdapter != nil {
			args = append(args, rngState(rng))
		}
		e, ok := execs[[2]int{B, T}]
		if !ok {
			e = build()
			execs[[2]int{B, T}] = e
		}
		params := m.ParamTensors(names)
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

	stepsPerEpoch := (len(data) + cfg.BatchSize - 1) / cfg.BatchSize
	if cfg.MinSteps > 0 {
		cfg.Epochs = max(cfg.Epochs, (cfg.MinSteps+stepsPerEpoch-1)/stepsPerEpoch)
	}
	total := cfg.Epochs * stepsPerEpoch
	if cfg.MaxSteps > 0 {
		total = min(total, cfg.MaxSteps)
	}
	bar := progress.New(cfg.Progress, cfg.Label, total)
	var res Result
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	for epoch := 0; epoch < cfg.Epochs && res.Steps < total; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var sumLoss, sumExtra float64
		var nb int
		for s := 0; s < len(order) && res.Steps < total; s += cfg.BatchSize {
			if err := ctx.Err(); err != nil {
				restore()
				return res, err
			}
			batch := make([]Example, 0, cfg.BatchSize)
			for _, i := range order[s:min(s+cfg.BatchSize, len(order))] {
				batch = append(batch, data[i])
			}
			type microArgs struct {
				args       []any
				B, T, ntok int
			}
			var micros []microArgs
			ntok := 0
			for lo := 0; lo < len(batch); lo += cfg.MicroBatchSize {
				args, B, T, n := batchArgs(batch[lo:min(lo+cfg.MicroBatchSize, len(batch))], cfg.MicroBatchSize)
				micros = append(micros, microArgs{args, B, T, n})
				ntok += n
			}
			var loss, extra float64
			var grads []*tensors.Tensor
			for _, mb := range micros {
				w := float32(1)
				if len(micros) > 1 {
					w = float32(float64(mb.ntok) / float64(ntok))
				}
				l, x, g, err := micro(append(mb.args, tensors.FromScalar(w)), mb.B, mb.T)
				if err != nil {
					finalize(grads)
					restore()
					return res, fmt.Errorf("lora: training step %d: %w", res.Steps, err)
				}
				if math.IsNaN(l+x) || math.IsInf(l+x, 0) {
					finalize(g)
					finalize(grads)
					restore()
					return res, fmt.Errorf("%w at step %d (task loss %g, extra %g); weights restored", ErrNonFinite, res.Steps, l, x)
				}
				if len(micros) == 1 {
					loss, extra = l, x
				} else {
					loss += float64(w) * l
					extra += float64(w) * x
				}
				if grads == nil {
					grads = g
				} else if grads, err = upd.add(grads, g); err != nil {
					restore()
					return res, fmt.Errorf("lora: training step %d: accumulating gradients: %w", res.Steps, err)
				}
			}
			if err := upd.step(grads, res.Steps, total); err != nil {
				restore()
				return res, fmt.Errorf("lora: training step %d: optimizer: %w", res.Steps, err)
			}
			if res.Steps == 0 {
				res.FirstLoss = loss
			}
			res.Steps++
			res.Tokens += ntok
			sumLoss += loss
			sumExtra += extra
			nb++
			info := fmt.Sprintf("loss %.4f", loss)
			if cfg.ExtraLoss != nil {
				info += fmt.Sprintf(" extra %.4g", extra)
			}
			bar.Update(res.Steps, fmt.Sprintf("epoch %d/%d %s", epoch+1, cfg.Epochs, info))
		}
		res.Epochs++
		res.Loss, res.Extra = sumLoss/float64(nb), sumExtra/float64(nb)
		res.EpochLoss = append(res.EpochLoss, res.Loss)
		res.EpochExtra = append(res.EpochExtra, res.Extra)
		if cfg.TargetLoss > 0 && res.Loss <= cfg.TargetLoss {
			bar.Update(total, fmt.Sprintf("early stop: epoch loss %.4f ≤ %g", res.Loss, cfg.TargetLoss))
			break
		}
	}
	if err := upd.commit(); err != nil {
		restore()
		return res, err
	}
	return res, nil
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
func trainPlan(m *model.Model, host map[string]*model.Tensor, data []Example, cfg TrainConfig) Plan {
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
	maxLen := 0
	for _, ex := range data {
		maxLen = max(maxLen, len(ex.Tokens))
	}
	o.SeqLen = model.Bucket(maxLen)
	o.Device = !onHost(m.Backend()) && cfg.Layout != LayoutHost
	return PlanMemory(m.Config, o)
}

// checkMemory refuses a run whose plan exceeds cfg.MemoryBudget (or its default).
func checkMemory(m *model.Model, host map[string]*model.Tensor, data []Example, cfg TrainConfig) error {
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

// batchArgs lays out a batch right-padded to [B, T] (B = batchSize, T a length bucket): tokens,
// positions (−1 on padding), targets (the next token) and the loss mask (1 on answer tokens).
func batchArgs(batch []Example, batchSize int) (args []any, B, T, ntok int) {
	seqs := make([][]int, len(batch))
	for i, ex := range batch {
		seqs[i] = ex.Tokens
	}
	B = batchSize
	tok, pos, T := model.PadBatchTo(seqs, B)
	tgt := make([]int32, B*T)
	mask := make([]float32, B*T)
	for b, ex := range batch {
		for t := range len(ex.Tokens) - 1 {
			tgt[b*T+t] = int32(ex.Tokens[t+1])
			if t+1 >= ex.PromptLen {
				mask[b*T+t] = 1
				ntok++
			}
		}
	}
	args = []any{
		tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(tgt, B, T), tensors.FromFlatDataAndDimensions(mask, B, T),
	}
	return args, B, T, ntok
}

// adamW is AdamW (Loshchilov & Hutter 2019) on host memory, with bias correction, decoupled weight
// decay, global-norm clipping and the learning-rate schedule.
type adamW struct {
	cfg     TrainConfig
	names   []string
	params  []*model.Tensor
	m1, m2  [][]float32
	scratch [][]float32
}

func newAdamW(names []string, host map[string]*model.Tensor, cfg TrainConfig) *adamW {
	o := &adamW{cfg: cfg, names: names}
	for _, n := range names {
		t := host[n]
		o.params = append(o.params, t)
		o.m1 = append(o.m1, make([]float32, len(t.Data)))
		o.m2 = append(o.m2, make([]float32, len(t.Data)))
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
		for lo := 0; lo < len(p.Data); lo += adamChunk {
			chunks = append(chunks, chunk{i, lo, min(len(p.Data), lo+adamChunk)})
		}
	}
	parallelChunks(len(chunks), func(k int) {
		ch := chunks[k]
		adamw.Update(o.params[ch.i].Data[ch.lo:ch.hi], gs[ch.i][ch.lo:ch.hi], o.m1[ch.i][ch.lo:ch.hi], o.m2[ch.i][ch.lo:ch.hi], h)
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
