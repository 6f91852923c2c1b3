package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Aggregate summarises one method run over several seeds: the result's numbers are the means over
// the seeds of each seed's numbers (Acquisition, AcquisitionTrained, Retention, DeltaBPB; the
// matrix metrics through Intervals), its Matrix the element-wise mean of the seeds' matrices
// (MeanMatrix, for heat maps; nil if the seeds have none) and Seeds the runs themselves, copied.
// Every run must have the method's name, and their matrices the same tasks and rounds. Intervals
// gives each summary number's 95% Student-t interval over the seeds.
func Aggregate(runs []MethodResult) (MethodResult, error) {
	if len(runs) == 0 {
		return MethodResult{}, errors.New("eval: Aggregate: no runs")
	}
	out := MethodResult{Method: runs[0].Method, Setting: runs[0].Setting, Seeds: make([]MethodResult, len(runs))}
	var ms []*Matrix
	for i, r := range runs {
		if r.Method != out.Method {
			return MethodResult{}, fmt.Errorf("eval: Aggregate: run %d is %q, run 0 %q", i, r.Method, out.Method)
		}
		if len(r.Seeds) > 0 {
			return MethodResult{}, fmt.Errorf("eval: Aggregate: run %d of %q is itself an aggregate", i, r.Method)
		}
		if (r.Matrix == nil) != (runs[0].Matrix == nil) {
			return MethodResult{}, fmt.Errorf("eval: Aggregate: %q: run %d has a matrix and run 0 not, or the reverse", r.Method, i)
		}
		if r.Matrix != nil {
			ms = append(ms, r.Matrix)
		}
		out.Seeds[i] = r
	}
	if len(ms) > 0 {
		m, err := MeanMatrix(ms)
		if err != nil {
			return MethodResult{}, fmt.Errorf("eval: Aggregate: %q: %w", out.Method, err)
		}
		out.Matrix = m
	}
	iv := out.Intervals()
	out.Acquisition, out.AcquisitionTrained = iv["acquisition"].Mean, iv["acquisition_trained"].Mean
	out.Retention, out.DeltaBPB = iv["retention"].Mean, iv["delta_bpb"].Mean
	return out, nil
}

// Intervals returns, for each column of the summary (the names of WriteCSV's header: acquisition,
// acquisition_trained, retention, delta_bpb, acc, bwt, fwt, forgetting, avg_inc_acc), the mean over
// r.Seeds of each seed's value and its 95% Student-t interval (MeanInterval). Each metric is
// computed per seed and then averaged, so forgetting (a max) is the mean of the seeds' forgetting,
// not the forgetting of the mean matrix. nil when r has no seeds.
func (r MethodResult) Intervals() map[string]Interval {
	if len(r.Seeds) == 0 {
		return nil
	}
	cols := make([][]float64, len(summaryColumns))
	for _, s := range r.Seeds {
		for k, v := range summary(s) {
			cols[k] = append(cols[k], v)
		}
	}
	out := make(map[string]Interval, len(summaryColumns)-1)
	for k, name := range summaryColumns {
		if name == "rounds" {
			continue
		}
		out[name] = MeanInterval(cols[k])
	}
	return out
}

// MeanMatrix returns the element-wise mean of ms — R, Trained, Base, BaseTrained, Knowledge,
// BaseKnowledge, BPB and BaseBPB — averaging at each position the seeds that measured it (NaN where
// none did). The matrices must have the same tasks and number of rounds; a slice present in some and
// nil in others is averaged over those that have it.
func MeanMatrix(ms []*Matrix) (*Matrix, error) {
	if len(ms) == 0 {
		return nil, errors.New("eval: MeanMatrix: no matrices")
	}
	first := ms[0]
	for i, m := range ms {
		if !slices.Equal(m.Tasks, first.Tasks) || len(m.R) != len(first.R) {
			return nil, fmt.Errorf("eval: MeanMatrix: matrix %d has tasks %v and %d rounds, matrix 0 %v and %d",
				i, m.Tasks, len(m.R), first.Tasks, len(first.R))
		}
	}
	n, T := len(first.Tasks), len(first.R)
	vec := func(get func(*Matrix) []float64, size int) []float64 {
		var sums, counts []float64
		for _, m := range ms {
			v := get(m)
			if v == nil {
				continue
			}
			if sums == nil {
				sums, counts = make([]float64, size), make([]float64, size)
			}
			for j := range size {
				if x := at(v, j); !math.IsNaN(x) {
					sums[j] += x
					counts[j]++
				}
			}
		}
		if sums == nil {
			return nil
		}
		for j := range sums {
			if counts[j] == 0 {
				sums[j] = math.NaN()
			} else {
				sums[j] /= counts[j]
			}
		}
		return sums
	}
	scalar := func(get func(*Matrix) float64) float64 {
		v := vec(func(m *Matrix) []float64 { return []float64{get(m)} }, 1)
		return v[0]
	}
	rows := func(get func(*Matrix) [][]float64) [][]float64 {
		has := false
		for _, m := range ms {
			has = has || get(m) != nil
		}
		if !has {
			return nil
		}
		out := make([][]float64, T)
		for i := range T {
			out[i] = vec(func(m *Matrix) []float64 {
				if rs := get(m); rs != nil {
					return rs[i]
				}
				return nil
			}, n)
		}
		return out
	}
	mean := &Matrix{
		Tasks:         slices.Clone(first.Tasks),
		R:             rows(func(m *Matrix) [][]float64 { return m.R }),
		Base:          vec(func(m *Matrix) []float64 { return m.Base }, n),
		Trained:       rows(func(m *Matrix) [][]float64 { return m.Trained }),
		BaseTrained:   vec(func(m *Matrix) []float64 { return m.BaseTrained }, n),
		Knowledge:     vec(func(m *Matrix) []float64 { return m.Knowledge }, T),
		BaseKnowledge: scalar(func(m *Matrix) float64 { return m.BaseKnowledge }),
		BPB:           vec(func(m *Matrix) []float64 { return m.BPB }, T),
		BaseBPB:       scalar(func(m *Matrix) float64 { return m.BaseBPB }),
	}
	if mean.R == nil {
		mean.R = [][]float64{}
	}
	return mean, mean.Validate()
}
