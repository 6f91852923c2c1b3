package accrete

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/accrete/accrete/lora"
)

// AdapterCache remembers adapters trained by Learner.TrainAdapter, keyed by everything that
// determines the result: the model's current weights (their fingerprint), the adapter's name, its
// training sequences, and the adapter and training configurations. Training is deterministic for a
// seed, so a hit returns exactly the adapter the training would produce. Strategies that train the
// same adapter from the base (merging, mixtures, the first round of most strategies) then share one
// training when several run on one Learner's cache. Runs with an ExtraLoss are never cached (a
// function cannot be keyed). Safe for concurrent use; the zero value is an empty cache ready to use.
type AdapterCache struct {
	mu           sync.Mutex
	entries      map[string]cacheEntry
	hits, misses int
}

// CacheStats counts an AdapterCache's lookups.
type CacheStats struct {
	Hits, Misses, Entries int
}

// Stats returns the cache's lookup counts and size so far.
func (c *AdapterCache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Entries: len(c.entries)}
}

type cacheEntry struct {
	a   *lora.Adapter
	res lora.Result
}

// NewAdapterCache returns an empty cache.
func NewAdapterCache() *AdapterCache { return &AdapterCache{entries: map[string]cacheEntry{}} }

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

func (c *AdapterCache) get(key string) (*lora.Adapter, lora.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		c.misses++
		return nil, lora.Result{}, false
	}
	c.hits++
	return e.a.Clone(), e.res, true
}

func (c *AdapterCache) put(key string, a *lora.Adapter, res lora.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]cacheEntry{}
	}
	c.entries[key] = cacheEntry{a.Clone(), res}
}
