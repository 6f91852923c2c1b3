package merge

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// stories15M is the decoder shape of llama2.c's stories15M (only the linear modules matter here).
var stories15M = model.Config{HiddenSize: 288, IntermediateSize: 768, NumHiddenLayers: 6, NumAttentionHeads: 6,
	VocabSize: 32000}

func benchAdapters(b *testing.B, n int) []*lora.Adapter {
	ads := make([]*lora.Adapter, n)
	for i := range ads {
		a, err := lora.NewAdapter(fmt.Sprintf("a%d", i), stories15M, lora.Config{Rank: 8, Seed: uint64(i)})
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(i), 5))
		for _, t := range a.B {
			for j := range t.Data {
				t.Data[j] = float32(rng.NormFloat64() * 0.01)
			}
		}
		ads[i] = a
	}
	return ads
}

// peakHeap samples HeapInuse every millisecond while f runs and returns its peak above the level
// before f (after a GC).
func peakHeap(f func()) (peak uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max.Load() {
				max.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	runtime.ReadMemStats(&ms)
	if ms.HeapInuse > max.Load() {
		max.Store(ms.HeapInuse)
	}
	close(stop)
	wg.Wait()
	if max.Load() < base {
		return 0
	}
	return max.Load() - base
}

// naiveMerge is the all-at-once approach: every ΔW of every adapter first, then the merge.
func naiveMerge(adapters []*lora.Adapter, cfg Config, emit Emit) error {
	all := make([]map[lora.Module]*model.Tensor, len(adapters))
	for i, a := range adapters {
		all[i] = map[lora.Module]*model.Tensor{}
		for _, m := range a.Modules() {
			all[i][m] = a.DeltaW(m)
		}
	}
	cfg = cfg.WithDefaults()
	w, err := cfg.weights(len(adapters))
	if err != nil {
		return err
	}
	var wsum float64
	for _, v := range w {
		wsum += v
	}
	for _, m := range adapters[0].Modules() {
		d := make([][]float32, len(adapters))
		acc := make([]float64, len(all[0][m].Data))
		for i := range adapters {
			d[i] = all[i][m].Data
			if cfg.Method.trims() {
				trim(d[i], cfg.Density, make([]float32, len(d[i])))
			}
			for j, v := range d[i] {
				acc[j] += w[i] * float64(v)
			}
		}
		res := model.NewTensor(all[0][m].Shape...)
		if cfg.Method.electsSign() {
			disjointMean(res.Data, acc, d, w, cfg.Scale)
		} else {
			for j, v := range acc {
				res.Data[j] = float32(cfg.Scale * v / wsum)
			}
		}
		if err := emit(m, res); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkMerge merges 7 random rank-8 adapters of the stories15M shape, streaming (Merge) against
// all at once (every ΔW first), and reports the peak heap above the starting level.
func BenchmarkMerge(b *testing.B) {
	ads := benchAdapters(b, 7)
	var sink float32
	consume := func(_ lora.Module, d *model.Tensor) error { sink += d.Data[0]; return nil }
	for _, method := range []Method{Linear, TIES} {
		for _, mode := range []string{"streaming", "naive"} {
			b.Run(fmt.Sprintf("%s/%s", method, mode), func(b *testing.B) {
				b.ReportAllocs()
				var peak uint64
				for b.Loop() {
					p := peakHeap(func() {
						var err error
						if mode == "streaming" {
							err = Merge(ads, Config{Method: method}, consume)
						} else {
							err = naiveMerge(ads, Config{Method: method}, consume)
						}
						if err != nil {
							b.Fatal(err)
						}
					})
					peak = max(peak, p)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
			})
		}
	}
	_ = sink
}

// BenchmarkRefactor re-factors the TIES merge of 7 stories15M-shaped adapters into rank 16.
func BenchmarkRefactor(b *testing.B) {
	ads := benchAdapters(b, 7)
	b.ReportAllocs()
	var f *Factored
	for b.Loop() {
		var err error
		f, err = Refactor("m", ads, Config{Method: Linear}, 16)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(f.Error, "rel-error")
}
