package tokenizer

// This file holds the merge loop shared by the BPE and llama2.c tokenizers: symbols in a doubly
// linked list and candidate merges in a binary heap, ordered by priority and then by position, with
// stale candidates dropped when popped. It costs O(n log n) for n starting symbols.

// pairFunc reports whether the adjacent ids a, b may merge, into which id, and with what priority
// (lower merges first).
type pairFunc func(a, b int32) (prio float64, merged int32, ok bool)

type symbol struct {
	id         int32
	prev, next int32
}

type candidate struct {
	prio        float64
	pos         int32
	left, right int32
}

// merger holds reusable buffers; it is not safe for concurrent use.
type merger struct {
	syms []symbol
	heap []candidate
}

func (c candidate) less(d candidate) bool {
	if c.prio != d.prio {
		return c.prio < d.prio
	}
	return c.pos < d.pos
}

func (m *merger) push(c candidate) {
	h := append(m.heap, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	m.heap = h
}

func (m *merger) pop() candidate {
	h := m.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		small := l
		if r := l + 1; r < len(h) && h[r].less(h[l]) {
			small = r
		}
		if !h[small].less(h[i]) {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	m.heap = h
	return top
}

// run merges ids in place by pf and appends the result to dst.
func (m *merger) run(ids []int32, pf pairFunc, dst []int) []int {
	if len(ids) < 2 {
		for _, id := range ids {
			dst = append(dst, int(id))
		}
		return dst
	}
	m.syms = m.syms[:0]
	m.heap = m.heap[:0]
	for i, id := range ids {
		m.syms = append(m.syms, symbol{id: id, prev: int32(i - 1), next: int32(i + 1)})
	}
	m.syms[len(ids)-1].next = -1
	tryPush := func(pos int32) {
		s := m.syms[pos]
		if s.next < 0 {
			return
		}
		right := m.syms[s.next].id
		if prio, _, ok := pf(s.id, right); ok {
			m.push(candidate{prio: prio, pos: pos, left: s.id, right: right})
		}
	}
	for i := range len(ids) - 1 {
		tryPush(int32(i))
	}
	for len(m.heap) > 0 {
		c := m.pop()
		s := &m.syms[c.pos]
		if s.id != c.left || s.next < 0 || m.syms[s.next].id != c.right {
			continue // stale: one side has merged since
		}
		_, merged, _ := pf(c.left, c.right)
		r := s.next
		s.id = merged
		s.next = m.syms[r].next
		m.syms[r].id = -1
		if s.next >= 0 {
			m.syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			tryPush(s.prev)
		}
		tryPush(c.pos)
	}
	for i := int32(0); i >= 0; i = m.syms[i].next {
		dst = append(dst, int(m.syms[i].id))
	}
	return dst
}
