package merge

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testkit"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// orthonormalColumns returns k random orthonormal columns of length n.
func orthonormalColumns(rng *rand.Rand, n, k int) [][]float64 {
	q := make([][]float64, k)
	for j := range q {
		q[j] = make([]float64, n)
		for i := range q[j] {
			q[j][i] = rng.NormFloat64()
		}
	}
	orthonormalize(q)
	return q
}

// constructed returns U·diag(s)·Vᵀ [m, n] for random orthonormal U, V.
func constructed(rng *rand.Rand, m, n int, s []float64) *model.Tensor {
	U, V := orthonormalColumns(rng, m, len(s)), orthonormalColumns(rng, n, len(s))
	t := model.NewTensor(m, n)
	for i := range m {
		for j := range n {
			var v float64
			for k, sk := range s {
				v += U[k][i] * sk * V[k][j]
			}
			t.Data[i*n+j] = float32(v)
		}
	}
	return t
}

func TestFactorReconstructsLowRankPlusNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, shape := range [][2]int{{60, 40}, {40, 60}, {96, 32}} {
		m, n := shape[0], shape[1]
		// Rank 5 signal plus noise of relative size ~1e-3.
		low := constructed(rng, m, n, []float64{9, 7, 4, 2, 1})
		var norm float64
		for _, v := range low.Data {
			norm += float64(v) * float64(v)
		}
		noise := 1e-3 * math.Sqrt(norm/float64(m*n))
		for i := range low.Data {
			low.Data[i] += float32(rng.NormFloat64() * noise)
		}
		_, _, e5 := Factor(low, 5, 3)
		require.Less(t, e5, 2e-3, "%v at rank 5: the noise level", shape)
		require.Greater(t, e5, 2e-4, "%v at rank 5: the noise cannot be represented", shape)
		_, _, e4 := Factor(low, 4, 3)
		require.InDelta(t, 1/math.Sqrt(81+49+16+4+1), e4, 2e-3, "%v at rank 4: the dropped singular value", shape)
		A, B, full := Factor(low, min(m, n), 3)
		require.Less(t, full, 1e-6, "%v at full rank", shape)
		require.Equal(t, []int{min(m, n), n}, A.Shape)
		require.Equal(t, []int{m, min(m, n)}, B.Shape)
	}
}

func TestTruncatedSVDReportsTheKnownError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// A full spectrum, decaying slowly enough that the randomized range finder has work to do.
	s := make([]float64, 50)
	var total float64
	for i := range s {
		s[i] = 10 * math.Pow(0.85, float64(i))
		total += s[i] * s[i]
	}
	M := constructed(rng, 90, 70, s)
	for _, r := range []int{1, 3, 8, 20} {
		d := TruncatedSVD(M, r, 5)
		for k := range r {
			require.InDelta(t, s[k], d.S[k], 1e-3*s[0], "rank %d: σ%d", r, k)
		}
		var tail float64
		for _, v := range s[r:] {
			tail += v * v
		}
		want := math.Sqrt(tail / total)
		_, _, got := Factor(M, r, 5)
		require.InDelta(t, want, got, 0.01*want+1e-6, "rank %d: the relative error must be the optimal (Eckart–Young) one", r)
		// U and V have orthonormal columns.
		for _, X := range []*model.Tensor{d.U, d.V} {
			rows, k := X.Shape[0], X.Shape[1]
			for a := range k {
				for b := range k {
					var dot float64
					for i := range rows {
						dot += float64(X.Data[i*k+a]) * float64(X.Data[i*k+b])
					}
					want := 0.0
					if a == b {
						want = 1
					}
					require.InDelta(t, want, dot, 1e-5)
				}
			}
		}
	}
}

func TestTruncatedSVDPanicsOnBadInput(t *testing.T) {
	require.PanicsWithValue(t, "merge: TruncatedSVD of shape [3] at rank 1: want a matrix and rank > 0", func() {
		TruncatedSVD(model.NewTensor(3), 1, 0)
	})
	require.Panics(t, func() { TruncatedSVD(model.NewTensor(3, 3), 0, 0) })
	A, B, e := Factor(model.NewTensor(4, 6), 2, 0)
	require.Zero(t, e, "a zero matrix is factored exactly")
	require.Equal(t, []int{2, 6}, A.Shape)
	require.Equal(t, []int{4, 2}, B.Shape)
}

func TestRefactor(t *testing.T) {
	ads := []*lora.Adapter{testkit.RandomAdapter(t, tinyConfig, "a", 4, 1, 0.1), testkit.RandomAdapter(t, tinyConfig, "b", 4, 2, 0.1),
		testkit.RandomAdapter(t, tinyConfig, "c", 4, 3, 0.1)}
	dense, err := Dense(ads, Config{})
	require.NoError(t, err)
	// The average of three rank-4 adapters has rank ≤ 12: rank 12 (randomized) and 32 (exact) lose nothing.
	for _, r := range []int{12, 32} {
		f, err := Refactor("merged", ads, Config{}, r)
		require.NoError(t, err)
		require.Less(t, f.Error, 1e-5, "rank %d", r)
		require.Equal(t, r, f.Adapter.Config.Rank)
		require.InDelta(t, 1.0, f.Adapter.Config.Scale(), 0)
		for m, d := range dense {
			require.Less(t, f.ModuleError[m], 1e-5)
			require.Less(t, maxAbsDiff(d.Data, f.Adapter.DeltaW(m).Data), 1e-5, "rank %d %s", r, m.Path())
		}
	}
	// At rank 2 something is lost, and the overall error combines the modules' errors.
	f, err := Refactor("merged", ads, Config{}, 2)
	require.NoError(t, err)
	require.Greater(t, f.Error, 0.1)
	require.Less(t, f.Error, 1.0)
	var num, den float64
	for m, d := range dense {
		var nm float64
		for _, v := range d.Data {
			nm += float64(v) * float64(v)
		}
		num += f.ModuleError[m] * f.ModuleError[m] * nm
		den += nm
		_, _, e := Factor(d, 2, 0)
		require.InDelta(t, e, f.ModuleError[m], 1e-3, "%s: the reported error is the factor's error", m.Path())
	}
	require.InDelta(t, math.Sqrt(num/den), f.Error, 1e-9)
	_, err = Refactor("x", ads, Config{}, 0)
	require.ErrorContains(t, err, "rank")
}
