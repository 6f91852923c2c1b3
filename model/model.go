package model

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Adapter adds tensors and a per-layer delta to a Model, without changing its base weights (a LoRA,
// a mixture of LoRA experts). Attach one with Model.SetAdapter.
type Adapter interface {
	// Tensors returns the adapter's tensors by name; names must not collide with base weight names.
	Tensors() map[string]*Tensor
	// Delta returns the delta to add to module's output in layer for the input x [..., in], or nil.
	// p holds the graph nodes of the base weights and of the adapter's tensors, by name.
	Delta(p Params, layer int, module string, x *graph.Node) *graph.Node
}

// Model is a Llama decoder: a config, its weights, an optional adapter, and the compiled graphs that
// run them on a GoMLX backend. A Model is safe for concurrent use by readers; changing weights or the
// adapter (SetAdapter, UpdateWeights) must not race with running it.
type Model struct {
	Config  Config
	Weights Weights

	backend backends.Backend
	adapter Adapter

	mu      sync.Mutex
	dev     map[string]*tensors.Tensor // device copies of Weights and adapter tensors
	version int                        // bumped when the graph structure (the adapter) changes
	progs   map[string]*graph.Exec
	lru     []string

	// inPlace: the backend writes DynamicUpdateSlice into a donated buffer (Capabilities clones its
	// maps on every call, so it is read once).
	inPlace bool
}

// New returns a model over cfg and w on backend b. w is used, not copied.
func New(b backends.Backend, cfg Config, w Weights) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if err := w.Check(cfg); err != nil {
		return nil, err
	}
	return &Model{Config: cfg, Weights: w, backend: b, dev: map[string]*tensors.Tensor{}, progs: map[string]*graph.Exec{},
		inPlace: b.Capabilities().Operations[backends.OpTypeDynamicUpdateSlice]}, nil
}

// Backend returns the backend the model runs on.
func (m *Model) Backend() backends.Backend { return m.backend }

// Adapter returns the attached adapter, or nil.
func (m *Model) Adapter() Adapter { return m.adapter }

// SetAdapter attaches a (nil: detaches the) adapter. Compiled graphs are rebuilt on next use.
func (m *Model) SetAdapter(a Adapter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a != nil {
		for name := range a.Tensors() {
			if _, ok := m.Weights[name]; ok {
				panic(fmt.Sprintf("model: adapter tensor %q collides with a base weight", name))
			}
		}
	}
	m.adapter = a
	m.resetLocked()
}

// UpdateWeights tells the model that the named tensors (base or adapter) changed on the host, so their
// device copies are refreshed on next use. With no names, everything is refreshed.
func (m *Model) UpdateWeights(names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(names) == 0 {
		for _, t := range m.dev {
			t.FinalizeAll()
		}
		clear(m.dev)
		return
	}
	for _, n := range names {
		if t, ok := m.dev[n]; ok {
			t.FinalizeAll()
			delete(m.dev, n)
		}
	}
}

func (m *Model) resetLocked() {
	for _, e := range m.progs {
		e.Finalize()
	}
	clear(m.progs)
	m.lru = nil
	m.version++
	for n, t := range m.dev {
		if _, ok := m.Weights[n]; !ok {
			t.FinalizeAll()
			delete(m.dev, n)
		}
	}
}

// ParamNames returns, sorted, the names of the base weights and of the attached adapter's tensors:
// the order in which ParamTensors passes them to a graph.
func (m *Model) ParamNames() []string {
	names := slices.Collect(maps.Keys(m.Weights))
	if m.adapter != nil {
		names = append(names, slices.Collect(maps.Keys(m.adapter.Tensors()))...)
	}
	slices.Sort(names)
	return names
}

func (m *Model) hostTensor(name string) *Tensor {
	if t, ok := m.Weights[name]; ok {
		return t
	}
	if m.adapter != nil {
		if t, ok := m.adapter.Tensors()[name]; ok {
			return t
		}
	}
	panic(fmt.Sprintf("model: no tensor %q", name))
}

// ParamTensors returns the GoMLX tensors of the named parameters, uploading those that changed.
func (m *Model) ParamTensors(names []string) []*tensors.Tensor {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*tensors.Tensor, len(names))
	for i, n := range names {
		t, ok := m.dev[n]
		if !ok {
			t = m.upload(m.hostTensor(n))
			m.dev[n] = t
		}
		out[i] = t
	}
	return out
}

// borrower is a backend that can run on a caller's memory without copying it (the accrete CPU
// backend): a model's weights are then held once, by the host tensors, and UpdateWeights only drops
// the buffers that borrow them.
type borrower interface {
	BorrowFlat(flat any, shape shapes.Shape) (backends.Buffer, error)
}

// upload returns the backend tensor of h: a buffer borrowing h's storage where the backend can, else
// a copy.
func (m *Model) upload(h *Tensor) *tensors.Tensor {
	var flat any = h.Data
	dtype := dtypes.Float32
	if h.BF16 != nil {
		flat = unsafe.Slice((*bfloat16.BFloat16)(unsafe.Pointer(unsafe.SliceData(h.BF16))), len(h.BF16))
		dtype = dtypes.BFloat16
	}
	shape := shapes.Make(dtype, h.Shape...)
	if b, ok := m.backend.(borrower); ok {
		if buf, err := b.BorrowFlat(flat, shape); err == nil {
			if t, err := tensors.FromBuffer(m.backend, buf); err == nil {
				return t
			}
		}
	}
	t := tensors.FromShape(shape)
	t.MutableFlatData(func(dst any) { reflect.Copy(reflect.ValueOf(dst), reflect.ValueOf(flat)) })
	return t
}

// SetParamTensors makes ts the backend values of the named parameters (base or adapter) in place of
// uploads of their host tensors, and takes ownership of them: a trainer that updates weights on the
// device installs its outputs here so that the next graph reads them without a host round trip. The
// host tensors are left as they are; until the caller writes the new values back to them they are
// stale, and UpdateWeights on a name drops its device value and uploads the host tensor again.
func (m *Model) SetParamTensors(names []string, ts []*tensors.Tensor) {
	if len(names) != len(ts) {
		panic(fmt.Sprintf("model: SetParamTensors: %d names, %d tensors", len(names), len(ts)))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, n := range names {
		m.hostTensor(n) // panics on an unknown name
		if old, ok := m.dev[n]; ok && old != ts[i] {
			old.FinalizeAll()
		}
		m.dev[n] = ts[i]
	}
}

// BuildParams maps the first len(names) nodes to names: the inverse of ParamTensors inside a graph.
//
// A tensor stored as bfloat16 (Tensor.BF16) arrives as a bfloat16 parameter; its entry is that
// parameter converted to float32, which the backends fuse into the matmuls and lookups that read it
// (XLA's fusion; the accrete backend reads the bfloat16 weight block by block), so the graph
// computes in float32 without a float32 copy of the weight.
func BuildParams(names []string, nodes []*graph.Node) Params {
	p := make(Params, len(names))
	for i, n := range names {
		p[n] = nodes[i]
		if nodes[i].DType() == dtypes.BFloat16 {
			p[n] = graph.ConvertDType(nodes[i], dtypes.Float32)
		}
	}
	return p
}

// Hook returns the adapter's hook for a graph with parameters p, or nil without an adapter.
func (m *Model) Hook(p Params) Hook {
	if m.adapter == nil {
		return nil
	}
	a := m.adapter
	return func(layer int, module string, x *graph.Node) *graph.Node { return a.Delta(p, layer, module, x) }
}

// maxPrograms bounds the compiled graphs a model keeps (each Exec holds exactly one shape, so GoMLX's
// 32-entry cache limit is never reached); the least recently used is dropped first.
const maxPrograms = 48

// program returns the compiled graph for key, building it with build on first use.
func (m *Model) program(key string, build func(names []string) *graph.Exec) (*graph.Exec, []string) {
	names := m.ParamNames()
	m.mu.Lock()
	defer m.mu.Unlock()
	key = fmt.Sprintf("%d/%s", m.version, key)
	if e, ok := m.progs[key]; ok {
		m.touchLocked(key)
		return e, names
	}
	e := build(names)
	m.progs[key] = e
	m.lru = append(m.lru, key)
	if len(m.lru) > maxPrograms {
		old := m.lru[0]
		m.lru = m.lru[1:]
		m.progs[old].Finalize()
		delete(m.progs, old)
	}
	return e, names
}

func (m *Model) touchLocked(key string) {
	if i := slices.Index(m.lru, key); i >= 0 {
		m.lru = append(slices.Delete(m.lru, i, i+1), key)
	}
}

func (m *Model) exec(e *graph.Exec, names []string, data ...any) ([]*tensors.Tensor, error) {
	args := make([]any, 0, len(names)+len(data))
	for _, t := range m.ParamTensors(names) {
		args = append(args, t)
	}
	args = append(args, data...)
	return e.Exec(args...)
}

// weightsOverhead is the share of its weights' size that a Model on the accrete backend may hold
// beyond the weights themselves (compiled graphs, device tensors' bookkeeping); TestWeightsHeldOnce
// checks it.
const weightsOverhead = 0.05
