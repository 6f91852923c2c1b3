package accrete

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/accrete/accrete/lora"
)

// Mode chooses what a round trains.
type Mode string

// Training modes.
const (
	ModeLoRA Mode = "lora" // a fresh LoRA adapter, folded into the weights after the round
	ModeFFT  Mode = "fft"  // every weight (full fine-tuning)
)

// Sequential trains each round on the current effective model (semi-cooperative): in ModeLoRA a fresh
// adapter is trained on the round's task and folded into the weights (the paper's merge_and_unload),
// in ModeFFT every weight is fine-tuned. Set OnAdapter to keep each round's adapter (for example in the
// learner's Store).
type Sequential struct {
	// Mode is ModeLoRA (default, "") or ModeFFT.
	Mode Mode
	// LoRA and Train override the learner's defaults when set. The adapter's seed is offset by the
	// round index so every round draws a different A.
	LoRA  *lora.Config
	Train *lora.TrainConfig
	// OnAdapter, when set, is called with each round's trained adapter before it is folded (to store it).
	OnAdapter func(round int, a *lora.Adapter, res lora.Result) error
}

// Name implements Namer.
func (s Sequential) Name() string {
	if s.Mode == ModeFFT {
		return "sequential-fft"
	}
	return "sequential-lora"
}

// Validate implements Validator: Mode must be ModeLoRA, ModeFFT or "", and LoRA and Train valid when set.
func (s Sequential) Validate() error {
	if s.Mode != ModeLoRA && s.Mode != ModeFFT && s.Mode != "" {
		return fmt.Errorf("accrete: Sequential: unknown Mode %q (lora or fft)", s.Mode)
	}
	if err := ValidateOverrides(s.LoRA, s.Train); err != nil {
		return fmt.Errorf("accrete: Sequential: %w", err)
	}
	return nil
}

// Learn implements Strategy.
func (s Sequential) Learn(ctx context.Context, l *Learner, r Round) error {
	if err := s.Validate(); err != nil {
		return err
	}
	items := l.Encode(r.Task.Train)
	lc, tc := l.RoundConfig(s.LoRA, s.Train, r.Index)
	if s.Mode == ModeFFT {
		_, err := l.TrainFull(ctx, fmt.Sprintf("round %d %s fft", r.Index+1, r.Task.Name), items, &tc)
		return err
	}
	a, res, err := l.TrainAdapter(ctx, AdapterName(r), items, &lc, &tc)
	if err != nil {
		return err
	}
	return l.KeepAndFold(r, a, res, s.OnAdapter)
}

// AdapterName is the name under which a round's adapter is trained and stored: "r01-taskname".
func AdapterName(r Round) string { return fmt.Sprintf("r%02d-%s", r.Index+1, r.Task.Name) }

// RoundConfig returns the adapter and training configurations of a round: lc and tc, or the learner's
// defaults where they are nil, with their seeds offset by the round index so that every round draws
// its own A and data order. Strategies that train the same adapter for the same round derive the
// same seeds here, which is what lets an AdapterCache share their training.
func (l *Learner) RoundConfig(lc *lora.Config, tc *lora.TrainConfig, round int) (lora.Config, lora.TrainConfig) {
	c, t := l.LoRA, l.Train
	if lc != nil {
		c = *lc
	}
	if tc != nil {
		t = *tc
	}
	c.Seed += uint64(round)
	t.Seed = RoundSeed(t.Seed, round)
	return c, t
}

// Joint trains, each round, one adapter (or every weight) from the base on the union of all tasks so
// far (fully cooperative). With Upsample, smaller tasks are repeated (sampled with a seeded generator)
// up to the size of the largest, as the paper does for its small tasks.
type Joint struct {
	Mode     Mode
	Upsample bool
	LoRA     *lora.Config
	Train    *lora.TrainConfig
	// Seed drives upsampling. Default 0.
	Seed uint64
}

// Name implements Namer.
func (j Joint) Name() string { return "joint-" + string(orMode(j.Mode)) }

// FullyCooperative implements FullyCooperative.
func (Joint) FullyCooperative() bool { return true }

// Validate implements Validator: Mode must be ModeLoRA, ModeFFT or "", and LoRA and Train valid when set.
func (j Joint) Validate() error {
	if m := orMode(j.Mode); m != ModeLoRA && m != ModeFFT {
		return fmt.Errorf("accrete: Joint: unknown Mode %q (lora or fft)", j.Mode)
	}
	if err := ValidateOverrides(j.LoRA, j.Train); err != nil {
		return fmt.Errorf("accrete: Joint: %w", err)
	}
	return nil
}

// Learn implements Strategy.
func (j Joint) Learn(ctx context.Context, l *Learner, r Round) error {
	if err := j.Validate(); err != nil {
		return err
	}
	tasks := append(append([]Task(nil), r.History...), r.Task)
	rng := rand.New(rand.NewPCG(j.Seed, uint64(r.Index)))
	largest := 0
	for _, t := range tasks {
		largest = max(largest, len(t.Train))
	}
	var items []Example
	for _, t := range tasks {
		items = append(items, t.Train...)
		if j.Upsample {
			for k := len(t.Train); k < largest && len(t.Train) > 0; k++ {
				items = append(items, t.Train[rng.IntN(len(t.Train))])
			}
		}
	}
	l.ResetToBase()
	enc := l.Encode(items)
	lc, tc := l.RoundConfig(j.LoRA, j.Train, r.Index)
	label := fmt.Sprintf("round %d joint (%d tasks)", r.Index+1, len(tasks))
	if orMode(j.Mode) == ModeFFT {
		_, err := l.TrainFull(ctx, label, enc, &tc)
		return err
	}
	a, res, err := l.TrainAdapter(ctx, fmt.Sprintf("joint-r%02d", r.Index+1), enc, &lc, &tc)
	if err != nil {
		return err
	}
	return l.KeepAndFold(r, a, res, nil)
}

func orMode(m Mode) Mode {
	if m == "" {
		return ModeLoRA
	}
	return m
}
