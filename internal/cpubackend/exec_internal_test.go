package cpubackend

import (
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/stretchr/testify/require"
)

// buildExec compiles f over the backend's builder with float32 parameters of the given shapes.
func buildExec(t *testing.T, b *Backend, f func(bd *Builder, params []backends.Op) []backends.Op, shps ...shapes.Shape) backends.Executable {
	t.Helper()
	bd := b.Builder("test").(*Builder)
	params := make([]backends.Op, len(shps))
	for i, s := range shps {
		p, err := bd.Parameter("p", s, nil)
		require.NoError(t, err)
		params[i] = p
	}
	e, err := bd.Compile(f(bd, params), nil)
	require.NoError(t, err)
	return e
}

func must(t *testing.T) func(backends.Op, error) backends.Op {
	return func(op backends.Op, err error) backends.Op {
		t.Helper()
		require.NoError(t, err)
		return op
	}
}

// TestPooledBuffersDoNotLeakIntoLiveValues runs a graph whose intermediates die at different
// points, some read through aliases (Reshape) and one returned both directly and through an
// alias, many times with different inputs: every run must give the values computed directly, so
// a buffer handed back to the pool while still reachable would show up as a wrong value.
func TestPooledBuffersDoNotLeakIntoLiveValues(t *testing.T) {
	b := &Backend{workers: 2}
	const n = 2 * minMapped // pooled and mapped outside the Go heap
	s := shapes.Make(dtypes.Float32, n)
	m := must(t)
	e := buildExec(t, b, func(bd *Builder, p []backends.Op) []backends.Op {
		x := p[0]
		two := m(bd.Add(x, x))                                                    // 2x, dies after r and y
		r := m(bd.Reshape(two, 128, n/128))                                       // alias of two
		y := m(bd.Exp(m(bd.Neg(two))))                                            // e^-2x
		z := m(bd.Mul(m(bd.Reshape(r, n)), y))                                    // 2x·e^-2x, read through a second alias
		w := m(bd.Add(z, x))                                                      // 2x·e^-2x + x
		return []backends.Op{w, m(bd.Reshape(z, 128, n/128)), z, m(bd.Sub(w, z))} // z twice, once aliased
	}, s)
	var kept, keptWant []float32
	for run := range 5 {
		in := make([]float32, n)
		for i := range in {
			in[i] = float32(i%97)/97 + float32(run)
		}
		buf, err := b.BufferFromFlatData(0, in, s)
		require.NoError(t, err)
		outs, err := e.Execute([]backends.Buffer{buf}, nil, 0)
		require.NoError(t, err)
		w, z2, z, wz := outs[0].(*Buffer).flat.([]float32), outs[1].(*Buffer).flat.([]float32),
			outs[2].(*Buffer).flat.([]float32), outs[3].(*Buffer).flat.([]float32)
		require.NotSame(t, &z[0], &z2[0], "two outputs share storage")
		for i, v := range in {
			wantZ := 2 * v * float32(math.Exp(-2*float64(v)))
			for k, d := range []float64{float64(z[i] - wantZ), float64(z2[i] - wantZ), float64(w[i] - wantZ - v), float64(wz[i] - v)} {
				if math.Abs(d) > 1e-5 {
					t.Fatalf("run %d, output %d [%d]: off by %g", run, k, i, d)
				}
			}
		}
		// The input is never recycled: it still holds what the caller gave.
		require.Equal(t, in, buf.(*Buffer).flat.([]float32))
		// Outputs in the pool's memory go back to it when finalized, and later runs reuse them; the
		// first run's w is kept, and must survive every later run untouched.
		if run == 0 {
			kept, keptWant = w, slices.Clone(w)
			outs = outs[1:]
		}
		for _, o := range outs {
			require.NoError(t, b.BufferFinalize(o))
		}
	}
	require.True(t, isMapped(kept), "a large output was copied out of the pool's memory")
	require.Equal(t, keptWant, kept, "an output not finalized was reused")
}

// TestDynamicUpdateSliceInPlaceOnlyWhenDonated checks that DynamicUpdateSlice writes into its
// operand's buffer when the caller donates it, and copies it otherwise (the caller's buffer is
// unchanged and may be used again).
func TestDynamicUpdateSliceInPlaceOnlyWhenDonated(t *testing.T) {
	b := &Backend{workers: 2}
	os, us := shapes.Make(dtypes.Float32, 4, 8), shapes.Make(dtypes.Float32, 1, 8)
	m := must(t)
	bd := b.Builder("dus").(*Builder)
	op := m(bd.Parameter("cache", os, nil))
	up := m(bd.Parameter("row", us, nil))
	at := m(bd.Parameter("at", shapes.Make(dtypes.Int32), nil))
	zero := m(bd.Constant([]int32{0}))
	zero = m(bd.Reshape(zero))
	e, err := bd.Compile([]backends.Op{m(bd.DynamicUpdateSlice(op, up, []backends.Op{at, zero}))}, nil)
	require.NoError(t, err)
	cache := make([]float32, 32)
	row := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	for _, donate := range []bool{false, true} {
		cb, _ := b.BufferFromFlatData(0, cache, os)
		rb, _ := b.BufferFromFlatData(0, row, us)
		ab, _ := b.BufferFromFlatData(0, []int32{2}, shapes.Make(dtypes.Int32))
		outs, err := e.Execute([]backends.Buffer{cb, rb, ab}, []bool{donate, false, false}, 0)
		require.NoError(t, err)
		got := outs[0].(*Buffer).flat.([]float32)
		require.Equal(t, row, got[16:24])
		require.Equal(t, make([]float32, 16), got[:16])
		in := cb.(*Buffer).flat.([]float32)
		if donate {
			require.Same(t, &in[0], &got[0], "a donated operand is updated in place")
		} else {
			require.NotSame(t, &in[0], &got[0])
			require.Equal(t, make([]float32, 32), in, "an operand that is not donated is unchanged")
		}
	}
}

// TestElementwiseInPlaceAndLazyBroadcast checks that unary and binary ops write into a donated or
// dead operand instead of allocating, never into an input the caller still owns, and that a
// BroadcastInDim read by rows by an element-wise op is never expanded.
func TestElementwiseInPlaceAndLazyBroadcast(t *testing.T) {
	b := &Backend{workers: 2}
	const rows, cols = 3, 700 // 2100 elements: pooled
	full, row := shapes.Make(dtypes.Float32, rows, cols), shapes.Make(dtypes.Float32, rows)
	m := must(t)
	bd := b.Builder("inplace").(*Builder)
	x := m(bd.Parameter("x", full, nil))
	r := m(bd.Parameter("r", row, nil))
	e1 := m(bd.Exp(x))                                           // x may be donated
	sh := m(bd.Sub(e1, m(bd.BroadcastInDim(r, full, []int{0})))) // e^x - r[row], into e1
	out := m(bd.Neg(sh))                                         // into sh
	ex, err := bd.Compile([]backends.Op{out}, nil)
	require.NoError(t, err)
	for _, n := range ex.(*Executable).order {
		require.NotEqual(t, backends.OpTypeBroadcastInDim, n.op, "the broadcast is read in place, not expanded")
	}
	xs := make([]float32, rows*cols)
	for i := range xs {
		xs[i] = float32(i%13) / 7
	}
	rs := []float32{0.5, -1, 2}
	for _, donate := range []bool{false, true} {
		xb, _ := b.BufferFromFlatData(0, xs, full)
		rb, _ := b.BufferFromFlatData(0, rs, row)
		outs, err := ex.Execute([]backends.Buffer{xb, rb}, []bool{donate, false}, 0)
		require.NoError(t, err)
		got := outs[0].(*Buffer).flat.([]float32)
		for i, v := range xs {
			require.InDelta(t, -(math.Exp(float64(v)) - float64(rs[i/cols])), got[i], 1e-5, "[%d]", i)
		}
		in := xb.(*Buffer).flat.([]float32)
		if donate {
			require.Same(t, &in[0], &got[0], "a donated input is overwritten by the chain")
		} else {
			require.Equal(t, xs, in, "an input that is not donated is never written")
		}
	}
}

// TestBorrowedBuffersAreNeverWritten checks that a buffer made by BorrowFlat reads the caller's
// memory without a copy, and that donating it changes nothing: an in-place op (Exp into a donated
// operand, DynamicUpdateSlice into a donated cache) copies instead, and the storage is never handed
// to the pool, where a later op would overwrite the caller's values.
func TestBorrowedBuffersAreNeverWritten(t *testing.T) {
	b := &Backend{workers: 2}
	const n = 2 * minMapped
	s := shapes.Make(dtypes.Float32, n)
	m := must(t)
	e := buildExec(t, b, func(bd *Builder, p []backends.Op) []backends.Op {
		return []backends.Op{m(bd.Exp(p[0]))}
	}, s)
	host := make([]float32, n)
	for i := range host {
		host[i] = float32(i%13) / 13
	}
	want := append([]float32(nil), host...)
	buf, err := b.BorrowFlat(host, s)
	require.NoError(t, err)
	require.Same(t, &host[0], &buf.(*Buffer).flat.([]float32)[0], "BorrowFlat copied")
	for range 3 {
		outs, err := e.Execute([]backends.Buffer{buf}, []bool{true}, 0)
		require.NoError(t, err)
		got := outs[0].(*Buffer).flat.([]float32)
		require.NotSame(t, &host[0], &got[0], "an op wrote into a borrowed buffer")
		require.InDelta(t, math.Exp(float64(want[5])), got[5], 1e-6)
		// Ops that take their outputs from the pool must not receive the borrowed storage.
		for range 4 {
			x := getF32(n)
			require.NotSame(t, &host[0], &x[0], "the pool handed out a borrowed buffer")
			defer putFlat(x)
		}
	}
	require.Equal(t, want, host, "the caller's memory changed")
	_, err = b.BorrowFlat(host[:10], s)
	require.ErrorContains(t, err, "BorrowFlat")
}

// TestPoolIsSizedFromTheRun checks that the memory the pool maps never exceeds the peak in use: a
// buffer of a new length evicts free buffers of other lengths instead of adding to them, and buffers
// handed back stay for reuse up to that peak.
func TestPoolIsSizedFromTheRun(t *testing.T) {
	probe := mapF32(minMapped)
	if !isMapped(probe) {
		t.Skip("no memory maps here")
	}
	unmapF32(probe)
	old := minKeepBytes
	minKeepBytes = 0
	defer func() { minKeepBytes = old; ReleaseMemory() }()
	ReleaseMemory()
	base, _, _ := PoolStats()
	const n = 4 * minMapped
	a, b := getF32(n), getF32(n)
	putFlat(a)
	putFlat(b)
	inUse, peak, free := PoolStats()
	require.Equal(t, int64(0), inUse-base)
	require.Equal(t, int64(8*n), peak-base)
	require.Equal(t, int64(8*n), free, "buffers within the peak are kept for reuse")
	c := getF32(n)
	require.True(t, &c[0] == &a[0] || &c[0] == &b[0], "a free buffer of the same length is reused")
	d := getF32(2 * n) // a new length: the free buffer of length n goes, the peak does not grow
	inUse, peak, free = PoolStats()
	require.Equal(t, int64(12*n), inUse-base)
	require.Equal(t, int64(12*n), peak-base)
	require.Equal(t, int64(0), free, "a free buffer was kept beyond the peak")
	putFlat(c)
	putFlat(d)
	_, _, free = PoolStats()
	require.Equal(t, int64(12*n), free)
}
