package gradfix_test

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// BenchmarkMatMulGradient times one step of forward + gradient of ½‖x·w‖² for x [512,128], w [128,384]
// in float32 on the pure-Go backend, with v0.26.0's DotGeneral rule ("stock") and with ours.
func BenchmarkMatMulGradient(b *testing.B) {
	const m, k, n = 512, 128, 384
	r := rand.New(rand.NewPCG(1, 2))
	random := func(rows, cols int) *tensors.Tensor {
		data := make([]float32, rows*cols)
		for i := range data {
			data[i] = r.Float32() - 0.5
		}
		return tensors.FromFlatDataAndDimensions(data, rows, cols)
	}
	x, w := random(m, k), random(k, n)
	step := func(x, w *Node) []*Node {
		y := DotGeneral(x, []int{1}, nil, w, []int{0}, nil)
		loss := MulScalar(ReduceAllSum(Square(y)), 0.5)
		return Gradient(loss, x, w)
	}
	run := func(exec *Exec) {
		for _, t := range exec.MustExec(x, w) {
			t.FinalizeAll()
		}
	}
	flops := float64(3 * 2 * m * k * n) // forward and the two gradient products

	for _, bc := range []struct {
		name  string
		build func() *Exec
	}{
		{"stock", func() *Exec {
			// The rule is consulted when the graph is built, at the first call.
			return withStockRule(NodeTypeDotGeneral, func() *Exec { e := MustNewExec(backend(b), step); run(e); return e })
		}},
		{"gradfix", func() *Exec { e := MustNewExec(backend(b), step); run(e); return e }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			exec := bc.build()
			defer exec.Finalize()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				run(exec)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
