package inflora

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/internal/symeig"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Covariance is Σ x·xᵀ of a module's inputs x [in], row-major [in, in], in float64.
type Covariance struct {
	In   int
	Data []float64
}

// Covariances returns, for each of mods, the covariance Σ x·xᵀ of the module's inputs over the
// non-padding tokens of up to n of items (evenly spaced; n ≤ 0: all) on m's current weights and
// adapter, and the number of sequences used.
func Covariances(ctx context.Context, m *model.Model, mods []lora.Module, items []lora.Sequence, n int) (map[lora.Module]Covariance, int, error) {
	if len(items) == 0 {
		return nil, 0, errors.New("inflora: Covariances: no examples")
	}
	if n <= 0 || n > len(items) {
		n = len(items)
	}
	want := map[lora.Module]int{}
	for i, mod := range mods {
		want[mod] = i
	}
	names := m.ParamNames()
	mc := m.Config
	const B = 8
	build := func() *graph.Exec {
		return graph.MustNewExec(m.Backend(), func(in []*graph.Node) []*graph.Node {
			p := model.BuildParams(names, in)
			k := len(names)
			tokMask := graph.ConvertDType(graph.GreaterOrEqual(in[k+1], graph.ScalarZero(in[k+1].Graph(), dtypes.Int32)), dtypes.Float32)
			out := make([]*graph.Node, len(mods))
			adapter := m.Hook(p)
			hook := func(layer int, module string, x *graph.Node) *graph.Node {
				if i, ok := want[lora.Module{Layer: layer, Name: module}]; ok {
					d := x.Shape().Dimensions[x.Rank()-1]
					xf := graph.Reshape(graph.ConvertDType(x, dtypes.Float32), -1, d)
					xf = graph.Mul(xf, graph.Reshape(tokMask, -1, 1))
					out[i] = graph.DotGeneral(xf, []int{0}, nil, xf, []int{0}, nil) // [d, d]
				}
				if adapter != nil {
					return adapter(layer, module, x)
				}
				return nil
			}
			model.Forward(mc, p, model.ForwardInput{Tokens: in[k], Positions: in[k+1], Hook: hook})
			for i, o := range out {
				if o == nil {
					panic(fmt.Sprintf("inflora: Covariances: the forward pass never reached module %s", mods[i].Path()))
				}
			}
			return out
		})
	}
	execs := map[int]*graph.Exec{}
	defer func() {
		for _, e := range execs {
			e.Finalize()
		}
	}()
	cov := make(map[lora.Module]Covariance, len(mods))
	for _, mod := range mods {
		_, in := mc.ModuleShape(mod.Name)
		cov[mod] = Covariance{In: in, Data: make([]float64, in*in)}
	}
	params := m.ParamTensors(names)
	picked := make([][]int, n)
	for s := range n {
		picked[s] = items[s*len(items)/n].Tokens
	}
	for s := 0; s < n; s += B {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		tok, pos, T := model.PadBatchTo(picked[s:min(s+B, n)], B)
		e, ok := execs[T]
		if !ok {
			e = build()
			execs[T] = e
		}
		args := make([]any, 0, len(params)+2)
		for _, t := range params {
			args = append(args, t)
		}
		args = append(args, tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T))
		out, err := e.Exec(args...)
		if err != nil {
			return nil, 0, fmt.Errorf("inflora: Covariances: %w", err)
		}
		for i, o := range out {
			c := cov[mods[i]]
			tensors.ConstFlatData(o, func(d []float32) {
				for j, v := range d {
					c.Data[j] += float64(v)
				}
			})
			o.FinalizeAll()
		}
	}
	return cov, n, nil
}

// Memory is the orthonormal basis of the earlier rounds' input subspace of one module, as the rows of
// a [k, in] tensor (nil or k = 0: empty).
type Memory = *model.Tensor

// project returns P·C·P with P = I − MᵀM, as P·C = C − Mᵀ(M·C), then (P·C)·P = PC − (PC·Mᵀ)·M, with
// every inner loop along rows.
func project(c Covariance, M Memory) []float64 {
	n := c.In
	if M == nil || M.Shape[0] == 0 {
		return c.Data
	}
	k := M.Shape[0]
	m := make([]float64, k*n)
	for i, v := range M.Data {
		m[i] = float64(v)
	}
	mc := make([]float64, k*n) // M·C
	for i := range k {
		row := mc[i*n : (i+1)*n]
		for l, w := range m[i*n : (i+1)*n] {
			axpy(row, w, c.Data[l*n:(l+1)*n])
		}
	}
	pc := slices.Clone(c.Data) // C − Mᵀ·(M·C)
	for a := range n {
		row := pc[a*n : (a+1)*n]
		for i := range k {
			axpy(row, -m[i*n+a], mc[i*n:(i+1)*n])
		}
	}
	out := slices.Clone(pc) // PC − (PC·Mᵀ)·M
	for a := range n {
		row, pca := out[a*n:(a+1)*n], pc[a*n:(a+1)*n]
		for i := range k {
			mi := m[i*n : (i+1)*n]
			var s float64
			for l, v := range pca {
				s += v * mi[l]
			}
			axpy(row, -s, mi)
		}
	}
	// Symmetrise away rounding.
	for a := range n {
		for b := a + 1; b < n; b++ {
			v := (out[a*n+b] + out[b*n+a]) / 2
			out[a*n+b], out[b*n+a] = v, v
		}
	}
	return out
}

// axpy adds w·x to y.
func axpy(y []float64, w float64, x []float64) {
	if w == 0 {
		return
	}
	x = x[:len(y)]
	for i, v := range x {
		y[i] += w * v
	}
}

// offMemory removes from v its components along M's rows.
func offMemory(v []float64, M Memory) {
	if M == nil {
		return
	}
	n := len(v)
	for i := range M.Shape[0] {
		var d float64
		for l := range n {
			d += float64(M.Data[i*n+l]) * v[l]
		}
		for l := range n {
			v[l] -= d * float64(M.Data[i*n+l])
		}
	}
}

// Design returns InfLoRA's fixed A [r, in] for a module: the r leading unit eigenvectors of
// (I − MᵀM)·C·(I − MᵀM), projected off M once more against rounding, and the fraction of C's energy
// (trace) that lies outside M. Rows whose eigenvalue is 0 (M leaves fewer than r directions with any
// input energy) are 0.
func Design(c Covariance, M Memory, r int) (*model.Tensor, float64) {
	n := c.In
	pc := project(c, M)
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

// Extend returns M with the leading eigenvectors of the projected covariance (I − MᵀM)·C·(I − MᵀM)
// appended, as few as make the memory hold at least threshold of C's energy:
// tr(M·C·Mᵀ) + Σ_{i≤k} λ_i ≥ threshold·tr(C) (GPM's criterion). The result's rows stay orthonormal.
func Extend(c Covariance, M Memory, threshold float64) Memory {
	n := c.In
	pc := project(c, M)
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
		// Re-orthogonalise against everything kept so far (rounding), then normalise.
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
