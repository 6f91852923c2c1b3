package cpubackend

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Name is the name the backend is registered under: GOMLX_BACKEND=accrete selects it.
const Name = "accrete"

func init() {
	backends.Register(Name, New)
}

// New returns a new backend. The config (the text after "accrete:" in GOMLX_BACKEND) may be empty or
// "workers=N" to bound the goroutines a matmul uses (default: runtime.NumCPU()).
func New(config string) (backends.Backend, error) {
	b := &Backend{workers: runtime.NumCPU()}
	if config != "" {
		var n int
		if _, err := fmt.Sscanf(config, "workers=%d", &n); err != nil || n < 1 {
			return nil, fmt.Errorf("cpubackend: bad config %q: want \"\" or \"workers=N\" with N >= 1", config)
		}
		b.workers = n
	}
	return b, nil
}

// Backend implements backends.Backend on the CPU for the ops accrete's graphs use.
type Backend struct {
	workers   int
	mu        sync.Mutex
	finalized bool
}

var _ backends.Backend = (*Backend)(nil)

// Buffer is the backend's tensor: a shape and a flat Go slice of the shape's dtype.
type Buffer struct {
	shape shapes.Shape
	flat  any
	// borrowed is set on buffers made by BorrowFlat: their storage belongs to the caller, so an
	// execution never writes into it or hands it to the pool, even when the buffer is donated.
	borrowed bool
	// pooled is set on outputs left in the reuse pool's memory (see pool.go): finalizing the buffer
	// hands the storage back to the pool, and a buffer the garbage collector frees unfinalized has
	// its storage unmapped.
	pooled *pooledStorage
}

// pooledStorage is an output buffer's storage in the reuse pool's memory; done is set once it has
// been handed back (finalized, donated to an execution, or collected).
type pooledStorage struct {
	s    []float32
	done atomic.Bool
}

// newPooledBuffer returns a buffer over s, which the pool's memory holds.
func newPooledBuffer(shape shapes.Shape, s []float32) *Buffer {
	st := &pooledStorage{s: s}
	bb := &Buffer{shape: shape, flat: s, pooled: st}
	runtime.AddCleanup(bb, func(st *pooledStorage) {
		if st.done.CompareAndSwap(false, true) {
			dropMapped(st.s)
		}
	}, st)
	return bb
}

// release hands a pooled buffer's storage back to the pool (or, when donated, to the execution).
func (bb *Buffer) release(toPool bool) {
	if bb.pooled != nil && bb.pooled.done.CompareAndSwap(false, true) && toPool {
		putFlat(bb.pooled.s)
	}
}

func (b *Backend) Name() string        { return "accrete CPU" }
func (b *Backend) String() string      { return Name }
func (b *Backend) Description() string { return "accrete's pure-Go CPU backend with a blocked SGEMM" }
func (b *Backend) NumDevices() int     { return 1 }

func (b *Backend) DeviceDescription(deviceNum backends.DeviceNum) string {
	return fmt.Sprintf("cpu#%d", deviceNum)
}

func (b *Backend) Capabilities() backends.Capabilities { return capabilities.Clone() }

func (b *Backend) Builder(name string) backends.Builder { return newBuilder(b, name) }

// Finalize marks the backend finalized and releases the buffers kept for reuse.
func (b *Backend) Finalize() {
	b.mu.Lock()
	b.finalized = true
	b.mu.Unlock()
	releaseFree()
}

func (b *Backend) IsFinalized() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.finalized
}

func toBuffer(buf backends.Buffer) (*Buffer, error) {
	bb, ok := buf.(*Buffer)
	if !ok || bb == nil {
		return nil, fmt.Errorf("cpubackend: buffer %T is not an accrete buffer (or is nil)", buf)
	}
	if bb.flat == nil {
		return nil, fmt.Errorf("cpubackend: buffer %s was finalized", bb.shape)
	}
	return bb, nil
}

func (b *Backend) BufferFinalize(buf backends.Buffer) error {
	bb, ok := buf.(*Buffer)
	if !ok || bb == nil {
		return fmt.Errorf("cpubackend: BufferFinalize of %T", buf)
	}
	if bb.flat != nil {
		bb.release(true)
	}
	bb.flat = nil
	return nil
}

func (b *Backend) BufferShape(buf backends.Buffer) (shapes.Shape, error) {
	bb, err := toBuffer(buf)
	if err != nil {
		return shapes.Invalid(), err
	}
	return bb.shape, nil
}

func (b *Backend) BufferDeviceNum(buf backends.Buffer) (backends.DeviceNum, error) {
	if _, err := toBuffer(buf); err != nil {
		return 0, err
	}
	return 0, nil
}

func (b *Backend) BufferToFlatData(buf backends.Buffer, flat any) error {
	bb, err := toBuffer(buf)
	if err != nil {
		return err
	}
	dst, src := reflect.ValueOf(flat), reflect.ValueOf(bb.flat)
	if dst.Kind() != reflect.Slice || dst.Type() != src.Type() || dst.Len() != src.Len() {
		return fmt.Errorf("cpubackend: BufferToFlatData of %s into %T of length %d", bb.shape, flat, dst.Len())
	}
	reflect.Copy(dst, src)
	return nil
}

func (b *Backend) BufferFromFlatData(deviceNum backends.DeviceNum, flat any, shape shapes.Shape) (backends.Buffer, error) {
	if deviceNum != 0 {
		return nil, fmt.Errorf("cpubackend: device %d does not exist (only 0)", deviceNum)
	}
	src := reflect.ValueOf(flat)
	if src.Kind() != reflect.Slice || src.Type().Elem() != shape.DType.GoType() || src.Len() != shape.Size() {
		return nil, fmt.Errorf("cpubackend: BufferFromFlatData of %T (length %d) for shape %s", flat, src.Len(), shape)
	}
	return &Buffer{shape: shape.Clone(), flat: cloneHeap(flat)}, nil
}

// BorrowFlat returns a buffer of the given shape whose storage is flat itself, not a copy, so that a
// caller holding values in its own memory (a model's weights) does not hold them twice. The caller
// keeps flat: executions read it but never write into it or reuse its storage, even when the buffer
// is donated (it is then read as an ordinary input), and finalizing the buffer leaves flat alone.
// Changes the caller makes to flat are seen by later executions; they must not race with one.
func (b *Backend) BorrowFlat(flat any, shape shapes.Shape) (backends.Buffer, error) {
	v := reflect.ValueOf(flat)
	if v.Kind() != reflect.Slice || v.Type().Elem() != shape.DType.GoType() || v.Len() != shape.Size() {
		return nil, fmt.Errorf("cpubackend: BorrowFlat of %T (length %d) for shape %s", flat, v.Len(), shape)
	}
	return &Buffer{shape: shape.Clone(), flat: flat, borrowed: true}, nil
}

func (b *Backend) HasSharedBuffers() bool { return true }

func (b *Backend) NewSharedBuffer(deviceNum backends.DeviceNum, shape shapes.Shape) (backends.Buffer, any, error) {
	if deviceNum != 0 {
		return nil, nil, fmt.Errorf("cpubackend: device %d does not exist (only 0)", deviceNum)
	}
	flat := reflect.MakeSlice(reflect.SliceOf(shape.DType.GoType()), shape.Size(), shape.Size()).Interface()
	return &Buffer{shape: shape.Clone(), flat: flat}, flat, nil
}

func (b *Backend) BufferData(buf backends.Buffer) (any, error) {
	bb, err := toBuffer(buf)
	if err != nil {
		return nil, err
	}
	return bb.flat, nil
}

func (b *Backend) BufferCopyToDevice(source backends.Buffer, deviceNum backends.DeviceNum) (backends.Buffer, error) {
	return nil, fmt.Errorf("cpubackend: BufferCopyToDevice: there is only device 0")
}

// newFlat returns a zeroed slice of n elements of dtype's Go type.
func newFlat(dtype dtypes.DType, n int) any {
	switch dtype {
	case dtypes.Float32:
		return getF32Zero(n)
	case dtypes.Float64:
		return make([]float64, n)
	case dtypes.BFloat16:
		return make([]bfloat16.BFloat16, n)
	case dtypes.Int32:
		return make([]int32, n)
	case dtypes.Int64:
		return make([]int64, n)
	case dtypes.Uint64:
		return make([]uint64, n)
	case dtypes.Uint32:
		return make([]uint32, n)
	case dtypes.Bool:
		return make([]bool, n)
	case dtypes.Uint8:
		return make([]uint8, n)
	case dtypes.Int8:
		return make([]int8, n)
	case dtypes.Int16:
		return make([]int16, n)
	case dtypes.Uint16:
		return make([]uint16, n)
	}
	return reflect.MakeSlice(reflect.SliceOf(dtype.GoType()), n, n).Interface()
}

// words reinterprets a flat slice as a slice of W (which must have the element's size), for the ops
// that only move data.
func words[W any](flat any) []W {
	v := reflect.ValueOf(flat)
	n := v.Len()
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*W)(v.UnsafePointer()), n)
}

// cloneHeap returns a copy of a flat slice in Go memory (for values that leave Execute or outlive it).
func cloneHeap(flat any) any {
	v := reflect.ValueOf(flat)
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(out, v)
	return out.Interface()
}

// cloneFlat returns a copy of a flat slice, for ops inside Execute (float32 copies come from the pool).
func cloneFlat(flat any) any {
	if f, ok := flat.([]float32); ok {
		out := getF32(len(f))
		copy(out, f)
		return out
	}
	v := reflect.ValueOf(flat)
	out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(out, v)
	return out.Interface()
}
