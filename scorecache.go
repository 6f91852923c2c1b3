package accrete

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"

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
// tensors. One cache serves learners that share a tokenizer. Safe for concurrent use; the zero value
// is an empty cache ready to use.
type ScoreCache struct {
	mu           sync.Mutex
	entries      map[string]scores
	hits, misses int
}

// Stats returns the cache's lookup counts and size so far.
func (c *ScoreCache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Entries: len(c.entries)}
}

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

func (c *ScoreCache) get(key string) (scores, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.entries[key]
	if !ok {
		c.misses++
		return scores{}, false
	}
	c.hits++
	return s.clone(), true
}

func (c *ScoreCache) put(key string, s scores) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]scores{}
	}
	c.entries[key] = s.clone()
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
	if s, ok := o.Scores.get(key); ok {
		return s, nil
	}
	s, err := scoreAll(ctx, l, tasks, o)
	if err == nil {
		o.Scores.put(key, s)
	}
	return s, err
}
