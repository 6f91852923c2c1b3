package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestMaskedCrossEntropyAndGradient checks TokenLogProbs and MaskedCrossEntropy against a float64
// log-softmax, including padding targets (−1 and V, which give 0) and a mask, and the gradient with
// respect to the logits against its closed form mask·(softmax − onehot)/Σmask.
func TestMaskedCrossEntropyAndGradient(t *testing.T) {
	b, err := Backend()
	require.NoError(t, err)
	const B, T, V = 2, 5, 7
	rng := rand.New(rand.NewPCG(5, 6))
	logits := make([]float32, B*T*V)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64() * 3)
	}
	targets := []int32{0, 6, 3, -1, 2, 5, 1, V, 4, 4}
	mask := []float32{1, 1, 0, 1, 1, 1, 1, 1, 0.5, 1}
	e := graph.MustNewExec(b, func(l, tg, m *graph.Node) []*graph.Node {
		loss := MaskedCrossEntropy(l, tg, m)
		return []*graph.Node{TokenLogProbs(l, tg), loss, graph.Gradient(loss, l)[0]}
	})
	out := e.MustExec(tensors.FromFlatDataAndDimensions(logits, B, T, V),
		tensors.FromFlatDataAndDimensions(targets, B, T), tensors.FromFlatDataAndDimensions(mask, B, T))
	lp := tensors.MustCopyFlatData[float32](out[0])
	loss := tensors.MustCopyFlatData[float32](out[1])[0]
	grad := tensors.MustCopyFlatData[float32](out[2])

	var total, count float64
	for _, m := range mask {
		count += float64(m)
	}
	for r := range B * T {
		row := logits[r*V : (r+1)*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		tg := int(targets[r])
		want := 0.0
		if tg >= 0 && tg < V {
			want = float64(row[tg]) - lse
		}
		require.InDelta(t, want, lp[r], 1e-5, "log p at row %d", r)
		total += want * float64(mask[r])
		for j, v := range row {
			g := math.Exp(float64(v) - lse)
			if j == tg {
				g--
			}
			if tg < 0 || tg >= V {
				g = 0 // a padding target contributes nothing
			}
			require.InDelta(t, float64(mask[r])*g/count, grad[r*V+j], 1e-6, "gradient at row %d, logit %d", r, j)
		}
	}
	require.InDelta(t, -total/count, loss, 1e-5)
}
