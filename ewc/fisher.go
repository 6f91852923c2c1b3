package ewc

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Fisher is a diagonal Fisher per module, shaped like the module's weight [out, in].
type Fisher map[lora.Module]*model.Tensor

// Clone returns a deep copy.
func (f Fisher) Clone() Fisher {
	c := make(Fisher, len(f))
	for m, t := range f {
		c[m] = t.Clone()
	}
	return c
}

// Mean is the mean entry over every module, 0 for an empty Fisher.
func (f Fisher) Mean() float64 {
	var s float64
	n := 0
	for _, t := range f {
		for _, v := range t.Data {
			s += float64(v)
		}
		n += len(t.Data)
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// Normalize divides every entry by Mean, so that the mean entry is 1. A Fisher whose mean is 0 is
// left as it is.
func (f Fisher) Normalize() {
	mean := f.Mean()
	if mean == 0 {
		return
	}
	for _, t := range f {
		for i, v := range t.Data {
			t.Data[i] = float32(float64(v) / mean)
		}
	}
}

// Accumulate sets f ← γ·f + ft, module by module (a module only ft has is copied). It panics on a
// module whose shape differs.
func (f Fisher) Accumulate(ft Fisher, gamma float64) {
	for m, t := range ft {
		old, ok := f[m]
		if !ok {
			f[m] = t.Clone()
			continue
		}
		if !slices.Equal(old.Shape, t.Shape) {
			panic(fmt.Sprintf("ewc: Accumulate: module %s: Fisher %v and %v differ", m.Path(), old.Shape, t.Shape))
		}
		for i, v := range t.Data {
			old.Data[i] = float32(gamma*float64(old.Data[i]) + float64(v))
		}
	}
}

// FisherOf estimates the empirical diagonal Fisher of m's current weights (with m's adapter, if one is
// attached, in the forward pass) for the weights of modules: the mean over up to n of items (evenly
// spaced; n ≤ 0 or ≥ len(items): all) of the squared gradient of each sequence's log-likelihood of its
// answer tokens. It returns the Fisher and the number of sequences used.
func FisherOf(ctx context.Context, m *model.Model, modules []lora.Module, items []lora.Sequence, n int) (Fisher, int, error) {
	if len(items) == 0 {
		return nil, 0, errors.New("ewc: FisherOf: no examples")
	}
	if len(modules) == 0 {
		return nil, 0, errors.New("ewc: FisherOf: no modules")
	}
	if n <= 0 || n > len(items) {
		n = len(items)
	}
	names := m.ParamNames()
	idx := make([]int, len(modules))
	for i, mod := range modules {
		w := model.ModuleWeightName(mod.Layer, mod.Name)
		idx[i] = slices.Index(names, w)
		if idx[i] < 0 {
			return nil, 0, fmt.Errorf("ewc: FisherOf: the model has no weight %q", w)
		}
	}
	mc := m.Config
	execs := map[int]*graph.Exec{}
	defer func() {
		for _, e := range execs {
			e.Finalize()
		}
	}()
	build := func() *graph.Exec {
		return graph.MustNewExec(m.Backend(), func(in []*graph.Node) []*graph.Node {
			p := model.BuildParams(names, in)
			k := len(names)
			h, _ := model.Forward(mc, p, model.ForwardInput{Tokens: in[k], Positions: in[k+1], Hook: m.Hook(p)})
			lp := model.TokenLogProbs(model.Logits(mc, p, h), in[k+2])
			ll := graph.ReduceAllSum(graph.Mul(lp, graph.ConvertDType(in[k+3], lp.DType())))
			wrt := make([]*graph.Node, len(idx))
			for i, j := range idx {
				wrt[i] = in[j]
			}
			out := graph.Gradient(ll, wrt...)
			for i := range out {
				out[i] = graph.Square(out[i])
			}
			return out
		})
	}
	F := Fisher{}
	acc := make([][]float64, len(modules))
	for i, mod := range modules {
		out, in := mc.ModuleShape(mod.Name)
		F[mod] = model.NewTensor(out, in)
		acc[i] = make([]float64, out*in)
	}
	params := m.ParamTensors(names)
	for s := range n {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		ex := items[s*len(items)/n]
		tok, pos, T := model.PadBatchTo([][]int{ex.Tokens}, 1)
		tgt := make([]int32, T)
		mask := make([]float32, T)
		for t := range len(ex.Tokens) - 1 {
			tgt[t] = int32(ex.Tokens[t+1])
			if t+1 >= ex.PromptLen {
				mask[t] = 1
			}
		}
		e, ok := execs[T]
		if !ok {
			e = build()
			execs[T] = e
		}
		args := make([]any, 0, len(params)+4)
		for _, t := range params {
			args = append(args, t)
		}
		args = append(args, tensors.FromFlatDataAndDimensions(tok, 1, T), tensors.FromFlatDataAndDimensions(pos, 1, T),
			tensors.FromFlatDataAndDimensions(tgt, 1, T), tensors.FromFlatDataAndDimensions(mask, 1, T))
		out, err := e.Exec(args...)
		if err != nil {
			return nil, 0, fmt.Errorf("ewc: FisherOf: sequence %d: %w", s, err)
		}
		for i, o := range out {
			tensors.ConstFlatData(o, func(d []float32) {
				for j, v := range d {
					acc[i][j] += float64(v)
				}
			})
			o.FinalizeAll()
		}
	}
	for i, mod := range modules {
		for j, v := range acc[i] {
			F[mod].Data[j] = float32(v / float64(n))
		}
	}
	return F, n, nil
}
