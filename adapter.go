package accrete

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// AdapterLoss is an extra training loss that depends on the adapter being trained: built inside the
// training graph from its parameters p (which hold a's tensors), it returns a scalar node. The
// penalties of O-LoRA, EWC, ELLA and N-LoRA are ones.
type AdapterLoss func(a *lora.Adapter, p model.Params) *graph.Node

// Fit says how FitAdapter trains an adapter. The zero value trains every tensor of the adapter,
// attached as it is, on the task loss and the training configuration's own ExtraLoss.
type Fit struct {
	// Extra, when set, is added to the training configuration's ExtraLoss (after it in the sum's
	// order: Extra + ExtraLoss). Default nil: no extra term.
	Extra AdapterLoss
	// Attach is what the model carries while it trains: an adapter that wraps the trained one (OSF's
	// projection). Default nil: the trained adapter itself.
	Attach model.Adapter
	// Tensors names the tensors trained (InfLoRA's B's). Default nil: every tensor of the adapter.
	Tensors []string
}

// FitAdapter trains adapter a in place on the effective model with tc as given (see TrainConfig), as
// f says, then detaches it (the model's weights are unchanged) and checks the training
// (CheckTraining). It never uses the Cache. TrainAdapter and TrainAdapterWith train through it; a
// strategy that builds its adapter itself (to set it up or measure it first) calls it directly.
func (l *Learner) FitAdapter(ctx context.Context, a *lora.Adapter, items []lora.Sequence, tc lora.TrainConfig, f Fit) (lora.Result, error) {
	if f.Extra != nil {
		user, extra := tc.ExtraLoss, f.Extra
		tc.ExtraLoss = func(p model.Params) *graph.Node {
			pen := extra(a, p)
			if user != nil {
				pen = graph.Add(pen, user(p))
			}
			return pen
		}
	}
	var attach model.Adapter = a
	if f.Attach != nil {
		attach = f.Attach
	}
	names := f.Tensors
	if names == nil {
		names = slices.Sorted(maps.Keys(a.Tensors()))
	}
	l.Model.SetAdapter(attach)
	defer l.Model.SetAdapter(nil)
	res, err := lora.Train(ctx, l.Model, names, items, tc)
	if err != nil {
		return res, fmt.Errorf("accrete: training adapter %q: %w", a.Name, err)
	}
	l.CheckTraining(a.Name, res)
	return res, nil
}

// TrainConfig returns the configuration of a training labelled label in mode m: tc, or the
// learner's Train when nil, with what it leaves zero filled by TrainDefaults, the learner's Progress
// when it has none and label when it has no Label. Learner's training methods use it; a strategy
// that calls FitAdapter or lora.Train itself should too.
func (l *Learner) TrainConfig(tc *lora.TrainConfig, label string, m Mode) lora.TrainConfig {
	return l.trainConfig(tc, label, m)
}

// RoundAdapter returns a fresh adapter for round r, named AdapterName(r), and the round's training
// configuration: RoundConfig's lc and tc (seeds offset by the round), completed by TrainConfig with
// label. The strategies that train one adapter a round and set it up first start with it.
func (l *Learner) RoundAdapter(lc *lora.Config, tc *lora.TrainConfig, r Round, label string) (*lora.Adapter, lora.TrainConfig, error) {
	c, t := l.RoundConfig(lc, tc, r.Index)
	t = l.TrainConfig(&t, label, ModeLoRA)
	a, err := lora.NewAdapter(AdapterName(r), l.Model.Config, c)
	return a, t, err
}

// TrainAdapterWith is TrainAdapter with an extra loss on the adapter being trained, added to tc's
// ExtraLoss (nil: none, and then it is TrainAdapter). The Cache serves only a training with no extra
// loss of either kind.
func (l *Learner) TrainAdapterWith(ctx context.Context, name string, items []lora.Sequence, lc *lora.Config, tc *lora.TrainConfig, extra AdapterLoss) (*lora.Adapter, lora.Result, error) {
	cfg := l.LoRA
	if lc != nil {
		cfg = *lc
	}
	a, err := lora.NewAdapter(name, l.Model.Config, cfg)
	if err != nil {
		return nil, lora.Result{}, err
	}
	t := l.trainConfig(tc, name, ModeLoRA)
	if l.Cache == nil || t.ExtraLoss != nil || extra != nil {
		res, err := l.FitAdapter(ctx, a, items, t, Fit{Extra: extra})
		if err != nil {
			return nil, res, err
		}
		return a, res, nil
	}
	key := l.Cache.key(l, name, items, cfg, t)
	cached, res, ok, err := l.Cache.get(ctx, key)
	if err != nil {
		return nil, lora.Result{}, err
	}
	if ok {
		l.log("%s: reusing the identical adapter trained earlier", name)
		l.CheckTraining(name, res)
		return cached, res, nil
	}
	trained := (*lora.Adapter)(nil)
	defer func() { l.Cache.done(key, trained, res) }() // also when FitAdapter panics: waiters go on
	if res, err = l.FitAdapter(ctx, a, items, t, Fit{Extra: extra}); err != nil {
		return nil, res, err
	}
	trained = a
	return a, res, nil
}

// KeepAndFold ends a round that trained adapter a (with result res): it calls onAdapter (when not
// nil) with the round's index, a and res, keeps a in the learner's Store (Keep) and folds it into the
// effective model's weights.
func (l *Learner) KeepAndFold(r Round, a *lora.Adapter, res lora.Result, onAdapter func(round int, a *lora.Adapter, res lora.Result) error) error {
	if onAdapter != nil {
		if err := onAdapter(r.Index, a, res); err != nil {
			return err
		}
	}
	if err := l.Keep(a.Name, r.Task.Name, r.Index, a, res, nil); err != nil {
		return err
	}
	if err := a.Fold(l.Model.Weights); err != nil {
		return err
	}
	l.Model.UpdateWeights()
	return nil
}

// RoundSeed derives the seed of round (0-based) from seed, so that every round draws its own data
// order: seed + round·1000003. RoundConfig uses it for the training seed; a strategy that trains
// something else each round (a router) should too.
func RoundSeed(seed uint64, round int) uint64 { return seed + uint64(round)*1000003 }

// ValidateOverrides validates a strategy config's optional adapter and training overrides (nil means
// the learner's own), naming the field: "Config.LoRA: …" or "Config.Train: …". Strategies prefix their
// package name.
func ValidateOverrides(lc *lora.Config, tc *lora.TrainConfig) error {
	if lc != nil {
		if err := lc.Validate(); err != nil {
			return fmt.Errorf("Config.LoRA: %w", err)
		}
	}
	if tc != nil {
		if err := tc.Validate(); err != nil {
			return fmt.Errorf("Config.Train: %w", err)
		}
	}
	return nil
}
