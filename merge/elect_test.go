package merge

import (
	"testing"

	"github.com/accrete/accrete/lora"
)

// TestSignElectionIsByMassNotCount: TIES elects each entry's sign as the sign of Σ w_i τ_i, the summed
// (weighted) magnitude, not by counting adapters (Yadav et al., arXiv 2306.01708, §3; mergekit's
// sign consensus "sum"). In every case below the count, or the unweighted sum, points the other way.
func TestSignElectionIsByMassNotCount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deltas  [][]float32 // per adapter, ΔW of q_proj [2, 2]
		weights []float64
		want    []float64
	}{
		// Entry 0: +1, +1, −5 sum to −3: − is elected though two of three are +; the disjoint mean
		// keeps −5 alone. Entry 1 mirrors it. Entry 2: +2, +2, −3 sum to +1: mean(2, 2). Entry 3
		// agrees in count and mass.
		{"two small against one large", [][]float32{{1, -1, 2, 1}, {1, -1, 2, 1}, {-5, 5, -3, 1}},
			[]float64{1, 1, 1}, []float64{-5, 5, 2, 1}},
		// Entry 0: +2 (w 1) and −1 (w 3): Σ w τ = −1 elects −, though the unweighted sum is +1; the
		// disjoint weighted mean is 3·(−1)/3 = −1.
		{"weights decide", [][]float32{{2, 0, 0, 0}, {-1, 0, 0, 0}}, []float64{1, 3}, []float64{-1, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ads []*lora.Adapter
			for _, d := range tc.deltas {
				ads = append(ads, handAdapter(t, "a", d...))
			}
			for _, method := range []Method{TIES, DARETIES, DELLA} {
				// Density 1 and DropP 0 keep every entry: only the election and the disjoint mean act.
				cfg := Config{Method: method, Density: 1, Weights: tc.weights}
				requireClose(t, tc.want, mergeHand(t, ads, cfg), string(method))
			}
		})
	}
}
