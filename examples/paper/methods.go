package main

import (
	"context"
	"slices"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/ella"
	"github.com/accrete/accrete/ewc"
	"github.com/accrete/accrete/inflora"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/merge"
	"github.com/accrete/accrete/moe"
	"github.com/accrete/accrete/nlora"
	"github.com/accrete/accrete/orthlora"
	"github.com/accrete/accrete/osf"
	"github.com/accrete/accrete/replay"
)

// method is one line of the study.
type method struct {
	name, label, setting string
	oneRound, sequential bool
	build                func(o options) accrete.Strategy
}

const (
	semi = "semi-cooperative"
	full = "fully-cooperative"
)

func fftTrain(o options) *lora.TrainConfig {
	// The same epochs and fewest steps as the adapter methods (Learner.Train), so that the two families
	// differ only in what they train and at what rate.
	return &lora.TrainConfig{LearningRate: o.lrFFT, Epochs: o.epochs, MinSteps: o.minSteps, BatchSize: o.batch,
		MicroBatchSize: o.microBatch, Seed: o.seed, WarmupSteps: o.warmup, Devices: o.devices}
}

var methods = []method{
	{"lora1", "LoRA (one round)", semi, true, false, func(o options) accrete.Strategy { return accrete.Sequential{} }},
	{"fft1", "FFT (one round)", semi, true, false, func(o options) accrete.Strategy { return accrete.Sequential{Mode: accrete.ModeFFT, Train: fftTrain(o)} }},
	{"seq-lora", "LoRA sequential", semi, false, true, func(o options) accrete.Strategy { return accrete.Sequential{} }},
	{"seq-fft", "FFT sequential", semi, false, true, func(o options) accrete.Strategy {
		return accrete.Sequential{Mode: accrete.ModeFFT, Train: fftTrain(o)}
	}},
	{"olora-0.5", "O-LoRA λ=0.5", semi, false, false, func(o options) accrete.Strategy { return orthlora.New(orthlora.Config{Lambda: 0.5}) }},
	{"olora-5", "O-LoRA λ=5", semi, false, false, func(o options) accrete.Strategy { return orthlora.New(orthlora.Config{Lambda: 5}) }},
	// The papers' raw sum (orthlora.Sum), whose λ = 0.5 weighs later rounds ever more heavily.
	{"olora-0.5-sum", "O-LoRA λ=0.5 (raw sum)", semi, false, false, func(o options) accrete.Strategy {
		return orthlora.New(orthlora.Config{Lambda: 0.5, Scale: orthlora.Sum})
	}},
	// O-LoRA's successors and the classic baselines (issue 19): optional, not in defaultMethods. Each
	// runs at its strength (strengths: chosen on the validation items with -strength-grid, the
	// default, else the table's value); labelOf adds it to the label.
	{"nlora", "N-LoRA", semi, false, false, func(o options) accrete.Strategy {
		return nlora.New(nlora.Config{Lambda: strengthOf(o, "nlora")})
	}},
	{"inflora", "InfLoRA", semi, false, false, func(o options) accrete.Strategy {
		return inflora.New(inflora.Config{Threshold: strengthOf(o, "inflora")})
	}},
	{"ella", "ELLA", semi, false, false, func(o options) accrete.Strategy { return ella.New(ella.Config{Lambda: strengthOf(o, "ella")}) }},
	{"ewc", "EWC", semi, false, false, func(o options) accrete.Strategy { return ewc.New(ewc.Config{Lambda: strengthOf(o, "ewc")}) }},
	{"osf", "OSF", semi, false, false, func(o options) accrete.Strategy { return osf.New(osf.Config{Keep: strengthOf(o, "osf")}) }},
	{"merge-avg", "merge average", semi, false, false, func(o options) accrete.Strategy { return merge.New(merge.Config{Method: merge.Linear}) }},
	{"merge-ties", "merge TIES", semi, false, false, func(o options) accrete.Strategy {
		return merge.New(merge.Config{Method: merge.TIES, Density: 0.2})
	}},
	{"merge-dare", "merge DARE", semi, false, false, func(o options) accrete.Strategy {
		return merge.New(merge.Config{Method: merge.DARETIES, Density: 0.2, Seed: o.seed})
	}},
	{"moe", "MoE top-2", semi, false, false, func(o options) accrete.Strategy {
		return moe.New(moe.Config{TopK: 2, Seed: o.seed, CalibrationPerTask: 16,
			RouterTrain: &lora.TrainConfig{LearningRate: 1e-2, Epochs: 8, BatchSize: 16, Seed: o.seed}})
	}},
	{"replay", "replay", full, false, false, func(o options) accrete.Strategy {
		return replay.Wrap(accrete.Sequential{}, replay.Config{Ratio: o.replayRatio, Seed: o.seed})
	}},
	{"joint", "joint", full, false, false, func(o options) accrete.Strategy {
		if o.jointRepeat > 0 {
			return repeatedJoint{times: o.jointRepeat}
		}
		return accrete.Joint{Upsample: true, Seed: o.seed}
	}},
}

// defaultLimit is the default run's items per task (-limit): the most that keeps it within 10 minutes
// on 2 cores (24: 8 minutes; 32 took 10m11s), so that one item weighs 1/24.
const defaultLimit = 24

// defaultMethods is the whole study; the default run keeps it under 10 minutes on 2 cores by its
// smaller rounds and items (see the flags).
var defaultMethods = []string{"lora1", "fft1", "seq-lora", "seq-fft", "olora-0.5", "olora-5", "merge-avg", "merge-ties",
	"merge-dare", "moe", "joint", "replay"}

func methodNames() []string {
	var n []string
	for _, m := range methods {
		n = append(n, m.name)
	}
	return n
}

func methodByName(name string) (method, bool) {
	for _, m := range methods {
		if m.name == name {
			return m, true
		}
	}
	return method{}, false
}

// repeatedJoint is joint training (accrete.Joint) with every task smaller than the round's largest
// repeated times times, whole, as the paper's code does (DuplicateDataset: each TRACE task ×79 beside
// MetaMathQA's 395k items), instead of sampled up to the largest's size.
type repeatedJoint struct {
	accrete.Joint
	times int
}

// Learn implements accrete.Strategy.
func (j repeatedJoint) Learn(ctx context.Context, l *accrete.Learner, r accrete.Round) error {
	return j.Joint.Learn(ctx, l, repeatSmaller(r, j.times))
}

// repeatSmaller is r with the training items of every task (r.Task and r.History) smaller than the
// largest repeated times times, whole; r's slices are not changed.
func repeatSmaller(r accrete.Round, times int) accrete.Round {
	largest := len(r.Task.Train)
	for _, t := range r.History {
		largest = max(largest, len(t.Train))
	}
	repeat := func(t accrete.Task) accrete.Task {
		if len(t.Train) < largest {
			t.Train = slices.Repeat(t.Train, times)
		}
		return t
	}
	history := make([]accrete.Task, len(r.History))
	for i, t := range r.History {
		history[i] = repeat(t)
	}
	r.History, r.Task = history, repeat(r.Task)
	return r
}
