package inflora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/symeig"
	"github.com/accrete/accrete/model"
)

// The code path before the row-wise project (kept here to pin the fast one to it): the covariance
// projected with loops over columns (and, before, decomposed by Jacobi sweeps: symeig's tests pin
// today's decomposition to that method).

func oldProject(c Covariance, M Memory) []float64 {
	n := c.In
	if M == nil || M.Shape[0] == 0 {
		return c.Data
	}
	k := M.Shape[0]
	mc := make([]float64, k*n)
	for i := range k {
		for j := range n {
			var s float64
			for l := range n {
				s += float64(M.Data[i*n+l]) * c.Data[l*n+j]
			}
			mc[i*n+j] = s
		}
	}
	pc := make([]float64, n*n)
	for a := range n {
		for b := range n {
			var s float64
			for i := range k {
				s += float64(M.Data[i*n+a]) * mc[i*n+b]
			}
			pc[a*n+b] = c.Data[a*n+b] - s
		}
	}
	pcm := make([]float64, n*k)
	for a := range n {
		for i := range k {
			var s float64
			for l := range n {
				s += pc[a*n+l] * float64(M.Data[i*n+l])
			}
			pcm[a*k+i] = s
		}
	}
	out := make([]float64, n*n)
	for a := range n {
		for b := range n {
			var s float64
			for i := range k {
				s += pcm[a*k+i] * float64(M.Data[i*n+b])
			}
			out[a*n+b] = pc[a*n+b] - s
		}
	}
	for a := range n {
		for b := a + 1; b < n; b++ {
			v := (out[a*n+b] + out[b*n+a]) / 2
			out[a*n+b], out[b*n+a] = v, v
		}
	}
	return out
}

func oldDesign(c Covariance, M Memory, r int) (*model.Tensor, float64) {
	n := c.In
	pc := oldProject(c, M)
	vals, vecs := symeig.Decompose(pc, n)
	A := model.NewTensor(r, n)
	var total, residual float64
	for i := range n {
		total += c.Data[i*n+i]
		residual += pc[i*n+i]
	}
	for i := range min(r, n) {
		if !(vals[i] > 1e-9*math.Max(total, 1e-30)) {
			break
		}
		row := vecs[i*n : (i+1)*n]
		offMemory(row, M)
		for l, v := range row {
			A.Data[i*n+l] = float32(v)
		}
	}
	if total == 0 {
		return A, 0
	}
	return A, residual / total
}

func oldExtend(c Covariance, M Memory, threshold float64) Memory {
	n := c.In
	pc := oldProject(c, M)
	var total, residual float64
	for i := range n {
		total += c.Data[i*n+i]
		residual += pc[i*n+i]
	}
	kept := total - residual
	k0 := 0
	var rows []float32
	if M != nil {
		k0 = M.Shape[0]
		rows = append(rows, M.Data...)
	}
	if total <= 0 || kept >= threshold*total {
		return &model.Tensor{Shape: []int{k0, n}, Data: rows}
	}
	vals, vecs := symeig.Decompose(pc, n)
	added := 0
	for i := 0; i < n && k0+added < n && kept < threshold*total; i++ {
		if !(vals[i] > 1e-12*total) {
			break
		}
		v := vecs[i*n : (i+1)*n]
		cur := &model.Tensor{Shape: []int{k0 + added, n}, Data: rows}
		offMemory(v, cur)
		var norm float64
		for _, x := range v {
			norm += x * x
		}
		norm = math.Sqrt(norm)
		if norm < 1e-6 {
			continue
		}
		for _, x := range v {
			rows = append(rows, float32(x/norm))
		}
		kept += vals[i]
		added++
	}
	return &model.Tensor{Shape: []int{k0 + added, n}, Data: rows}
}

// gram returns RᵀR for the rows of R [k, n]: the orthogonal projector onto their span when they are
// orthonormal, which does not depend on the rows' signs or on the basis chosen within the span.
func gram(R *model.Tensor) []float64 {
	k, n := R.Shape[0], R.Shape[1]
	out := make([]float64, n*n)
	for i := range k {
		row := R.Data[i*n : (i+1)*n]
		for a, x := range row {
			for b, y := range row {
				out[a*n+b] += float64(x) * float64(y)
			}
		}
	}
	return out
}

// TestDesignExtendMatchOldPath pins Design and Extend to the column-wise path they replace (the
// decomposition, symeig.Decompose, is pinned to the Jacobi method it replaced by symeig's tests), on random
// covariances with decaying spectra (more inputs than dimensions, and fewer), with and without a
// memory: the residual energy agrees to 1e-12, the design's rows agree one by one up to sign to 1e-5
// (float32 rows, distinct eigenvalues), and Extend adds the same number of rows spanning the same
// subspace (projectors within 1e-5).
func TestDesignExtendMatchOldPath(t *testing.T) {
	for _, tc := range []struct{ n, inputs, memory int }{
		{48, 96, 0}, {48, 96, 12}, {48, 20, 0}, {48, 20, 6}, {64, 200, 40},
	} {
		t.Run(fmt.Sprintf("in=%d inputs=%d memory=%d", tc.n, tc.inputs, tc.memory), func(t *testing.T) {
			c, M := randomCovariance(tc.n, tc.inputs, tc.memory, uint64(tc.n+tc.inputs+tc.memory))
			if tc.memory == 0 {
				M = nil
			}
			n := tc.n
			oldPC, pc := oldProject(c, M), project(c, M)
			for i := range pc {
				require.InDelta(t, oldPC[i], pc[i], 1e-11*(1+math.Abs(oldPC[i])), "P·C·P entry %d", i)
			}
			A, res := Design(c, M, 8)
			oldA, oldRes := oldDesign(c, M, 8)
			assert.InDelta(t, oldRes, res, 1e-12)
			for i := range 8 {
				var dot float64
				for l := range n {
					dot += float64(A.Data[i*n+l]) * float64(oldA.Data[i*n+l])
				}
				assert.InDelta(t, 1, math.Abs(dot), 1e-5, "design row %d", i)
			}
			for _, eps := range []float64{0.5, 0.9, 0.95, 0.99, 1} {
				got, want := Extend(c, M, eps), oldExtend(c, M, eps)
				require.Equal(t, want.Shape, got.Shape, "ε=%g", eps)
				assert.InDeltaSlice(t, gram(want), gram(got), 1e-5, "ε=%g: the memory's subspace", eps)
			}
		})
	}
}

// TestExtendTakesThresholdCount: C = Q·diag(λ)·Qᵀ with λ known (Q a random rotation) and the memory
// holding some of Q's columns; for each threshold ε, Extend must add exactly as many rows as the
// smallest k with tr(M·C·Mᵀ) + Σ_{i≤k} λ_i ≥ ε·tr(C), the λ_i outside the memory in decreasing order.
// The count is computed here from λ, not from any decomposition.
func TestExtendTakesThresholdCount(t *testing.T) {
	const n = 60
	rng := rand.New(rand.NewPCG(9, 10))
	// Q from Gram-Schmidt on a random matrix: rows are the eigenvectors.
	Q := &model.Tensor{Shape: []int{0, n}}
	q := make([][]float64, 0, n)
	for len(q) < n {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		for range 2 {
			for _, u := range q {
				var d float64
				for l := range n {
					d += u[l] * v[l]
				}
				for l := range n {
					v[l] -= d * u[l]
				}
			}
		}
		var norm float64
		for _, x := range v {
			norm += x * x
		}
		for l := range v {
			v[l] /= math.Sqrt(norm)
		}
		q = append(q, v)
	}
	lambda := make([]float64, n) // distinct, decaying, shuffled across Q's rows
	for i := range lambda {
		lambda[i] = math.Pow(0.85, float64(i)) * (1 + 0.01*rng.Float64())
	}
	rng.Shuffle(n, func(i, j int) { lambda[i], lambda[j] = lambda[j], lambda[i] })
	c := Covariance{In: n, Data: make([]float64, n*n)}
	var total float64
	for i, v := range q {
		total += lambda[i]
		for a := range n {
			for b := range n {
				c.Data[a*n+b] += lambda[i] * v[a] * v[b]
			}
		}
	}
	memRows := []int{0, 5, 7} // Q's rows already in the memory
	for _, r := range memRows {
		for _, x := range q[r] {
			Q.Data = append(Q.Data, float32(x))
		}
		Q.Shape[0]++
	}
	// needed is the smallest k with kept + Σ_{i≤k} λ_i ≥ ε·total over the given λ, largest first.
	needed := func(kept float64, lambdas []float64, eps float64) int {
		l := slices.Sorted(slices.Values(lambdas))
		slices.Reverse(l)
		k := 0
		for ; kept < eps*total; k++ {
			kept += l[k]
		}
		// Stay off the boundary, where the float32 memory rows could tip the count either way.
		require.Greater(t, math.Abs(kept-eps*total), 1e-6*total, "ε=%g is too close to a partial sum", eps)
		return k
	}
	var kept float64
	var outside []float64
	for i, l := range lambda {
		if slices.Contains(memRows, i) {
			kept += l
		} else {
			outside = append(outside, l)
		}
	}
	for _, eps := range []float64{0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99} {
		assert.Equal(t, needed(0, lambda, eps), Extend(c, nil, eps).Shape[0], "ε=%g, empty memory", eps)
		assert.Equal(t, len(memRows)+needed(kept, outside, eps), Extend(c, Q, eps).Shape[0], "ε=%g, memory of %d rows", eps, len(memRows))
	}
}
