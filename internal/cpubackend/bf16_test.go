package cpubackend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/stretchr/testify/require"
)

func TestBF16Conversions(t *testing.T) {
	// Expected bits as torch's tensor(f).bfloat16() gives them (round to nearest, ties to even).
	for f, bits := range map[float32]uint16{0: 0, 1: 0x3f80, -1: 0xbf80, 1.5: 0x3fc0, 3.140625: 0x4049,
		-65504: 0xc780, 1.00390625: 0x3f80, 1.01171875: 0x3f82, float32(math.Inf(1)): 0x7f80} {
		d := []bfloat16.BFloat16{0}
		f32ToBF16(d, []float32{f})
		require.Equal(t, bfloat16.BFloat16(bits), d[0], "%g", f)
		back := []float32{0}
		bf16ToF32(back, d)
		require.Equal(t, math.Float32frombits(uint32(bits)<<16), back[0])
	}
	// Every length (SIMD body and scalar tail), against the scalar definition.
	src := make([]bfloat16.BFloat16, 200)
	for i := range src {
		src[i] = bfloat16.BFloat16(uint16(i*331 + 7))
	}
	for n := range len(src) {
		dst := make([]float32, n+1)
		dst[n] = 42
		bf16ToF32(dst[:n], src[:n])
		for i := range n {
			require.Equal(t, math.Float32bits(src[i].Float32()), math.Float32bits(dst[i]), "n %d i %d", n, i)
		}
		require.Equal(t, float32(42), dst[n], "n %d: wrote past the end", n)
	}
	// Ties round to even: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7.
	d := []bfloat16.BFloat16{0, 0}
	f32ToBF16(d, []float32{1 + 1.0/256, 1 + 3.0/256})
	require.Equal(t, []float32{1, 1 + 4.0/256}, []float32{d[0].Float32(), d[1].Float32()})
	f32ToBF16(d, []float32{float32(math.NaN()), 0})
	require.True(t, math.IsNaN(float64(d[0].Float32())))
}

// TestDotGeneralReadsBF16Operands checks DotGeneral with a converted bfloat16 operand on either
// side and with either axis contracted, against float64 products of the same (bfloat16) values,
// with blocks small enough that every case cuts the weight into several, and that the conversion
// itself never runs (the Gather and DotGeneral read the bfloat16 value).
func TestDotGeneralReadsBF16Operands(t *testing.T) {
	old := bf16Block
	bf16Block = 40 * 64 // a few blocks of 32 columns
	defer func() { bf16Block = old }()
	b := &Backend{workers: 2}
	rng := rand.New(rand.NewPCG(1, 2))
	const R, C = 150, 64 // w is [R, C]
	w := make([]bfloat16.BFloat16, R*C)
	wf := make([]float64, R*C)
	for i := range w {
		w[i] = bfloat16.FromFloat32(float32(rng.NormFloat64()))
		wf[i] = float64(w[i].Float32())
	}
	m := must(t)
	for _, rows := range []int{1, 3, 37} {
		for _, wIsLHS := range []bool{false, true} {
			for _, wc := range []int{0, 1} {
				k := []int{R, C}[wc]
				free := R + C - k
				xs := shapes.Make(dtypes.Float32, rows, k)
				x := make([]float32, rows*k)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				bd := b.Builder("bf16").(*Builder)
				wp := m(bd.Parameter("w", shapes.Make(dtypes.BFloat16, R, C), nil))
				xp := m(bd.Parameter("x", xs, nil))
				conv := m(bd.ConvertDType(wp, dtypes.Float32))
				var dot backends.Op
				if wIsLHS {
					dot = m(bd.DotGeneral(conv, []int{wc}, nil, xp, []int{1}, nil))
				} else {
					dot = m(bd.DotGeneral(xp, []int{1}, nil, conv, []int{wc}, nil))
				}
				e, err := bd.Compile([]backends.Op{dot}, nil)
				require.NoError(t, err)
				for _, n := range e.(*Executable).order {
					require.NotEqual(t, backends.OpTypeConvertDType, n.op, "the bfloat16 weight is converted whole")
				}
				wb, err := b.BorrowFlat(w, shapes.Make(dtypes.BFloat16, R, C))
				require.NoError(t, err)
				xb, _ := b.BufferFromFlatData(0, x, xs)
				outs, err := e.Execute([]backends.Buffer{wb, xb}, nil, 0)
				require.NoError(t, err)
				got := outs[0].(*Buffer).flat.([]float32)
				at := func(f, p int) float64 { // w's element at free index f, contracting index p
					if wc == 1 {
						return wf[f*C+p]
					}
					return wf[p*C+f]
				}
				for i := range rows {
					for f := range free {
						var s float64
						for p := range k {
							s += float64(x[i*k+p]) * at(f, p)
						}
						g := got[i*free+f]
						if wIsLHS {
							g = got[f*rows+i]
						}
						require.InDelta(t, s, g, 1e-4*(1+math.Abs(s)), "rows %d lhs %v contract %d at (%d, %d)", rows, wIsLHS, wc, i, f)
					}
				}
			}
		}
	}
}

// TestGatherReadsBF16Operands checks that gathering rows of a converted bfloat16 table gives the
// rows' float32 values without converting the table.
func TestGatherReadsBF16Operands(t *testing.T) {
	b := &Backend{workers: 2}
	const V, D = 50, 8
	w := make([]bfloat16.BFloat16, V*D)
	for i := range w {
		w[i] = bfloat16.FromFloat32(float32(i) / 7)
	}
	m := must(t)
	bd := b.Builder("gather").(*Builder)
	wp := m(bd.Parameter("w", shapes.Make(dtypes.BFloat16, V, D), nil))
	ip := m(bd.Parameter("i", shapes.Make(dtypes.Int32, 3, 1), nil))
	g := m(bd.Gather(m(bd.ConvertDType(wp, dtypes.Float32)), ip, 1, []int{1}, []int{0}, []int{0}, []int{1, D}, false))
	e, err := bd.Compile([]backends.Op{g}, nil)
	require.NoError(t, err)
	wb, _ := b.BorrowFlat(w, shapes.Make(dtypes.BFloat16, V, D))
	ib, _ := b.BufferFromFlatData(0, []int32{4, 0, 49}, shapes.Make(dtypes.Int32, 3, 1))
	outs, err := e.Execute([]backends.Buffer{wb, ib}, nil, 0)
	require.NoError(t, err)
	got := outs[0].(*Buffer).flat.([]float32)
	require.Len(t, got, 3*D)
	for r, row := range []int{4, 0, 49} {
		for j := range D {
			require.Equal(t, w[row*D+j].Float32(), got[r*D+j])
		}
	}
	for _, n := range e.(*Executable).order {
		if n.op == backends.OpTypeConvertDType {
			require.Equal(t, []int{3, D}, n.shape.Dimensions, "the whole table is converted")
		}
	}
}

// TestBF16Width: dotBF16's ranges come in multiples of the workers and as equal as 32-column tiles
// allow, within the converted-block bound when w's rows are contracted.
func TestBF16Width(t *testing.T) {
	for _, c := range []struct{ free, k, contract, workers, want int }{
		{576, 576, 0, 2, 288},  // 2 ranges, not 160+160+160+96
		{192, 576, 0, 2, 96},   // k/v projections: 2 × 96
		{1536, 576, 0, 2, 768}, // MLP up
		{1536, 576, 1, 2, 384}, // 4 ranges of 384 within 256 Ki values each (448 would leave 192)
		{49152, 576, 1, 2, 448},
		{20, 8, 0, 4, 20}, // fewer columns than a tile
		{100, 8, 0, 1, 100},
	} {
		got := bf16Width(c.free, c.k, c.contract, c.workers)
		if got != c.want {
			t.Errorf("bf16Width(free %d, k %d, contract %d, workers %d) = %d, want %d", c.free, c.k, c.contract, c.workers, got, c.want)
		}
		if c.contract == 1 && got*c.k > bf16Block && got > 32 {
			t.Errorf("bf16Width(%d, %d): %d×%d passes the block of %d values", c.free, c.k, got, c.k, bf16Block)
		}
	}
}
