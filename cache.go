package accrete

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/accrete/accrete/lora"
)

// AdapterCache remembers adapters trained by Learner.TrainAdapter, keyed by everything that
// determines the result: the model's current weights (their fingerprint), the adapter's name, its
// training sequences, and the adapter and training configurations. Training is deterministic for a
// seed, so a hit returns exactly the adapter the training would produce. Strategies that train the
// same adapter from the base (merging, mixtures, the first round of most strategies) then share one
// training when several run on one Learner's cache. Runs with an ExtraLoss are never cached (a
// function cannot be keyed). Safe for concurrent use: runs that need the same adapter at once train
// it once, the others waiting for it. The zero value is an empty cache ready to use.
type AdapterCache struct {
	m memo[cacheEntry]
}

// CacheStats counts an AdapterCache's lookups.
type CacheStats struct {
	Hits, Misses, Entries int
}

// Stats returns the cache's lookup counts and size so far. A lookup that waited for a concurrent
// run training the same adapter counts as a hit.
func (c *AdapterCache) Stats() CacheStats { return c.m.stats() }

type cacheEntry struct {
	a   *lora.Adapter
	res lora.Result
}

// NewAdapterCache returns an empty cache.
func NewAdapterCache() *AdapterCache { return &AdapterCache{} }

func (c *AdapterCache) key(l *Learner, name string, items []lora.Sequence, lc lora.Config, tc lora.TrainConfig) string {
	h := sha256.New()
	h.Write([]byte(lora.Fingerprint(l.Model.Config, l.Model.Weights)))
	tc.Progress, tc.Label = nil, ""
	fmt.Fprintf(h, "\x00%s\x00%+v\x00%+v\x00", name, lc.WithDefaults(), tc)
	var buf []byte
	for _, ex := range items {
		buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(ex.PromptLen))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(ex.Tokens)))
		for _, id := range ex.Tokens {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(id))
		}
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// get returns key's adapter, waiting while a concurrent run trains it; on a miss (ok false, err nil)
// the caller trains it and must call done.
func (c *AdapterCache) get(ctx context.Context, key string) (a *lora.Adapter, res lora.Result, ok bool, err error) {
	e, ok, err := c.m.lookup(ctx, key)
	if !ok {
		return nil, lora.Result{}, false, err
	}
	return e.a.Clone(), e.res, true, nil
}

// done ends a miss of get: a is the trained adapter, or nil when the training failed.
func (c *AdapterCache) done(key string, a *lora.Adapter, res lora.Result) {
	if a == nil {
		c.m.done(key, cacheEntry{}, false)
		return
	}
	c.m.done(key, cacheEntry{a.Clone(), res}, true)
}
