package accrete

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

// Task is one dataset-task (see eval.Task): a name, a metric, training and test items.
type Task = eval.Task

// Example is one item of a task (see eval.Example).
type Example = eval.Example

// Learner holds what the rounds share: the frozen base weights, the effective model that strategies
// change, the tokenizer, the prompt template and the training defaults.
type Learner struct {
	// Model is the effective model. Strategies change its weights and adapter; Run scores it.
	Model *model.Model
	// Tokenizer encodes prompts and answers for Model.
	Tokenizer tokenizer.Tokenizer
	// Template formats items for training and scoring. Zero: eval.DefaultTemplate. With Template.EOS
	// the end-of-sequence token follows every trained answer, and scoring generates until it.
	Template eval.Template
	// MaxLen bounds a training sequence's tokens: a longer one is cut by eval.Truncate (the prompt
	// keeps head and tail, the answer its head), as the paper's code does. Zero: no bound.
	MaxLen int
	// LoRA is the default adapter configuration for strategies that do not set their own.
	LoRA lora.Config
	// Train is the default training configuration for strategies that do not set their own. Its zero
	// LearningRate, Epochs and MinSteps are filled in by TrainDefaults (the study's settings, which
	// learn), not left to lora's neutral 1e-3 for one epoch, which learns nothing in a round.
	Train lora.TrainConfig
	// Progress receives progress bars and round logs. nil: silent.
	Progress io.Writer
	// Cache, when set, lets TrainAdapter reuse an identical earlier training (see AdapterCache).
	Cache *AdapterCache
	// Store, when set, keeps every adapter a strategy trains (see Keep), in PEFT's format.
	Store *lora.Store
	// History records the rounds Run has finished on this learner, in order.
	History []RoundRecord

	base     model.Weights
	warnings []string // of the round in progress, for its RoundRecord
}

// NewLearner returns a learner over m, keeping a frozen copy of m's current weights as the base.
func NewLearner(m *model.Model, tok tokenizer.Tokenizer) (*Learner, error) {
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("accrete: tokenizer has %d tokens, the model's vocabulary %d", tok.VocabSize(), m.Config.VocabSize)
	}
	return &Learner{Model: m, Tokenizer: tok, base: m.Weights.Clone()}, nil
}

// RoundRecord is one finished round in Learner.History.
type RoundRecord struct {
	Index    int
	Task     string
	Strategy string
	Duration time.Duration
	// Scores are the headline scores on every task of the run after the round (held-out phrasings,
	// where a task has them) and Trained the scores on the trained phrasings; Knowledge is the mean
	// headline score on the knowledge tasks and BPB the bits per byte on the general text (each NaN
	// when not measured).
	Scores    []float64
	Trained   []float64
	Knowledge float64
	BPB       float64
	// Warning describes what looked wrong in the round, "; "-separated (a training collapse, see
	// lora.Result.Collapse), or is "" when nothing did. Each warning is also in the learner's log.
	Warning string
}

// Keep stores a trained adapter in l.Store (a no-op without a store) under name, with extra tensors
// kept beside it (a mixture's routers; nil for none), replacing an adapter of that name left by an
// interrupted earlier run.
func (l *Learner) Keep(name, task string, round int, a *lora.Adapter, res lora.Result, extra map[string]*model.Tensor) error {
	if l.Store == nil {
		return nil
	}
	meta := lora.Meta{Task: task, Round: round + 1, Extra: extra, Metrics: map[string]float64{
		"train_loss": res.Loss, "steps": float64(res.Steps), "tokens": float64(res.Tokens)}}
	if !math.IsNaN(res.Extra) && !math.IsInf(res.Extra, 0) && res.Extra != 0 {
		meta.Metrics["extra_loss"] = res.Extra
	}
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		delete(meta.Metrics, "train_loss")
	}
	if err := l.Store.Delete(name); err != nil && !errors.Is(err, lora.ErrUnknownAdapter) {
		return err
	}
	return l.Store.Add(name, a, meta)
}

// Base returns the frozen base weights. Callers must not modify them.
func (l *Learner) Base() model.Weights { return l.base }

// ResetToBase restores the effective model to the base weights and detaches any adapter.
func (l *Learner) ResetToBase() {
	l.Model.SetAdapter(nil)
	for name, t := range l.base {
		l.Model.Weights[name].CopyFrom(t)
	}
	l.Model.UpdateWeights()
}

// SetWeights copies w into the effective model's weights (every tensor of the base must be present).
func (l *Learner) SetWeights(w model.Weights) error {
	for name, t := range l.Model.Weights {
		src, ok := w[name]
		if !ok || src.Size() != t.Size() {
			return fmt.Errorf("accrete: SetWeights: tensor %q missing or of another size", name)
		}
		t.CopyFrom(src)
	}
	l.Model.UpdateWeights()
	return nil
}

// Warn writes "warning: " and the message to the learner's log and records it in the Warning of the
// round in progress (RoundRecord), so that a report can show it.
func (l *Learner) Warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.warnings = append(l.warnings, msg)
	l.log("warning: %s", msg)
}

// CheckTraining warns (Warn) when res, the result of a training labelled label, collapsed (see
// lora.Result.Collapse). TrainAdapter and TrainFull call it; a strategy that calls lora.Train itself
// should too.
func (l *Learner) CheckTraining(label string, res lora.Result) {
	if c := res.Collapse(l.Model.Config.VocabSize); c != "" {
		l.Warn("%s: %s", label, c)
	}
}

func (l *Learner) log(format string, args ...any) {
	if l.Progress != nil {
		fmt.Fprintf(l.Progress, format+"\n", args...)
	}
}

// Encode turns items into training sequences, one per trained phrasing of each item (its Prompt, then
// each of its Phrasings; never its held-out Paraphrases or Novel phrasings): the formatted phrasing
// (with BOS) as context and the formatted answer as the target, tokenised as one text so that training
// sees the same tokens as scoring. The sequences of an item are consecutive, in that order.
func (l *Learner) Encode(items []Example) []lora.Sequence {
	n := 0
	for _, it := range items {
		n += 1 + len(it.Phrasings)
	}
	out := make([]lora.Sequence, 0, n)
	for _, it := range items {
		ans := l.Template.FormatAnswer(it.Answer)
		out = append(out, l.encodeTrained(l.Template.Format(it.Prompt), ans))
		for _, p := range it.Phrasings {
			out = append(out, l.encodeTrained(l.Template.Format(p), ans))
		}
	}
	return out
}

// continuation returns the tokens of cont after ctx, whose own tokens are c: what encoding ctx+cont
// whole adds after c, or, when the boundary merged across them, cont encoded alone (the context
// keeps its own tokens).
func (l *Learner) continuation(c []int, ctx, cont string) []int {
	whole := l.Tokenizer.Encode(ctx+cont, true, false)
	if len(c) < len(whole) && slices.Equal(whole[:len(c)], c) {
		return whole[len(c):]
	}
	return l.Tokenizer.Encode(cont, false, false)
}

func (l *Learner) encodePair(ctx, cont string) lora.Sequence {
	c := l.Tokenizer.Encode(ctx, true, false)
	return lora.Sequence{Tokens: append(c, l.continuation(c, ctx, cont)...), PromptLen: len(c)}
}

// encodeTrained is encodePair for a training sequence: the end-of-sequence token after the answer
// when the template asks for it (trained on, like the answer), then the cut to MaxLen.
func (l *Learner) encodeTrained(ctx, cont string) lora.Sequence {
	ex := l.encodePair(ctx, cont)
	if eos := l.Tokenizer.EOS(); l.Template.EOS && eos >= 0 {
		ex.Tokens = append(ex.Tokens, eos)
	}
	if l.MaxLen > 0 {
		p, a := eval.Truncate(ex.Tokens[:ex.PromptLen], ex.Tokens[ex.PromptLen:], l.MaxLen)
		ex = lora.Sequence{Tokens: append(slices.Clip(p), a...), PromptLen: len(p)}
	}
	return ex
}

// TrainAdapter trains a fresh LoRA adapter named name on the effective model and returns it detached
// (the model's weights are unchanged). lc and tc default to the learner's when nil; TrainDefaults
// fills what the training configuration leaves zero. TrainAdapterWith adds a loss on the adapter.
func (l *Learner) TrainAdapter(ctx context.Context, name string, items []lora.Sequence, lc *lora.Config, tc *lora.TrainConfig) (*lora.Adapter, lora.Result, error) {
	return l.TrainAdapterWith(ctx, name, items, lc, tc, nil)
}

// TrainFull fine-tunes every weight of the effective model on items. tc defaults to the learner's
// when nil; TrainDefaults (ModeFFT) fills what it leaves zero.
func (l *Learner) TrainFull(ctx context.Context, label string, items []lora.Sequence, tc *lora.TrainConfig) (lora.Result, error) {
	t := l.trainConfig(tc, label, ModeFFT)
	res, err := lora.Train(ctx, l.Model, slices.Sorted(maps.Keys(l.Model.Weights)), items, t)
	if err != nil {
		return res, fmt.Errorf("accrete: full fine-tuning %q: %w", label, err)
	}
	l.CheckTraining(label, res)
	return res, nil
}

// Training defaults of the rounds (TrainDefaults): those of examples/paper, which learn the shipped
// packs in a round.
const (
	// DefaultAdapterRate is the learning rate of a LoRA adapter.
	DefaultAdapterRate = 3e-3
	// DefaultFullRate is the learning rate of full fine-tuning, lower because every weight moves.
	DefaultFullRate = 5e-4
	// DefaultEpochs is the number of epochs over a round's task.
	DefaultEpochs = 12
	// DefaultMinSteps is the fewest optimizer steps of a round (lora.TrainConfig.MinSteps): a small
	// task gets more epochs, a large one DefaultEpochs.
	DefaultMinSteps = 120
)

// TrainDefaults fills what t leaves zero with the rounds' defaults for mode m (ModeLoRA when ""): a zero
// LearningRate becomes DefaultAdapterRate (DefaultFullRate for ModeFFT), and zero Epochs and MaxSteps
// become DefaultEpochs with MinSteps DefaultMinSteps (a t that sets Epochs or MaxSteps keeps its
// own length). Every other field is kept. Learner's training methods apply it to every
// configuration; a strategy that calls lora.Train itself should too.
func TrainDefaults(t lora.TrainConfig, m Mode) lora.TrainConfig {
	if t.LearningRate == 0 {
		t.LearningRate = DefaultAdapterRate
		if m == ModeFFT {
			t.LearningRate = DefaultFullRate
		}
	}
	if t.Epochs == 0 && t.MaxSteps == 0 {
		t.Epochs = DefaultEpochs
		if t.MinSteps == 0 {
			t.MinSteps = DefaultMinSteps
		}
	}
	return t
}

func (l *Learner) trainConfig(tc *lora.TrainConfig, label string, m Mode) lora.TrainConfig {
	t := l.Train
	if tc != nil {
		t = *tc
	}
	t = TrainDefaults(t, m)
	if t.Progress == nil {
		t.Progress = l.Progress
	}
	if t.Label == "" {
		t.Label = label
	}
	return t
}

// EvalModel returns the effective model as an eval.Model (greedy generation stopping at a newline,
// and log-likelihoods), tokenised with the learner's tokenizer.
func (l *Learner) EvalModel() eval.Model { return &evalModel{l} }

type evalModel struct{ l *Learner }

func (e *evalModel) Generate(ctx context.Context, prompts []string, maxTokens int) ([]string, error) {
	return e.generate(ctx, prompts, nil, maxTokens, true)
}

// GenerateUntilEOS implements eval.EOSGenerator: generation runs across newlines, for templates whose
// answers end with the end-of-sequence token.
func (e *evalModel) GenerateUntilEOS(ctx context.Context, prompts []string, maxTokens int) ([]string, error) {
	return e.generate(ctx, prompts, nil, maxTokens, false)
}

// GenerateDraft implements eval.DraftGenerator: each draft is tokenised as the continuation of its
// prompt (as encodePair does, so that an answer is drafted in the tokens it was trained in) and
// checked by model.GenerateDraft.
func (e *evalModel) GenerateDraft(ctx context.Context, prompts, drafts []string, maxTokens int, untilEOS bool) ([]string, error) {
	if len(drafts) != len(prompts) {
		return nil, fmt.Errorf("accrete: GenerateDraft: %d drafts for %d prompts", len(drafts), len(prompts))
	}
	return e.generate(ctx, prompts, drafts, maxTokens, !untilEOS)
}

// generate generates greedily from prompts, drafting drafts when they are not nil, stopping at the
// end-of-sequence token and, when atNewline, after the first token that holds a newline, and returns
// the completions (cut at the newline when atNewline).
func (e *evalModel) generate(ctx context.Context, prompts, drafts []string, maxTokens int, atNewline bool) ([]string, error) {
	tok := e.l.Tokenizer
	ids := make([][]int, len(prompts))
	for i, p := range prompts {
		ids[i] = tok.Encode(p, true, false)
	}
	stops := []int{}
	if eos := tok.EOS(); eos >= 0 {
		stops = append(stops, eos)
	}
	opts := model.GenerateOptions{MaxNewTokens: maxTokens, StopTokens: stops}
	if atNewline {
		opts.Stop = func(_ int, g []int) bool { return strings.Contains(tok.DecodeToken(g[len(g)-1]), "\n") }
	}
	var gen [][]int
	var err error
	if drafts == nil {
		gen, err = e.l.Model.Generate(ctx, ids, opts)
	} else {
		d := make([][]int, len(drafts))
		for i, text := range drafts {
			d[i] = e.l.continuation(ids[i], prompts[i], text)
		}
		gen, err = e.l.Model.GenerateDraft(ctx, ids, d, opts)
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, len(gen))
	for i, g := range gen {
		s := tok.Decode(g)
		if j := strings.IndexByte(s, '\n'); j >= 0 && atNewline {
			s = s[:j]
		}
		out[i] = s
	}
	return out, nil
}

func (e *evalModel) LogLikelihood(ctx context.Context, pairs [][2]string) ([]float64, []int, error) {
	seqs := make([][]int, len(pairs))
	ncont := make([]int, len(pairs))
	for i, p := range pairs {
		ex := e.l.encodePair(p[0], p[1])
		seqs[i], ncont[i] = ex.Tokens, len(ex.Tokens)-ex.PromptLen
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	lps, err := e.l.Model.TokenLogProbs(seqs)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float64, len(pairs))
	for i, lp := range lps {
		// Every continuation token has a prediction to score unless the context is empty and the
		// tokenizer has no BOS: then the first token, predicted by nothing, is left out.
		ncont[i] = min(ncont[i], len(lp))
		for _, v := range lp[len(lp)-ncont[i]:] {
			out[i] += float64(v)
		}
	}
	return out, ncont, nil
}
