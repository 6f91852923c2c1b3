package accrete

import (
	"context"
	"sync"
)

// memo is the store behind AdapterCache and ScoreCache: values by key, and the keys being computed,
// so that concurrent runs that need the same value compute it once (the others wait for it). The
// zero value is empty and ready to use.
type memo[V any] struct {
	mu           sync.Mutex
	entries      map[string]V
	pending      map[string]chan struct{}
	hits, misses int
}

// lookup returns key's value (ok), waiting while another caller computes it. Otherwise ok is false
// and the caller has claimed key: it must compute the value and call done, whether it succeeded or
// not, and callers waiting meanwhile get its value (or, if it failed, one of them claims key in its
// turn). err is ctx's error when ctx ends during a wait.
func (m *memo[V]) lookup(ctx context.Context, key string) (v V, ok bool, err error) {
	for {
		m.mu.Lock()
		if v, ok := m.entries[key]; ok {
			m.hits++
			m.mu.Unlock()
			return v, true, nil
		}
		wait, busy := m.pending[key]
		if !busy {
			if m.pending == nil {
				m.pending = map[string]chan struct{}{}
			}
			m.pending[key] = make(chan struct{})
			m.misses++
			m.mu.Unlock()
			return v, false, nil
		}
		m.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return v, false, ctx.Err()
		}
	}
}

// done ends the claim on key that lookup gave, storing v when ok.
func (m *memo[V]) done(key string, v V, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok {
		if m.entries == nil {
			m.entries = map[string]V{}
		}
		m.entries[key] = v
	}
	if wait, busy := m.pending[key]; busy {
		close(wait)
		delete(m.pending, key)
	}
}

// stats returns the lookup counts and size so far.
func (m *memo[V]) stats() CacheStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return CacheStats{Hits: m.hits, Misses: m.misses, Entries: len(m.entries)}
}
