package cpubackend

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Executable runs a compiled computation: the ops the outputs depend on, in creation order, one at a
// time (matmuls use several goroutines inside). It keeps no state between calls, so concurrent
// Execute calls are safe.
type Executable struct {
	backend *Backend
	name    string
	params  []*node
	names   []string
	outputs []*node
	// order lists the nodes to run; lastUse[i] is the position in order after which the value of
	// order[i] is no longer needed (len(order) for outputs).
	order   []*node
	pos     map[*node]int
	lastUse []int
	// root[i] is the position of the node whose storage order[i]'s value is (itself unless order[i]
	// is an alias such as Reshape); release[i] lists the storage roots that die at step i — the last
	// use of the root and all its aliases — and that the executable owns (not parameters, constants
	// or outputs): Execute hands those buffers back to the pool for later ops to reuse.
	root    []int
	rootEnd []int
	release [][]int

	// scratch pools Execute's per-run bookkeeping (four slices as long as order), which a decode
	// step would otherwise allocate anew for every token.
	scratch sync.Pool // *execScratch
}

// execScratch is one Execute's bookkeeping; see Execute.
type execScratch struct {
	vals, storage []any
	owned, kept   []bool
}

var _ backends.Executable = (*Executable)(nil)

func newExecutable(b *Builder, outputs []*node) *Executable {
	needed := make([]bool, len(b.nodes))
	for _, o := range outputs {
		needed[o.id] = true
	}
	for i := len(b.nodes) - 1; i >= 0; i-- {
		if needed[i] {
			for _, in := range b.nodes[i].inputs {
				needed[in.id] = true
			}
		}
	}
	e := &Executable{backend: b.backend, name: b.name, params: b.params, names: b.names, outputs: outputs,
		pos: map[*node]int{}}
	for _, n := range b.nodes {
		if needed[n.id] || n.param >= 0 {
			e.pos[n] = len(e.order)
			e.order = append(e.order, n)
		}
	}
	e.lastUse = make([]int, len(e.order))
	for i, n := range e.order {
		for _, in := range n.inputs {
			e.lastUse[e.pos[in]] = i
		}
	}
	for _, o := range outputs {
		e.lastUse[e.pos[o]] = len(e.order)
	}
	e.root = make([]int, len(e.order))
	e.rootEnd = make([]int, len(e.order))
	for i, n := range e.order {
		e.root[i] = i
		if n.alias {
			e.root[i] = e.root[e.pos[n.inputs[0]]]
		}
		r := e.root[i]
		e.rootEnd[r] = max(e.rootEnd[r], e.lastUse[i])
	}
	e.release = make([][]int, len(e.order))
	for r, n := range e.order {
		if e.root[r] != r || n.param >= 0 || n.op == backends.OpTypeConstant || n.multi || e.rootEnd[r] >= len(e.order) {
			continue
		}
		e.release[e.rootEnd[r]] = append(e.release[e.rootEnd[r]], r)
	}
	return e
}

// inPlaceInput returns which of node n's (at position i) inputs it may overwrite, or -1: one listed
// in n.inPlace whose storage dies at this op, is owned by this execution (an intermediate or a donated
// input) and is not also read through another input.
func (e *Executable) inPlaceInput(n *node, i int, owned, kept []bool) int {
	if n.runInto == nil {
		return -1
	}
	for _, k := range n.inPlace {
		r := e.root[e.pos[n.inputs[k]]]
		if e.rootEnd[r] != i || !owned[r] || kept[r] {
			continue
		}
		shared := false
		for j, in := range n.inputs {
			shared = shared || j != k && e.root[e.pos[in]] == r
		}
		if !shared {
			return k
		}
	}
	return -1
}

func (e *Executable) Finalize() {}

func (e *Executable) Inputs() ([]string, []shapes.Shape) {
	s := make([]shapes.Shape, len(e.params))
	for i, p := range e.params {
		s[i] = p.shape
	}
	return append([]string(nil), e.names...), s
}

func (e *Executable) Outputs() []shapes.Shape {
	s := make([]shapes.Shape, len(e.outputs))
	for i, o := range e.outputs {
		s[i] = o.shape
	}
	return s
}

// Execute runs the computation. Intermediate buffers go back to the pool once their last use has
// run. A donated input may become an output's storage: DynamicUpdateSlice writes into a donated
// operand in place when nothing else reads it afterwards (the KV cache of a decode step).
func (e *Executable) Execute(inputs []backends.Buffer, donate []bool, device backends.DeviceNum) (outs []backends.Buffer, err error) {
	if len(inputs) != len(e.params) {
		return nil, fmt.Errorf("cpubackend: %q takes %d inputs, got %d", e.name, len(e.params), len(inputs))
	}
	sc, _ := e.scratch.Get().(*execScratch)
	if sc == nil {
		n := len(e.order)
		sc = &execScratch{vals: make([]any, n), storage: make([]any, n), owned: make([]bool, n), kept: make([]bool, n)}
	}
	defer func() { // the slices go back cleared, holding no values
		clear(sc.vals)
		clear(sc.storage)
		clear(sc.owned)
		clear(sc.kept)
		e.scratch.Put(sc)
	}()
	vals, owned := sc.vals, sc.owned
	// storage[r] is the value of storage root r while any alias of it may still be read.
	storage := sc.storage
	// kept[r]: root r's buffer was taken over by an in-place op, so it is not released.
	kept := sc.kept
	for i, p := range e.params {
		buf, err := toBuffer(inputs[i])
		if err != nil {
			return nil, fmt.Errorf("cpubackend: %q input #%d (%s): %w", e.name, i, e.names[i], err)
		}
		if !buf.shape.Equal(p.shape) {
			return nil, fmt.Errorf("cpubackend: %q input #%d (%s) has shape %s, want %s", e.name, i, e.names[i], buf.shape, p.shape)
		}
		vals[e.pos[p]] = buf.flat
		owned[e.pos[p]] = i < len(donate) && donate[i] && !buf.borrowed
		if owned[e.pos[p]] {
			buf.release(false) // the execution owns the storage now
		}
	}
	var current *node
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cpubackend: %q: executing %s -> %s: %v", e.name, current.op, current.shape, r)
			outs = nil
		}
	}()
	args := make([]any, 0, 8)
	for i, n := range e.order {
		if n.param >= 0 {
			continue
		}
		current = n
		args = args[:0]
		for _, in := range n.inputs {
			args = append(args, vals[e.pos[in]])
		}
		if k := e.inPlaceInput(n, i, owned, kept); k >= 0 {
			kept[e.root[e.pos[n.inputs[k]]]] = true
			vals[i] = n.runInto(e.backend, args, args[k])
		} else {
			vals[i] = n.run(e.backend, args)
		}
		owned[i] = !n.alias && n.op != backends.OpTypeConstant
		if n.alias {
			owned[i] = owned[e.pos[n.inputs[0]]]
		} else {
			storage[i] = vals[i]
		}
		for _, in := range n.inputs {
			if j := e.pos[in]; e.lastUse[j] == i {
				vals[j] = nil
			}
		}
		for _, r := range e.release[i] {
			if !kept[r] {
				putFlat(storage[r])
			}
			storage[r] = nil
		}
	}
	outs = make([]backends.Buffer, len(e.outputs))
	seen := map[uintptr]bool{}
	for k, o := range e.outputs {
		j := e.pos[o]
		v := vals[j]
		p := reflect.ValueOf(v).Pointer()
		if s, ok := v.([]float32); !owned[j] || seen[p] {
			v = cloneHeap(v)
		} else if ok && isMapped(s) { // stays in the pool's memory until the buffer is finalized
			seen[p] = true
			outs[k] = newPooledBuffer(o.shape.Clone(), s)
			continue
		}
		seen[p] = true
		outs[k] = &Buffer{shape: o.shape.Clone(), flat: v}
	}
	return outs, nil
}
