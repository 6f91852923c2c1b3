package accrete

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/accrete/accrete/lora"
)

// ScoreCache remembers what Run measured on a model (every task's score, the retention on the
// knowledge tasks and the bits per byte on the general text), keyed by everything that determines
// it: the model's weights (lora.Fingerprint), the tasks, the knowledge tasks, the general text, the
// scoring options and template, and the tokenizer's vocabulary size and special tokens. Scoring is
// deterministic, so a hit returns what scoring would. Runs over the same base model then score it
// once (the row before the first round, the same for every strategy and seed), and so do strategies
// whose rounds end in the same weights (one round of LoRA and the first of sequential LoRA).
//
// A model with an adapter attached is never cached: an adapter's computation is not all in its
// tensors. One cache serves learners that share a tokenizer. Safe for concurrent use: runs that
// score the same weights at once score them once, the others waiting. The zero value is an empty
// cache ready to use.
type ScoreCache struct {
	m memo[scores]
}

// Stats returns the cache's lookup counts and size so far. A lookup that waited for a concurrent
// run scoring the same weights counts as a hit.
func (c *ScoreCache) Stats() CacheStats { return c.m.stats() }

// key returns the key of scoring l's model on tasks with o, and false when it is not cacheable.
func (c *ScoreCache) key(l *Learner, tasks []Task, o RunOptions) (string, bool) {
	if l.Model.Adapter() != nil {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", lora.Fingerprint(l.Model.Config, l.Model.Weights))
	tok := l.Tokenizer
	fmt.Fprintf(h, "tokenizer %d %d %d\x00", tok.VocabSize(), tok.BOS(), tok.EOS())
	fmt.Fprintf(h, "eval %+v\x00", o.Eval)
	for _, p := range taskPrints(tasks) {
		fmt.Fprintf(h, "task %s\x00", p)
	}
	for _, p := range taskPrints(o.Knowledge) {
		fmt.Fprintf(h, "knowledge %s\x00", p)
	}
	for _, d := range o.GeneralText {
		fmt.Fprintf(h, "text %d\x00%s", len(d), d)
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// clone copies s deeply enough that a caller may change what it is given.
func (s scores) clone() scores {
	s.tasks = slices.Clone(s.tasks)
	for i := range s.tasks {
		s.tasks[i].Items = slices.Clone(s.tasks[i].Items)
	}
	return s
}

// cachedScoreAll is scoreAll through o.Scores when it is set.
func cachedScoreAll(ctx context.Context, l *Learner, tasks []Task, o RunOptions) (scores, error) {
	if o.Scores == nil {
		return scoreAll(ctx, l, tasks, o)
	}
	key, ok := o.Scores.key(l, tasks, o)
	if !ok {
		return scoreAll(ctx, l, tasks, o)
	}
	s, ok, err := o.Scores.m.lookup(ctx, key)
	if err != nil {
		return scores{}, err
	}
	if ok {
		return s.clone(), nil
	}
	done := false
	defer func() { o.Scores.m.done(key, s.clone(), done) }() // also on a panic: waiters go on
	if s, err = scoreAll(ctx, l, tasks, o); err != nil {
		return s, err
	}
	done = true
	return s, nil
}
