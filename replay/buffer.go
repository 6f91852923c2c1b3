package replay

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/accrete/accrete"
)

// Buffer is a fixed-capacity reservoir of examples: after any sequence of Adds, each example added so
// far is held with probability min(1, Capacity/Seen), independently of the order in which the
// examples came (Vitter's Algorithm R). Its choices come from its own PCG generator, seeded at
// construction, so a Buffer is deterministic for a seed and the same whether the examples come in one
// Add or many. A Buffer is not safe for concurrent use.
type Buffer struct {
	capacity int
	seen     int
	items    []accrete.Example
	src      *rand.PCG
	rng      *rand.Rand
}

// NewBuffer returns an empty buffer that holds at most capacity examples; it panics if capacity < 1.
func NewBuffer(capacity int, seed uint64) *Buffer {
	if capacity < 1 {
		panic(fmt.Sprintf("replay: NewBuffer: capacity must be ≥ 1, got %d", capacity))
	}
	src := rand.NewPCG(seed, 0x7e91a4)
	return &Buffer{capacity: capacity, src: src, rng: rand.New(src)}
}

// Capacity is the most examples the buffer holds.
func (b *Buffer) Capacity() int { return b.capacity }

// Len is the number of examples held: min(Capacity, Seen).
func (b *Buffer) Len() int { return len(b.items) }

// Seen is the number of examples added so far.
func (b *Buffer) Seen() int { return b.seen }

// Items returns a copy of the examples held, in slot order.
func (b *Buffer) Items() []accrete.Example { return slices.Clone(b.items) }

// Add offers examples to the reservoir, in order.
func (b *Buffer) Add(examples ...accrete.Example) {
	for _, ex := range examples {
		b.seen++
		if len(b.items) < b.capacity {
			b.items = append(b.items, ex)
			continue
		}
		if j := b.rng.IntN(b.seen); j < b.capacity {
			b.items[j] = ex
		}
	}
}

// Sample returns n examples drawn from the buffer with rng: without repetition when n ≤ Len; otherwise
// every example ⌊n/Len⌋ times plus n mod Len distinct others, so that repetition is as even as it can
// be. The result is in random order; it is nil when n ≤ 0 or the buffer is empty.
func (b *Buffer) Sample(n int, rng *rand.Rand) []accrete.Example {
	return draw(b.items, n, rng)
}

// draw takes n items from src as Buffer.Sample describes, into a new slice.
func draw(src []accrete.Example, n int, rng *rand.Rand) []accrete.Example {
	if n <= 0 || len(src) == 0 {
		return nil
	}
	out := make([]accrete.Example, 0, n)
	for range n / len(src) {
		out = append(out, src...)
	}
	if rest := n % len(src); rest > 0 {
		// A partial Fisher–Yates shuffle of the indices picks rest distinct ones.
		idx := make([]int, len(src))
		for i := range idx {
			idx[i] = i
		}
		for i := range rest {
			j := i + rng.IntN(len(idx)-i)
			idx[i], idx[j] = idx[j], idx[i]
			out = append(out, src[idx[i]])
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// bufferJSON is a Buffer on disk: its examples, counters and generator state.
type bufferJSON struct {
	Capacity int               `json:"capacity"`
	Seen     int               `json:"seen"`
	Items    []accrete.Example `json:"items"`
	PCG      []byte            `json:"pcg"`
}

// MarshalJSON writes the buffer, its generator's state included, so that a buffer read back with
// UnmarshalJSON continues exactly as the original would.
func (b *Buffer) MarshalJSON() ([]byte, error) {
	st, err := b.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(bufferJSON{Capacity: b.capacity, Seen: b.seen, Items: b.items, PCG: st})
}

// UnmarshalJSON restores a buffer written by MarshalJSON.
func (b *Buffer) UnmarshalJSON(data []byte) error {
	var j bufferJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("replay: buffer: %w", err)
	}
	if j.Capacity < 1 || j.Seen < len(j.Items) || len(j.Items) != min(j.Capacity, j.Seen) {
		return fmt.Errorf("replay: buffer: inconsistent capacity %d, seen %d, %d items", j.Capacity, j.Seen, len(j.Items))
	}
	src := &rand.PCG{}
	if err := src.UnmarshalBinary(j.PCG); err != nil {
		return fmt.Errorf("replay: buffer: generator state: %w", err)
	}
	*b = Buffer{capacity: j.Capacity, seen: j.Seen, items: j.Items, src: src, rng: rand.New(src)}
	return nil
}
