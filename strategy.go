package accrete

import (
	"context"
)

// Round is what a strategy is given to learn one task.
type Round struct {
	// Index is the round's 0-based number.
	Index int
	// Task is this round's task; only its Train items may be trained on.
	Task Task
	// History holds the earlier rounds' tasks, in order, for strategies that declare themselves
	// FullyCooperative; for every other strategy it is nil: a semi-cooperative party never sees an
	// earlier round's data.
	History []Task
}

// Strategy adds one task's knowledge to a Learner.
//
// Learn may change the learner's effective model (its weights and adapter) and may keep adapters or
// other state derived from the task, but must not keep the task's data after it returns unless the
// strategy is FullyCooperative. Learn must leave the model usable for scoring. An error aborts the run;
// Run restores the model's weights to what they were before the round.
type Strategy interface {
	Learn(ctx context.Context, l *Learner, r Round) error
}

// StrategyFunc adapts a function to a Strategy.
type StrategyFunc func(ctx context.Context, l *Learner, r Round) error

// Learn calls f.
func (f StrategyFunc) Learn(ctx context.Context, l *Learner, r Round) error { return f(ctx, l, r) }

// FullyCooperative is implemented by strategies that may use earlier rounds' data (joint training,
// replay): Run hands them the history.
type FullyCooperative interface {
	Strategy
	FullyCooperative() bool
}

// Stateful is implemented by strategies that keep state across rounds (adapters, routers). Run saves
// it after every round with the round's checkpoint and restores it when a run resumes, so an
// interrupted run finishes as if it had never stopped.
type Stateful interface {
	Strategy
	// SaveState writes the strategy's state into dir (which exists and is empty).
	SaveState(dir string) error
	// LoadState restores the state written by SaveState.
	LoadState(dir string, l *Learner) error
}

// Validator is implemented by strategies that can check their configuration. Run calls Validate
// before it scores anything, so that a bad configuration fails at once instead of after the base
// model's evaluation; Learn checks it too, for callers that call Learn directly. Validate names the
// bad field and its value.
type Validator interface {
	Validate() error
}

// Namer is implemented by strategies that have a display name for reports.
type Namer interface {
	Name() string
}

func isFullyCooperative(s Strategy) bool {
	fc, ok := s.(FullyCooperative)
	return ok && fc.FullyCooperative()
}
