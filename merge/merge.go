package merge

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// Method names a way of combining adapters, spelled as PEFT's add_weighted_adapter and mergekit
// spell them.
type Method string

// Merge methods. With τ_i the full delta ΔW_i = scale_i·B_i·A_i of adapter i, w_i its weight and λ
// Config.Scale, every method gives, entry by entry:
const (
	// Linear is the weighted average λ·Σ w_i τ_i / Σ w_i (the paper's uniform average with the default
	// weights).
	Linear Method = "linear"
	// TaskArithmetic is the weighted sum λ·Σ w_i τ_i (Ilharco et al.).
	TaskArithmetic Method = "task_arithmetic"
	// TIES trims each τ_i to its top-Density fraction by magnitude, elects each entry's sign as the sign
	// of Σ w_i trim(τ_i), and takes the disjoint weighted mean over the adapters agreeing with it:
	// λ·Σ_i w_i m_i trim(τ_i) / Σ_i w_i m_i, m_i = [sign(w_i trim(τ_i)) = elected sign] (mergekit's
	// normalised TIES; an entry where no adapter agrees is 0).
	TIES Method = "ties"
	// DARELinear drops each entry of each τ_i with probability DropP and rescales the survivors by
	// 1/(1−DropP), then combines like Linear.
	DARELinear Method = "dare_linear"
	// DARETIES applies DARE's drop-and-rescale in place of TIES's magnitude trim, then TIES's sign
	// election and disjoint mean.
	DARETIES Method = "dare_ties"
	// Magnitude keeps each τ_i's top-Density fraction by magnitude, then combines like Linear.
	Magnitude Method = "magnitude_prune"
	// Concat is λ·Σ w_i τ_i computed exactly in low rank: see Concatenate.
	Concat Method = "cat"
	// DELLA (Deep et al., arXiv 2406.11617) is Drop-Elect-Fuse with MAGPRUNE as the drop: in each row of
	// each τ_i the entries are ranked by magnitude, the entry of rank r (0 the smallest, n−1 the
	// largest) is kept with probability q_r = Density − Epsilon + 2·Epsilon·r/(n−1) and rescaled by
	// 1/q_r (so the row is unbiased), then TIES's sign election and disjoint mean fuse them. This is
	// the paper's variant with the rescaling step and mergekit's della (per-row ranks, keep
	// probabilities centred on Density); at Density 1 nothing is dropped.
	DELLA Method = "della"
	// DELLALinear is DELLA's MAGPRUNE drop followed by Linear's weighted average (mergekit's
	// della_linear, without the sign election).
	DELLALinear Method = "della_linear"
	// Breadcrumbs (Davari & Belilovsky, arXiv 2312.06795, "model breadcrumbs") masks both tails of each
	// τ_i per module: the ⌊Outliers·size⌋ largest-magnitude entries and the smallest ones, so that
	// ⌊Density·size⌋ remain (fewer outliers are dropped when Density+Outliers > 1), then sums like
	// TaskArithmetic: λ·Σ w_i mask(τ_i). This is the paper's layer-wise mask with its task-arithmetic
	// combination, counted as mergekit's breadcrumbs counts; at Density 1 nothing is dropped.
	Breadcrumbs Method = "breadcrumbs"
	// ModelStock (Jang et al., ECCV 2024, arXiv 2403.19522) interpolates between the base and the
	// weighted average of the τ_i with the paper's ratio t = N·cosθ / (1 + (N−1)·cosθ), θ the angle
	// between the task vectors (relative to the base, i.e. between the ΔW), per module and, for N > 2,
	// cosθ the mean pairwise cosine as mergekit takes it: λ·t·Σ w_i τ_i / Σ w_i. cosθ is clamped to
	// [0, 1] (t = 0, the base, for opposed task vectors, where the paper's formula is undefined or
	// negative). With one adapter cosθ = 1 and t = 1. The paper averages fine-tunes of one task; here
	// the τ_i may come from different tasks, for which t shrinks their average towards the base.
	ModelStock Method = "model_stock"
	// NuSLERP is spherical interpolation of two task vectors (mergekit's nuslerp over ΔW, with weights
	// normalised: t = w_1/(w_0+w_1)): with cosθ the cosine of τ_0 and τ_1,
	// λ·(sin((1−t)θ)·τ_0 + sin(tθ)·τ_1)/sinθ, falling back to (1−t)·τ_0 + t·τ_1 where sinθ < 1e-8.
	// By default each module is one vector (mergekit's nuslerp_flatten); SlerpRows interpolates every
	// row of ΔW (one output unit's incoming weights) separately. The magnitudes are not renormalised.
	// It merges two adapters (one is returned as λ·τ_0); SLERP with parameter t is weights {1−t, t}.
	NuSLERP Method = "nuslerp"
	// Karcher is the weighted Karcher (Riemannian, Fréchet) mean on the unit sphere of the normalised
	// task vectors u_i = τ_i/‖τ_i‖, per module, as mergekit's karcher computes it: starting from the
	// normalised weighted mean of the u_i, the mean moves along the geodesic by the weighted mean of
	// the logarithm maps, Σ ŵ_i·θ_i/sinθ_i·(u_i − cosθ_i·μ), until that step is shorter than
	// KarcherTol or after KarcherIters steps; the magnitude is restored as Σ ŵ_i‖τ_i‖ (ŵ the weights
	// normalised to sum 1, adapters with ‖τ_i‖ ≤ KarcherTol left out of the direction): λ·Σ ŵ_i‖τ_i‖·μ.
	Karcher Method = "karcher"
)

// Methods lists every method.
var Methods = []Method{Linear, TaskArithmetic, TIES, DARELinear, DARETIES, Magnitude, Concat,
	DELLA, DELLALinear, Breadcrumbs, ModelStock, NuSLERP, Karcher}

// Config configures a merge, and the strategy built from it. Zero values mean the documented defaults.
type Config struct {
	// Method combines the adapters. Default (""): Linear.
	Method Method
	// Weights are the adapters' weights w_i, in order. Default (nil): 1/N each for Linear, Magnitude,
	// Concat, ModelStock, NuSLERP and Karcher (the uniform average), 1.0 each for TaskArithmetic, TIES,
	// DARELinear, DARETIES, DELLA, DELLALinear and Breadcrumbs (as the paper runs TIES and DARE-TIES).
	// Negative weights are allowed (task negation). The strategy uses the first N weights after N
	// rounds.
	Weights []float64
	// Density is the fraction of entries TIES, Magnitude and Breadcrumbs keep per module (k =
	// ⌊Density·size⌋, as mergekit and PEFT count), and DELLA's mean keep probability, in (0, 1].
	// Default (0): 0.2, the paper's value.
	Density float64
	// Epsilon is DELLA's spread of keep probabilities: they run linearly in magnitude rank from
	// Density − Epsilon to Density + Epsilon, which must lie in (0, 1] unless Density is 1. Default
	// (0): min(0.1, Density/2, 1 − Density).
	Epsilon float64
	// Outliers is the fraction of largest-magnitude entries Breadcrumbs drops per module (the paper's
	// β), in [0, 1). Default (0): 0.01, mergekit's γ.
	Outliers float64
	// SlerpRows makes NuSLERP interpolate each row of ΔW separately. Default (false): each module's
	// ΔW is one vector.
	SlerpRows bool
	// KarcherIters and KarcherTol bound Karcher's iterations: it stops after KarcherIters geodesic
	// steps or when a step is shorter than KarcherTol (radians). Defaults (0): 10 and 1e-5, mergekit's.
	KarcherIters int
	KarcherTol   float64
	// DropP is DARE's drop probability p, in [0, 1). Default (0): 1 − Density (0.8 by default, i.e.
	// DARE's keep probability is the density, as in mergekit); set Density to 1 for p = 0.
	DropP float64
	// Scale is λ, multiplying the merged delta. Default (0): 1.
	Scale float64
	// Seed draws DARE's drop masks; each adapter and module gets its own stream, so the result does
	// not depend on the order in which modules are merged. Default 0.
	Seed uint64

	// LoRA and Train configure the adapters the strategy trains; nil: the learner's. The adapter's seed
	// is offset by the round index.
	LoRA  *lora.Config
	Train *lora.TrainConfig
}

// WithDefaults returns c with zero fields replaced by their defaults (Weights stay nil: they depend
// on the number of adapters).
func (c Config) WithDefaults() Config {
	if c.Method == "" {
		c.Method = Linear
	}
	if c.Density == 0 {
		c.Density = 0.2
	}
	if c.DropP == 0 {
		c.DropP = 1 - c.Density
	}
	if c.Epsilon == 0 {
		c.Epsilon = min(0.1, c.Density/2, 1-c.Density)
	}
	if c.Outliers == 0 {
		c.Outliers = 0.01
	}
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.KarcherIters == 0 {
		c.KarcherIters = 10
	}
	if c.KarcherTol == 0 {
		c.KarcherTol = 1e-5
	}
	return c
}

// Validate names the first bad field and its value.
func (c Config) Validate() error {
	d := c.WithDefaults()
	if !slices.Contains(Methods, d.Method) {
		return fmt.Errorf("merge config: Method %q unknown (want one of %v)", c.Method, Methods)
	}
	for i, w := range c.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("merge config: Weights[%d] is %g, want a finite number", i, w)
		}
	}
	if !(d.Density > 0 && d.Density <= 1) {
		return fmt.Errorf("merge config: Density must be in (0, 1], got %g", c.Density)
	}
	if !(d.DropP >= 0 && d.DropP < 1) {
		return fmt.Errorf("merge config: DropP must be in [0, 1), got %g", c.DropP)
	}
	if math.IsNaN(d.Scale) || math.IsInf(d.Scale, 0) {
		return fmt.Errorf("merge config: Scale must be finite, got %g", c.Scale)
	}
	if !(d.Epsilon >= 0) || (d.Density < 1 && !(d.Density-d.Epsilon > 0 && d.Density+d.Epsilon <= 1)) {
		return fmt.Errorf("merge config: Epsilon must be ≥ 0 with Density ± Epsilon in (0, 1], got %g (Density %g)", c.Epsilon, d.Density)
	}
	if !(d.Outliers >= 0 && d.Outliers < 1) {
		return fmt.Errorf("merge config: Outliers must be in [0, 1), got %g", c.Outliers)
	}
	if d.KarcherIters < 0 {
		return fmt.Errorf("merge config: KarcherIters must be ≥ 0, got %d", c.KarcherIters)
	}
	if !(d.KarcherTol > 0) || math.IsInf(d.KarcherTol, 0) {
		return fmt.Errorf("merge config: KarcherTol must be positive and finite, got %g", c.KarcherTol)
	}
	if c.LoRA != nil {
		if err := c.LoRA.Validate(); err != nil {
			return fmt.Errorf("merge config: LoRA: %w", err)
		}
	}
	if c.Train != nil {
		if err := c.Train.Validate(); err != nil {
			return fmt.Errorf("merge config: Train: %w", err)
		}
	}
	return nil
}

// averages reports whether the method divides by the sum of the weights.
func (m Method) averages() bool {
	switch m {
	case Linear, Magnitude, DARELinear, DELLALinear, ModelStock, NuSLERP, Karcher:
		return true
	}
	return false
}

func (m Method) electsSign() bool { return m == TIES || m == DARETIES || m == DELLA }

// holdsAll reports whether the method needs every adapter's delta of a module at once.
func (m Method) holdsAll() bool {
	return m.electsSign() || m == ModelStock || m == NuSLERP || m == Karcher
}

func (m Method) magprunes() bool { return m == DELLA || m == DELLALinear }

func (m Method) trims() bool { return m == TIES || m == Magnitude }

func (m Method) drops() bool { return m == DARELinear || m == DARETIES }

// weights returns the n adapters' weights.
func (c Config) weights(n int) ([]float64, error) {
	if c.Weights == nil {
		w := make([]float64, n)
		v := 1.0
		switch c.Method {
		case Linear, Magnitude, Concat, ModelStock, NuSLERP, Karcher:
			v = 1 / float64(n)
		}
		for i := range w {
			w[i] = v
		}
		return w, nil
	}
	if len(c.Weights) < n {
		return nil, fmt.Errorf("merge: Weights has %d entries for %d adapters", len(c.Weights), n)
	}
	w := slices.Clone(c.Weights[:n])
	if c.Method.averages() {
		var s float64
		for _, v := range w {
			s += v
		}
		if math.Abs(s) < 1e-12 {
			return nil, fmt.Errorf("merge: %s divides by the sum of Weights %v, which is 0", c.Method, w)
		}
	}
	return w, nil
}

// Emit receives one module's merged ΔW [out, in]. The tensor belongs to Merge and is overwritten after
// Emit returns: copy what you keep.
type Emit func(m lora.Module, delta *model.Tensor) error

// ErrNoAdapters is returned when there is nothing to merge.
var ErrNoAdapters = errors.New("merge: no adapters")

// Merge combines the adapters' full deltas ΔW = scale·B·A module by module and hands each merged ΔW
// to emit, in the order of adapters[0].Modules(). Memory stays bounded by one module: it holds at
// most the N deltas of the module being merged (one for the averaging methods) and one accumulator,
// never every ΔW of the model. The adapters must target the same modules of the same model (their
// ranks and scales may differ).
func Merge(adapters []*lora.Adapter, cfg Config, emit Emit) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	mods, err := commonModules(adapters)
	if err != nil {
		return err
	}
	w, err := cfg.weights(len(adapters))
	if err != nil {
		return err
	}
	if cfg.Method == NuSLERP && len(adapters) > 2 {
		return fmt.Errorf("merge: %s merges 1 or 2 adapters, got %d", cfg.Method, len(adapters))
	}
	largest := 0
	for _, m := range mods {
		out, in := adapters[0].Model.ModuleShape(m.Name)
		largest = max(largest, out*in)
	}
	nbuf := 1
	if cfg.Method.holdsAll() {
		nbuf = len(adapters)
	}
	bufs := make([][]float32, nbuf)
	for i := range bufs {
		bufs[i] = make([]float32, largest)
	}
	acc := make([]float64, largest)
	var scratch []float32
	if cfg.Method.trims() {
		scratch = make([]float32, largest)
	}
	var order []int32
	if cfg.Method.magprunes() || cfg.Method == Breadcrumbs {
		order = make([]int32, largest)
	}
	res := &model.Tensor{Data: make([]float32, largest)}
	var wsum float64
	for _, v := range w {
		wsum += v
	}
	for _, m := range mods {
		out, in := adapters[0].Model.ModuleShape(m.Name)
		n := out * in
		acc := acc[:n]
		clear(acc)
		for i, a := range adapters {
			d := bufs[min(i, nbuf-1)][:n]
			deltaInto(a, m, d)
			switch {
			case cfg.Method.trims():
				trim(d, cfg.Density, scratch[:n])
			case cfg.Method.drops():
				dare(d, cfg.DropP, rand.New(rand.NewPCG(cfg.Seed, streamID(i, m))))
			case cfg.Method.magprunes():
				magprune(d, in, cfg.Density, cfg.Epsilon, rand.New(rand.NewPCG(cfg.Seed, streamID(i, m))), order[:in])
			case cfg.Method == Breadcrumbs:
				breadcrumbs(d, cfg.Density, cfg.Outliers, order[:n])
			}
			wi := w[i]
			for j, v := range d {
				acc[j] += wi * float64(v)
			}
		}
		res.Shape = []int{out, in}
		res.Data = res.Data[:n]
		lambda := cfg.Scale
		switch {
		case cfg.Method.electsSign():
			disjointMean(res.Data, acc, bufs, w, lambda)
		case cfg.Method == ModelStock:
			modelStock(res.Data, acc, bufs, n, lambda/wsum)
		case cfg.Method == NuSLERP:
			nuslerp(res.Data, bufs, n, w, in, cfg.SlerpRows, lambda)
		case cfg.Method == Karcher:
			karcher(res.Data, bufs, n, w, cfg.KarcherIters, cfg.KarcherTol, lambda)
		default:
			if cfg.Method.averages() {
				lambda /= wsum
			}
			for j, v := range acc {
				res.Data[j] = float32(lambda * v)
			}
		}
		if err := emit(m, res); err != nil {
			return err
		}
	}
	return nil
}

// disjointMean writes λ·Σ_i w_i m_i d_i / Σ_i w_i m_i, where m_i marks the entries of w_i·d_i whose sign
// is the elected one, sign(sum) (sum = Σ w_i d_i). As in mergekit, a divisor of (nearly) 0 counts as 1.
func disjointMean(dst []float32, sum []float64, d [][]float32, w []float64, lambda float64) {
	for j, s := range sum {
		if s == 0 {
			dst[j] = 0
			continue
		}
		var num, den float64
		for i, wi := range w {
			v := wi * float64(d[i][j])
			if (v > 0 && s > 0) || (v < 0 && s < 0) {
				num += v
				den += wi
			}
		}
		if math.Abs(den) < 1e-8 {
			den = 1
		}
		dst[j] = float32(lambda * num / den)
	}
}

// streamID gives each (adapter, module) its own PCG stream.
func streamID(i int, m lora.Module) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%s", i, m.Layer, m.Name)
	return h.Sum64()
}

// dare zeroes each entry with probability p and rescales the survivors by 1/(1−p) (Yu et al.).
func dare(d []float32, p float64, rng *rand.Rand) {
	if p == 0 {
		return
	}
	s := float32(1 / (1 - p))
	for j := range d {
		if rng.Float64() < p {
			d[j] = 0
		} else {
			d[j] *= s
		}
	}
}

// trim keeps the k = ⌊density·len(d)⌋ entries of largest magnitude (ties broken by position, first
// kept) and zeroes the rest. scratch has len(d).
func trim(d []float32, density float64, scratch []float32) {
	k := int(density * float64(len(d)))
	if k >= len(d) {
		return
	}
	if k <= 0 {
		clear(d)
		return
	}
	for j, v := range d {
		scratch[j] = float32(math.Abs(float64(v)))
	}
	t := kthLargest(scratch, k)
	above := 0
	for _, v := range d {
		if float32(math.Abs(float64(v))) > t {
			above++
		}
	}
	atT := k - above // entries equal to t that are kept, first ones first
	for j, v := range d {
		a := float32(math.Abs(float64(v)))
		switch {
		case a > t:
		case a == t && atT > 0:
			atT--
		default:
			d[j] = 0
		}
	}
}

// kthLargest returns the k-th largest value of s (1-based), reordering s (quickselect, median of
// three pivots).
func kthLargest(s []float32, k int) float32 {
	target := k - 1 // index in descending order
	lo, hi := 0, len(s)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		a, b, c := s[lo], s[mid], s[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for s[i] > pivot {
				i++
			}
			for s[j] < pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case target <= j:
			hi = j
		case target >= i:
			lo = i
		default:
			return s[target]
		}
	}
	return s[target]
}

// deltaInto writes a's ΔW = scale·B·A of module m into d, with the arithmetic of lora.Adapter.DeltaW
// (float64 accumulation, one rounding), so that it is bit-identical to it.
func deltaInto(a *lora.Adapter, m lora.Module, d []float32) {
	A, B := a.A[m], a.B[m]
	in := A.Shape[1]
	out := B.Shape[0]
	s := a.Config.Scale()
	row := make([]float64, in)
	for o := range out {
		productRow(A, B, o, row)
		dr := d[o*in : (o+1)*in]
		for i := range dr {
			dr[i] = float32(s * row[i])
		}
	}
}

// commonModules checks that every adapter targets the same modules of the same model shape.
func commonModules(adapters []*lora.Adapter) ([]lora.Module, error) {
	if len(adapters) == 0 {
		return nil, ErrNoAdapters
	}
	mods := adapters[0].Modules()
	for i, a := range adapters {
		if a == nil {
			return nil, fmt.Errorf("merge: adapter %d is nil", i)
		}
		for _, m := range mods {
			A, ok := a.A[m]
			B, okB := a.B[m]
			if !ok || !okB {
				return nil, fmt.Errorf("merge: adapter %d (%q) does not adapt %s, which adapter 0 (%q) does", i, a.Name, m.Path(), adapters[0].Name)
			}
			out, in := adapters[0].Model.ModuleShape(m.Name)
			if len(A.Shape) != 2 || len(B.Shape) != 2 || A.Shape[1] != in || B.Shape[0] != out || A.Shape[0] != B.Shape[1] {
				return nil, fmt.Errorf("merge: adapter %d (%q) %s: A %v and B %v do not factor a [%d, %d] update", i, a.Name, m.Path(), A.Shape, B.Shape, out, in)
			}
		}
		if len(a.A) != len(mods) {
			return nil, fmt.Errorf("merge: adapter %d (%q) adapts %d modules, adapter 0 (%q) %d", i, a.Name, len(a.A), adapters[0].Name, len(mods))
		}
	}
	return mods, nil
}

// Dense merges the adapters and returns every module's merged ΔW (this holds the whole model's
// deltas; prefer Merge with an Emit that consumes them).
func Dense(adapters []*lora.Adapter, cfg Config) (map[lora.Module]*model.Tensor, error) {
	out := map[lora.Module]*model.Tensor{}
	err := Merge(adapters, cfg, func(m lora.Module, d *model.Tensor) error {
		out[m] = d.Clone()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FoldInto returns an Emit that adds each merged ΔW to its module's weight in w (in place). Call the
// model's UpdateWeights afterwards.
func FoldInto(w model.Weights) Emit {
	return func(m lora.Module, d *model.Tensor) error {
		name := model.ModuleWeightName(m.Layer, m.Name)
		W, ok := w[name]
		if !ok {
			return fmt.Errorf("merge: fold: the weights have no tensor %q", name)
		}
		if !slices.Equal(W.Shape, d.Shape) {
			return fmt.Errorf("merge: fold: %s has shape %v, the merged ΔW %v", name, W.Shape, d.Shape)
		}
		for i, v := range d.Data {
			W.Data[i] += v
		}
		return nil
	}
}

// Concatenate returns the exact low-rank form of λ·Σ w_i ΔW_i: a LoRA of rank Σ r_i whose A stacks the
// adapters' A's [Σr, in] and whose B concatenates the weighted B's, λ·w_i·scale_i·B_i, [out, Σr], with
// Alpha = rank so that its own scale is 1. Weights and Scale come from cfg as for Concat (Method is
// ignored; nil Weights mean 1/N each). Unlike a re-factorisation it loses nothing; its rank grows with
// every adapter.
func Concatenate(name string, adapters []*lora.Adapter, cfg Config) (*lora.Adapter, error) {
	cfg.Method = Concat
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	mods, err := commonModules(adapters)
	if err != nil {
		return nil, err
	}
	w, err := cfg.weights(len(adapters))
	if err != nil {
		return nil, err
	}
	R := 0
	for _, a := range adapters {
		R += a.A[mods[0]].Shape[0]
	}
	first := adapters[0]
	out := &lora.Adapter{Name: name, Model: first.Model,
		Config: lora.Config{Rank: R, Alpha: float64(R), TargetModules: slices.Clone(first.Config.TargetModules)}.WithDefaults(),
		A:      map[lora.Module]*model.Tensor{}, B: map[lora.Module]*model.Tensor{}}
	for _, m := range mods {
		o, in := first.Model.ModuleShape(m.Name)
		A, B := model.NewTensor(R, in), model.NewTensor(o, R)
		off := 0
		for i, a := range adapters {
			Ai, Bi := a.A[m], a.B[m]
			r := Ai.Shape[0]
			copy(A.Data[off*in:], Ai.Data)
			f := cfg.Scale * w[i] * a.Config.Scale()
			for row := range o {
				for k := range r {
					B.Data[row*R+off+k] = float32(f * float64(Bi.Data[row*r+k]))
				}
			}
			off += r
		}
		out.A[m], out.B[m] = A, B
	}
	return out, nil
}

// productRow writes row o of B·A (B [out, r], A [r, in]) into row [in], accumulated in float64,
// skipping zero entries of B as lora.Adapter.DeltaW does.
func productRow(A, B *model.Tensor, o int, row []float64) {
	r, in := A.Shape[0], A.Shape[1]
	clear(row)
	for k := range r {
		b := float64(B.Data[o*r+k])
		if b == 0 {
			continue
		}
		for i, v := range A.Data[k*in : (k+1)*in] {
			row[i] += b * float64(v)
		}
	}
}
