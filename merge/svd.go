package merge

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// SVD is a truncated singular value decomposition M ≈ U·diag(S)·Vᵀ of an [m, n] matrix: U [m, k] and
// V [n, k] with orthonormal columns, S descending.
type SVD struct {
	U, V *model.Tensor
	S    []float64
}

// oversample and powerIters set the randomized range finder (Halko, Martinsson & Tropp 2011): the
// sketch has rank+oversample columns and is refined by powerIters subspace iterations, which makes the
// truncation error close to the optimal one even for slowly decaying spectra.
const (
	oversample = 10
	powerIters = 4
)

// TruncatedSVD returns the rank-k SVD of t [m, n], k = min(rank, m, n). When rank+10 ≥ min(m, n) it
// is the exact SVD (one-sided Jacobi on the whole matrix); otherwise a randomized range finder drawn
// from seed narrows the matrix to rank+10 columns first and one-sided Jacobi decomposes the small
// projection. Arithmetic is float64. It panics unless t is a matrix and rank > 0.
func TruncatedSVD(t *model.Tensor, rank int, seed uint64) SVD {
	if len(t.Shape) != 2 || rank <= 0 {
		panic(fmt.Sprintf("merge: TruncatedSVD of shape %v at rank %d: want a matrix and rank > 0", t.Shape, rank))
	}
	m, n := t.Shape[0], t.Shape[1]
	k := min(rank, m, n)
	l := min(rank+oversample, m, n)
	// Columns of M and of Mᵀ, float64.
	cols := make([][]float64, n)
	for j := range cols {
		cols[j] = make([]float64, m)
		for i := range m {
			cols[j][i] = float64(t.Data[i*n+j])
		}
	}
	var U, V [][]float64 // columns
	var S []float64
	if l == min(m, n) {
		if n <= m {
			U, S, V = jacobi(cols)
		} else {
			V, S, U = jacobi(transposeCols(cols, m))
		}
	} else {
		rng := rand.New(rand.NewPCG(seed, 0x5fd))
		omega := make([][]float64, l)
		for j := range omega {
			omega[j] = make([]float64, n)
			for i := range omega[j] {
				omega[j][i] = rng.NormFloat64()
			}
		}
		Q := mulCols(cols, omega, m) // M·Ω, [m, l]
		orthonormalize(Q)
		for range powerIters {
			Z := mulTCols(cols, Q) // Mᵀ·Q, [n, l]
			orthonormalize(Z)
			Q = mulCols(cols, Z, m)
			orthonormalize(Q)
		}
		Bt := mulTCols(cols, Q)  // (Qᵀ·M)ᵀ, [n, l]
		Ub, Sb, Vb := jacobi(Bt) // Bt = Ub Σ Vbᵀ, so Qᵀ·M = Vb Σ Ubᵀ and M ≈ (Q·Vb) Σ Ubᵀ
		U = mulCols(Q, Vb, m)
		S, V = Sb, Ub
	}
	out := SVD{U: model.NewTensor(m, k), V: model.NewTensor(n, k), S: slices.Clone(S[:k])}
	for j := range k {
		for i := range m {
			out.U.Data[i*k+j] = float32(U[j][i])
		}
		for i := range n {
			out.V.Data[i*k+j] = float32(V[j][i])
		}
	}
	return out
}

// Factor returns the best rank-r factors of delta found by TruncatedSVD as LoRA matrices with scale
// 1 — B = U·√S [out, r] and A = √S·Vᵀ [r, in], zero-padded when r exceeds min(out, in) — and the
// relative Frobenius error ‖delta − B·A‖/‖delta‖ of those factors (0 for a zero delta).
func Factor(delta *model.Tensor, r int, seed uint64) (A, B *model.Tensor, relErr float64) {
	d := TruncatedSVD(delta, r, seed)
	out, in := delta.Shape[0], delta.Shape[1]
	k := len(d.S)
	A, B = model.NewTensor(r, in), model.NewTensor(out, r)
	for j := range k {
		s := math.Sqrt(d.S[j])
		for i := range out {
			B.Data[i*r+j] = float32(float64(d.U.Data[i*k+j]) * s)
		}
		for i := range in {
			A.Data[j*in+i] = float32(float64(d.V.Data[i*k+j]) * s)
		}
	}
	num, den := residual(delta, A, B)
	if den == 0 {
		return A, B, 0
	}
	return A, B, math.Sqrt(num / den)
}

// residual returns ‖delta − B·A‖² and ‖delta‖².
func residual(delta, A, B *model.Tensor) (num, den float64) {
	out, in := delta.Shape[0], delta.Shape[1]
	row := make([]float64, in)
	for o := range out {
		productRow(A, B, o, row)
		for i, v := range delta.Data[o*in : (o+1)*in] {
			e := float64(v) - row[i]
			num += e * e
			den += float64(v) * float64(v)
		}
	}
	return num, den
}

// Factored is a merge re-factored into a LoRA of a chosen rank.
type Factored struct {
	// Adapter has the chosen rank and Alpha = rank (scale 1).
	Adapter *lora.Adapter
	// ModuleError is each module's relative Frobenius error ‖ΔW − B·A‖/‖ΔW‖.
	ModuleError map[lora.Module]float64
	// Error is the overall relative error √(Σ‖ΔW − B·A‖²)/√(Σ‖ΔW‖²) over every module.
	Error float64
}

// Refactor merges the adapters as cfg says (streaming, one module at a time) and re-factors each
// merged ΔW into a rank-r LoRA by truncated SVD, reporting the approximation error. The SVD's random
// sketch is drawn from cfg.Seed.
func Refactor(name string, adapters []*lora.Adapter, cfg Config, r int) (*Factored, error) {
	if r <= 0 {
		return nil, fmt.Errorf("merge: Refactor: rank must be > 0, got %d", r)
	}
	if _, err := commonModules(adapters); err != nil {
		return nil, err
	}
	first := adapters[0]
	f := &Factored{ModuleError: map[lora.Module]float64{},
		Adapter: &lora.Adapter{Name: name, Model: first.Model,
			Config: lora.Config{Rank: r, Alpha: float64(r), TargetModules: slices.Clone(first.Config.TargetModules)}.WithDefaults(),
			A:      map[lora.Module]*model.Tensor{}, B: map[lora.Module]*model.Tensor{}}}
	var num, den float64
	err := Merge(adapters, cfg, func(m lora.Module, d *model.Tensor) error {
		A, B, _ := Factor(d, r, cfg.Seed^streamID(-1, m))
		n, dd := residual(d, A, B)
		num, den = num+n, den+dd
		e := 0.0
		if dd > 0 {
			e = math.Sqrt(n / dd)
		}
		f.ModuleError[m] = e
		f.Adapter.A[m], f.Adapter.B[m] = A, B
		return nil
	})
	if err != nil {
		return nil, err
	}
	if den > 0 {
		f.Error = math.Sqrt(num / den)
	}
	return f, nil
}

// jacobi computes the thin SVD X = U·diag(S)·Vᵀ of the matrix whose columns are x (modified in place)
// by one-sided (Hestenes) Jacobi rotations, returning the columns of U and V sorted by descending S.
// Columns of U for zero singular values are zero.
func jacobi(x [][]float64) (U [][]float64, S []float64, V [][]float64) {
	c := len(x)
	V = make([][]float64, c)
	for j := range V {
		V[j] = make([]float64, c)
		V[j][j] = 1
	}
	const eps = 1e-15
	for sweep := 0; sweep < 60; sweep++ {
		rotated := false
		for p := 0; p < c-1; p++ {
			for q := p + 1; q < c; q++ {
				xp, xq := x[p], x[q]
				var a, b, g float64
				for i := range xp {
					a += xp[i] * xp[i]
					b += xq[i] * xq[i]
					g += xp[i] * xq[i]
				}
				if a == 0 || b == 0 || math.Abs(g) <= eps*math.Sqrt(a*b) {
					continue
				}
				rotated = true
				zeta := (b - a) / (2 * g)
				t := math.Copysign(1, zeta) / (math.Abs(zeta) + math.Sqrt(1+zeta*zeta))
				cs := 1 / math.Sqrt(1+t*t)
				sn := cs * t
				for i := range xp {
					u, v := xp[i], xq[i]
					xp[i], xq[i] = cs*u-sn*v, sn*u+cs*v
				}
				vp, vq := V[p], V[q]
				for i := range vp {
					u, v := vp[i], vq[i]
					vp[i], vq[i] = cs*u-sn*v, sn*u+cs*v
				}
			}
		}
		if !rotated {
			break
		}
	}
	S = make([]float64, c)
	for j, col := range x {
		var s float64
		for _, v := range col {
			s += v * v
		}
		S[j] = math.Sqrt(s)
	}
	order := make([]int, c)
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(S[j], S[i]) })
	U = make([][]float64, c)
	sortedS := make([]float64, c)
	sortedV := make([][]float64, c)
	for k, j := range order {
		sortedS[k], sortedV[k] = S[j], V[j]
		U[k] = x[j]
		if S[j] > 0 {
			for i := range U[k] {
				U[k][i] /= S[j]
			}
		}
	}
	return U, sortedS, sortedV
}

// transposeCols turns the columns of an [m, n] matrix into the columns of its transpose.
func transposeCols(cols [][]float64, m int) [][]float64 {
	t := make([][]float64, m)
	for i := range t {
		t[i] = make([]float64, len(cols))
		for j, c := range cols {
			t[i][j] = c[i]
		}
	}
	return t
}

// mulCols returns the columns of X·Y, for X given by its columns (each of length m) and Y by its
// columns (each of length len(X)).
func mulCols(X, Y [][]float64, m int) [][]float64 {
	out := make([][]float64, len(Y))
	for j, y := range Y {
		o := make([]float64, m)
		for k, v := range y {
			if v == 0 {
				continue
			}
			for i, x := range X[k] {
				o[i] += v * x
			}
		}
		out[j] = o
	}
	return out
}

// mulTCols returns the columns of Xᵀ·Q, for X and Q given by their columns of equal length.
func mulTCols(X, Q [][]float64) [][]float64 {
	out := make([][]float64, len(Q))
	for j, q := range Q {
		o := make([]float64, len(X))
		for k, x := range X {
			var s float64
			for i, v := range x {
				s += v * q[i]
			}
			o[k] = s
		}
		out[j] = o
	}
	return out
}

// orthonormalize makes the columns orthonormal in place by modified Gram–Schmidt, twice (which keeps
// them orthogonal to working precision). A column that vanishes becomes zero.
func orthonormalize(Q [][]float64) {
	for j := range Q {
		qj := Q[j]
		var orig float64
		for _, v := range qj {
			orig += v * v
		}
		for range 2 {
			for i := range j {
				qi := Q[i]
				var d float64
				for t := range qj {
					d += qi[t] * qj[t]
				}
				for t := range qj {
					qj[t] -= d * qi[t]
				}
			}
		}
		var s float64
		for _, v := range qj {
			s += v * v
		}
		if s <= 1e-28*orig || s == 0 {
			clear(qj)
			continue
		}
		s = 1 / math.Sqrt(s)
		for t := range qj {
			qj[t] *= s
		}
	}
}
