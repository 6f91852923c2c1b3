package merge

import (
	"fmt"
	"math"

	"github.com/accrete/accrete/lora"
)

// PairInterference is how the updates of one module by adapters I and J (I < J) overlap.
type PairInterference struct {
	I, J int
	// Cosine is the cosine of their ΔW, ⟨ΔW_I, ΔW_J⟩_F/(‖ΔW_I‖·‖ΔW_J‖): 1 for the same direction, 0 for
	// orthogonal updates, −1 for opposite ones; 0 when either ΔW is 0.
	Cosine float64
	// Angles are the principal angles, in radians and ascending, between the row spaces of A_I and A_J
	// (the input subspaces the adapters read): min(rank A_I, rank A_J) of them, from the singular values
	// σ_k = cos θ_k of Q_Iᵀ·Q_J, Q the orthonormalised rows of A. 0 for a shared direction, π/2 for
	// orthogonal subspaces; empty when either A is 0.
	Angles []float64
	// SignConflict is the fraction of the entries where both ΔW (trimmed as TIES trims, at the density
	// Interference was given) are nonzero whose signs differ; 0 when there are none.
	SignConflict float64
}

// Overlap is the mean of cos²θ over the principal angles: 1 when one A subspace contains the other,
// 0 when they are orthogonal (and when Angles is empty).
func (p PairInterference) Overlap() float64 {
	if len(p.Angles) == 0 {
		return 0
	}
	var s float64
	for _, a := range p.Angles {
		c := math.Cos(a)
		s += c * c
	}
	return s / float64(len(p.Angles))
}

// ModuleInterference is how the adapters' updates of one module interfere.
type ModuleInterference struct {
	Module lora.Module
	// Pairs has one entry per pair I < J, in the order (0,1), (0,2), …, (1,2), ….
	Pairs []PairInterference
	// SignConflict is the fraction of the entries where at least two adapters' (trimmed) ΔW are nonzero
	// whose nonzero signs are not all equal: the entries where TIES's sign election discards a
	// contribution. 0 when there are none.
	SignConflict float64
}

// Interference reports, module by module in the order of adapters[0].Modules(), how the adapters'
// updates collide before they are merged: the cosine of every pair's ΔW, the principal angles between
// their A subspaces, and the sign conflicts that TIES resolves, counted after trimming each ΔW to its
// top-density fraction by magnitude as TIES does (density 1: the whole ΔW). The weights of a merge
// play no part. Like Merge, it holds the N deltas of one module at a time.
func Interference(adapters []*lora.Adapter, density float64) ([]ModuleInterference, error) {
	if !(density > 0 && density <= 1) {
		return nil, fmt.Errorf("merge: Interference: density must be in (0, 1], got %g", density)
	}
	mods, err := commonModules(adapters)
	if err != nil {
		return nil, err
	}
	N := len(adapters)
	largest := 0
	for _, m := range mods {
		out, in := adapters[0].Model.ModuleShape(m.Name)
		largest = max(largest, out*in)
	}
	bufs := make([][]float32, N)
	for i := range bufs {
		bufs[i] = make([]float32, largest)
	}
	scratch := make([]float32, largest)
	out := make([]ModuleInterference, 0, len(mods))
	for _, m := range mods {
		o, in := adapters[0].Model.ModuleShape(m.Name)
		n := o * in
		d := make([][]float32, N)
		Q := make([][][]float64, N)
		for i, a := range adapters {
			d[i] = bufs[i][:n]
			deltaInto(a, m, d[i])
			Q[i] = rowSpace(a.A[m].Data, in)
		}
		mi := ModuleInterference{Module: m}
		for i := range N {
			for j := i + 1; j < N; j++ {
				mi.Pairs = append(mi.Pairs, PairInterference{I: i, J: j, Cosine: cosine(d[i], d[j]), Angles: principalAngles(Q[i], Q[j])})
			}
		}
		if density < 1 {
			for i := range d {
				trim(d[i], density, scratch[:n])
			}
		}
		for k := range mi.Pairs {
			mi.Pairs[k].SignConflict = signConflict(d[mi.Pairs[k].I], d[mi.Pairs[k].J])
		}
		mi.SignConflict = signConflict(d...)
		out = append(out, mi)
	}
	return out, nil
}

// MeanInterference averages each pair's cosine, sign conflicts and principal angles (angle by angle;
// every module of an adapter has its rank) over the modules.
func MeanInterference(mods []ModuleInterference) []PairInterference {
	if len(mods) == 0 {
		return nil
	}
	out := make([]PairInterference, len(mods[0].Pairs))
	for k, p := range mods[0].Pairs {
		out[k] = PairInterference{I: p.I, J: p.J, Angles: make([]float64, len(p.Angles))}
	}
	for _, mi := range mods {
		for k, p := range mi.Pairs {
			out[k].Cosine += p.Cosine / float64(len(mods))
			out[k].SignConflict += p.SignConflict / float64(len(mods))
			for a, v := range p.Angles {
				if a < len(out[k].Angles) {
					out[k].Angles[a] += v / float64(len(mods))
				}
			}
		}
	}
	return out
}

// signConflict returns the fraction of the entries where at least two of d are nonzero whose nonzero
// signs disagree.
func signConflict(d ...[]float32) float64 {
	both, conflicts := 0, 0
	for j := range d[0] {
		nz, pos, neg := 0, false, false
		for _, x := range d {
			switch v := x[j]; {
			case v > 0:
				nz, pos = nz+1, true
			case v < 0:
				nz, neg = nz+1, true
			}
		}
		if nz >= 2 {
			both++
			if pos && neg {
				conflicts++
			}
		}
	}
	if both == 0 {
		return 0
	}
	return float64(conflicts) / float64(both)
}

// rowSpace returns an orthonormal basis of the row space of A [r, in] (row-major), as columns of length
// in; rows dependent on earlier ones are left out.
func rowSpace(A []float32, in int) [][]float64 {
	r := len(A) / in
	cols := make([][]float64, r)
	for k := range cols {
		cols[k] = make([]float64, in)
		for i, v := range A[k*in : (k+1)*in] {
			cols[k][i] = float64(v)
		}
	}
	orthonormalize(cols)
	basis := cols[:0]
	for _, c := range cols {
		for _, v := range c {
			if v != 0 {
				basis = append(basis, c)
				break
			}
		}
	}
	return basis
}

// principalAngles returns the min(len(Q1), len(Q2)) principal angles between the spans of the
// orthonormal columns Q1 and Q2, ascending: arccos of the singular values of Q1ᵀ·Q2.
func principalAngles(Q1, Q2 [][]float64) []float64 {
	k := min(len(Q1), len(Q2))
	if k == 0 {
		return []float64{}
	}
	if len(Q1) < len(Q2) {
		Q1, Q2 = Q2, Q1 // jacobi wants no more columns than rows: Q1ᵀ·Q2 is [len(Q1), len(Q2)]
	}
	_, S, _ := jacobi(mulTCols(Q1, Q2))
	angles := make([]float64, k)
	for j := range k {
		angles[j] = math.Acos(max(-1, min(1, S[j])))
	}
	return angles
}
