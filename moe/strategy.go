package moe

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/atomicfile"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/safetensors"
)

// Config configures the mixture-of-experts strategy. Zero values mean the documented defaults.
type Config struct {
	// TopK experts per token. Default (0): 2.
	TopK int
	// Gate turns the top-k router logits into weights. Default (""): Softmax (renormalised over the
	// top k, as moetify's router_norm "softmax" does).
	Gate Gate
	// Uniform drops the router: every expert weight 1/n (the output is base + the mean of the deltas),
	// and no calibration data is kept. Default false: a trained router.
	Uniform bool
	// CalibrationPerTask is how many of a task's training items are kept (a seeded sample) to train the
	// router in this and later rounds: the only data a semi-cooperative party hands over. Default (0): 16.
	CalibrationPerTask int
	// BalanceCoef weighs the load-balancing loss in router training. Default (0): 0.01; negative: none.
	BalanceCoef float64
	// Seed draws the calibration sample and the routers' initial weights. Default 0.
	Seed uint64

	// LoRA and Train configure the experts; nil: the learner's. The adapter's seed is offset by the
	// round index.
	LoRA  *lora.Config
	Train *lora.TrainConfig
	// RouterTrain configures router training. Default (nil): learning rate 1e-2, 20 epochs, batch 8,
	// the seed offset by the round index.
	RouterTrain *lora.TrainConfig
}

// WithDefaults returns c with zero fields replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.TopK == 0 {
		c.TopK = 2
	}
	if c.Gate == "" {
		c.Gate = Softmax
	}
	if c.CalibrationPerTask == 0 {
		c.CalibrationPerTask = 16
	}
	if c.BalanceCoef == 0 {
		c.BalanceCoef = 0.01
	}
	return c
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	d := c.WithDefaults()
	switch {
	case d.TopK < 0:
		return fmt.Errorf("moe config: TopK must be ≥ 0, got %d", c.TopK)
	case d.Gate != Softmax && d.Gate != Sigmoid:
		return fmt.Errorf("moe config: Gate %q unknown (softmax or sigmoid)", c.Gate)
	case d.CalibrationPerTask < 0:
		return fmt.Errorf("moe config: CalibrationPerTask must be ≥ 0, got %d", c.CalibrationPerTask)
	case math.IsNaN(d.BalanceCoef) || math.IsInf(d.BalanceCoef, 0):
		return fmt.Errorf("moe config: BalanceCoef must be finite, got %g", c.BalanceCoef)
	}
	if c.LoRA != nil {
		if err := c.LoRA.Validate(); err != nil {
			return fmt.Errorf("moe config: LoRA: %w", err)
		}
	}
	for name, t := range map[string]*lora.TrainConfig{"Train": c.Train, "RouterTrain": c.RouterTrain} {
		if t != nil {
			if err := t.Validate(); err != nil {
				return fmt.Errorf("moe config: %s: %w", name, err)
			}
		}
	}
	return nil
}

// Strategy is the semi-cooperative mixture-of-experts strategy: every round trains an adapter from the
// base on the round's task, adds it as a frozen expert, keeps a small seeded sample of the task
// (CalibrationPerTask items), retrains the router on the samples of every task so far, and attaches
// the mixture to the learner's model, whose weights stay the base. Build it with New.
type Strategy struct {
	cfg     Config
	experts []*lora.Adapter
	calib   [][]accrete.Example // per expert
	mix     *Mixture
}

// New returns a mixture-of-experts strategy. It does not fail: Validate, which accrete.Run calls
// before it scores anything, and Learn report a bad cfg.
func New(cfg Config) *Strategy { return &Strategy{cfg: cfg} }

// Validate implements accrete.Validator: it names the first bad field of the configuration.
func (s *Strategy) Validate() error { return s.cfg.Validate() }

// Name implements accrete.Namer: "moe-top2", "moe-top1-sigmoid", "moe-uniform".
func (s *Strategy) Name() string {
	c := s.cfg.WithDefaults()
	if c.Uniform {
		return "moe-uniform"
	}
	name := fmt.Sprintf("moe-top%d", c.TopK)
	if c.Gate != Softmax {
		name += "-" + string(c.Gate)
	}
	return name
}

// Settings implements accrete.Configurable: the configuration, which a run's checkpoints record.
func (s *Strategy) Settings() any { return s.cfg }

// Mixture returns the current mixture (nil before the first round).
func (s *Strategy) Mixture() *Mixture { return s.mix }

// Calibration returns the items kept from each round's task (copies of the slices).
func (s *Strategy) Calibration() [][]accrete.Example {
	out := make([][]accrete.Example, len(s.calib))
	for i, c := range s.calib {
		out[i] = slices.Clone(c)
	}
	return out
}

// Learn implements accrete.Strategy.
func (s *Strategy) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	c := s.cfg.WithDefaults()
	l.ResetToBase()
	lc, tc := l.RoundConfig(c.LoRA, c.Train, r.Index)
	a, res, err := l.TrainAdapter(ctx, accrete.AdapterName(r), l.Encode(r.Task.Train), &lc, &tc)
	if err != nil {
		return err
	}
	var sample []accrete.Example
	if !c.Uniform {
		rng := rand.New(rand.NewPCG(c.Seed, uint64(r.Index)))
		for _, i := range rng.Perm(len(r.Task.Train))[:min(c.CalibrationPerTask, len(r.Task.Train))] {
			sample = append(sample, r.Task.Train[i])
		}
	}
	experts := append(slices.Clone(s.experts), a)
	calib := append(slices.Clone(s.calib), sample)
	mix, err := s.build(ctx, l, experts, calib, r.Index)
	if err != nil {
		l.ResetToBase()
		return err
	}
	// The round's expert goes to the learner's store with the routers as they are after this round,
	// so the newest entry and its predecessors rebuild the mixture (LoadMixture).
	if err := l.Keep(a.Name, r.Task.Name, r.Index, a, res, mix.RouterTensors()); err != nil {
		return err
	}
	s.experts, s.calib, s.mix = experts, calib, mix
	return nil
}

// build makes the mixture of experts (keeping the current router's rows), trains its router on the
// calibration items and attaches it to the learner's model.
func (s *Strategy) build(ctx context.Context, l *accrete.Learner, experts []*lora.Adapter, calib [][]accrete.Example, round int) (*Mixture, error) {
	c := s.cfg.WithDefaults()
	mc := MixtureConfig{TopK: c.TopK, Gate: c.Gate, Uniform: c.Uniform, Seed: c.Seed + uint64(round)}
	if s.mix != nil {
		mc.Init = s.mix.Router
	}
	mix, err := NewMixture("moe", experts, mc)
	if err != nil {
		return nil, err
	}
	l.Model.SetAdapter(mix)
	if c.Uniform || (len(experts) == 1 && c.Gate == Softmax) {
		return mix, nil // nothing to learn: a lone softmax expert always has weight 1
	}
	var items []accrete.Example
	for _, cs := range calib {
		items = append(items, cs...)
	}
	if len(items) == 0 {
		return mix, nil
	}
	rt := lora.TrainConfig{LearningRate: 1e-2, Epochs: 20, BatchSize: 8}
	if c.RouterTrain != nil {
		rt = *c.RouterTrain
	}
	rt.Seed = accrete.RoundSeed(rt.Seed, round)
	if rt.Progress == nil {
		rt.Progress = l.Progress
	}
	if rt.Label == "" {
		rt.Label = fmt.Sprintf("round %d router", round+1)
	}
	if _, err := TrainRouter(ctx, l.Model, mix, l.Encode(items), max(c.BalanceCoef, 0), rt); err != nil {
		return nil, fmt.Errorf("moe: round %d: training the router: %w", round+1, err)
	}
	return mix, nil
}

// State files.
const (
	stateFile       = "moe.json"
	routerFile      = "router.safetensors"
	calibrationFile = "calibration.json"
)

type state struct {
	TopK    int      `json:"top_k"`
	Gate    Gate     `json:"gate"`
	Uniform bool     `json:"uniform"`
	Experts []string `json:"experts"` // subdirectories, in round order
	Names   []string `json:"names"`
}

// SaveState implements accrete.Stateful: each expert in PEFT's layout (lora.SavePEFT) in expert-01,
// ..., the routers in router.safetensors (keyed by module path, "<path>.router.weight"), the kept
// calibration items in calibration.json, and moe.json, written last.
func (s *Strategy) SaveState(dir string) error {
	c := s.cfg.WithDefaults()
	st := state{TopK: c.TopK, Gate: c.Gate, Uniform: c.Uniform}
	for i, a := range s.experts {
		sub := fmt.Sprintf("expert-%02d", i+1)
		if err := lora.SavePEFT(filepath.Join(dir, sub), a, ""); err != nil {
			return fmt.Errorf("moe: saving state: %w", err)
		}
		st.Experts = append(st.Experts, sub)
		st.Names = append(st.Names, a.Name)
	}
	if s.mix != nil && s.mix.Router != nil {
		ts := map[string]safetensors.Tensor{}
		for m, R := range s.mix.Router {
			ts[m.Path()+".router.weight"] = safetensors.Tensor{Shape: R.Shape, Data: R.Data}
		}
		path := filepath.Join(dir, routerFile)
		if err := safetensors.Write(path, ts, safetensors.F32, nil); err != nil {
			return fmt.Errorf("moe: saving state: %w", err)
		}
	}
	for _, f := range []struct {
		name string
		v    any
	}{{calibrationFile, s.calib}, {stateFile, st}} {
		data, err := json.MarshalIndent(f.v, "", "  ")
		if err != nil {
			return err
		}
		path := filepath.Join(dir, f.name)
		if err := atomicfile.WriteFile(path, data); err != nil {
			return fmt.Errorf("moe: saving state: %w", err)
		}
	}
	return nil
}

// LoadState implements accrete.Stateful: it restores the experts, routers and calibration items and
// attaches the mixture to the learner's model.
func (s *Strategy) LoadState(dir string, l *accrete.Learner) error {
	c := s.cfg.WithDefaults()
	path := filepath.Join(dir, stateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("moe: loading state: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("moe: loading state: %s: %w", path, err)
	}
	if st.TopK != c.TopK || st.Gate != c.Gate || st.Uniform != c.Uniform {
		return fmt.Errorf("moe: loading state: %s was saved with top_k %d, gate %q, uniform %v; this strategy has %d, %q, %v",
			path, st.TopK, st.Gate, st.Uniform, c.TopK, c.Gate, c.Uniform)
	}
	if len(st.Names) != len(st.Experts) {
		return fmt.Errorf("moe: loading state: %s lists %d experts and %d names", path, len(st.Experts), len(st.Names))
	}
	var experts []*lora.Adapter
	for i, sub := range st.Experts {
		if sub == "" || sub == "." || sub == ".." || filepath.Base(sub) != sub {
			return fmt.Errorf("moe: loading state: %s: bad expert directory %q", path, sub)
		}
		a, err := lora.LoadPEFT(filepath.Join(dir, sub), l.Model.Config)
		if err != nil {
			return fmt.Errorf("moe: loading state: %w", err)
		}
		a.Name = st.Names[i]
		experts = append(experts, a)
	}
	cpath := filepath.Join(dir, calibrationFile)
	cdata, err := os.ReadFile(cpath)
	if err != nil {
		return fmt.Errorf("moe: loading state: %w", err)
	}
	var calib [][]accrete.Example
	if err := json.Unmarshal(cdata, &calib); err != nil {
		return fmt.Errorf("moe: loading state: %s: %w", cpath, err)
	}
	if len(calib) != len(experts) {
		return fmt.Errorf("moe: loading state: %s holds %d tasks' items for %d experts", cpath, len(calib), len(experts))
	}
	s.experts, s.calib, s.mix = experts, calib, nil
	if len(experts) == 0 {
		return nil
	}
	mix, err := NewMixture("moe", experts, MixtureConfig{TopK: c.TopK, Gate: c.Gate, Uniform: c.Uniform})
	if err != nil {
		return fmt.Errorf("moe: loading state: %w", err)
	}
	if !c.Uniform {
		rpath := filepath.Join(dir, routerFile)
		f, err := safetensors.Read(rpath)
		if err != nil {
			return fmt.Errorf("moe: loading state: %w", err)
		}
		if f.Len() != len(mix.Router) {
			return fmt.Errorf("moe: loading state: %s holds %d routers for %d modules", rpath, f.Len(), len(mix.Router))
		}
		for m, R := range mix.Router {
			key := m.Path() + ".router.weight"
			vals, shape, err := f.Float32(key)
			if err != nil {
				return fmt.Errorf("moe: loading state: %w", err)
			}
			if !slices.Equal(shape, R.Shape) {
				return fmt.Errorf("moe: loading state: %s: %s has shape %v, want %v", rpath, key, shape, R.Shape)
			}
			copy(R.Data, vals)
		}
	}
	s.mix = mix
	l.Model.SetAdapter(mix)
	return nil
}

var (
	_ accrete.Stateful = (*Strategy)(nil)
	_ accrete.Namer    = (*Strategy)(nil)
	_ model.Adapter    = (*Mixture)(nil)
)
