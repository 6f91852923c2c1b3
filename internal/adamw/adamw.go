package adamw

// Kernel levels.
const (
	levelGo     = 0 // portable Go loops
	levelAVX2   = 1 // AVX2 + FMA, 8 lanes
	levelAVX512 = 2 // AVX-512F, 16 lanes
)

// level is the kernel level in use, chosen at init (always levelGo off amd64). Tests lower it to
// exercise every path; it must not change while an Update or SumSquares runs.
var level = detectLevel()

// Hyper holds the per-step coefficients of an AdamW update.
type Hyper struct {
	B1, B2   float32 // exponential decay rates of the first and second moments
	Clip     float32 // factor the gradient is multiplied by (global-norm clipping; 1 for none)
	Decay    float32 // multiplicative weight decay, 1 - lr·λ
	StepSize float32 // lr / (1 - β1^t)
	SqrtBc2  float32 // √(1 - β2^t)
	Eps      float32 // ε added to the denominator
}

// kconsts is the constant block the assembly kernels read, in this order.
type kconsts struct {
	clip, b1, c1, b2, c2, sqrtBc2, eps, decay, stepSize float32
}

func (h *Hyper) consts() kconsts {
	return kconsts{
		clip: h.Clip, b1: h.B1, c1: 1 - h.B1, b2: h.B2, c2: 1 - h.B2,
		sqrtBc2: h.SqrtBc2, eps: h.Eps, decay: h.Decay, stepSize: h.StepSize,
	}
}

// Update applies one AdamW step to the parameters p, given gradients g and the moments m1 and m2,
// all of the same length (it panics otherwise). For each j, in float32 arithmetic and in this
// order (c1 = 1-B1 and c2 = 1-B2 are rounded to float32 once):
//
//	gj    := g[j] * Clip
//	m1[j]  = B1*m1[j] + c1*gj
//	m2[j]  = B2*m2[j] + c2*gj*gj
//	den   := sqrt(m2[j])/SqrtBc2 + Eps
//	p[j]   = p[j]*Decay - StepSize*m1[j]/den
//
// Each operation is rounded separately (no fused multiply-add) and sqrt is correctly rounded, so
// the result is bit-identical to that plain Go loop compiled without FMA contraction, on every
// kernel path. The slices must not overlap.
func Update(p, g, m1, m2 []float32, h Hyper) {
	n := len(p)
	if len(g) != n || len(m1) != n || len(m2) != n {
		panic("adamw: Update: slices of different lengths")
	}
	if n == 0 {
		return
	}
	k := h.consts()
	i := 0
	if level > levelGo {
		i = updateVec(p, g, m1, m2, &k)
	}
	if i < n {
		updateGo(p[i:], g[i:], m1[i:], m2[i:], &k)
	}
}

// updateGo is the portable loop (and the tail of the AVX2 path). The explicit float32 conversions
// forbid the compiler from fusing a multiplication and an addition (as it may on arm64, say).
func updateGo(p, g, m1, m2 []float32, k *kconsts) {
	g, m1, m2 = g[:len(p)], m1[:len(p)], m2[:len(p)]
	clip, b1, c1, b2, c2 := k.clip, k.b1, k.c1, k.b2, k.c2
	sqrtBc2, eps, decay, stepSize := k.sqrtBc2, k.eps, k.decay, k.stepSize
	for j := range p {
		gj := g[j] * clip
		a := float32(b1*m1[j]) + float32(c1*gj)
		m1[j] = a
		v := float32(b2*m2[j]) + float32(float32(c2*gj)*gj)
		m2[j] = v
		den := float32(sqrt32(v)/sqrtBc2) + eps
		p[j] = float32(p[j]*decay) - float32(stepSize*a)/den
	}
}

// sumLanes is the number of interleaved partial sums of SumSquares: element j goes to lane j%32.
const sumLanes = 32

// SumSquares returns Σ float64(g[j])². Element j is added to partial sum j mod 32 (in increasing
// j), and the 32 partial sums are then folded pairwise (lane i += lane i+16, then +8, +4, +2, +1).
// Every square is exact in float64, so the result depends only on g — not on the kernel, the CPU
// or the architecture — and differs from the sequential sum only by reassociation: the relative
// difference is bounded by about (len(g)/32 + len(g)) · 2⁻⁵³ and is typically far smaller (around
// 1e-14 for a million random values).
func SumSquares(g []float32) float64 {
	var acc [sumLanes]float64
	i := 0
	if level > levelGo {
		i = sumSquaresVec(g, &acc)
	}
	sumSquaresGo(g, i, &acc)
	for w := sumLanes / 2; w > 0; w >>= 1 {
		for l := range w {
			acc[l] += acc[l+w]
		}
	}
	return acc[0]
}

// sumSquaresGo adds float64(g[j])² to acc[j%32] for j >= from (from a multiple of 32).
func sumSquaresGo(g []float32, from int, acc *[sumLanes]float64) {
	j := from
	for ; j+sumLanes <= len(g); j += sumLanes {
		b := (*[sumLanes]float32)(g[j : j+sumLanes])
		for l, v := range b {
			x := float64(v)
			acc[l] += x * x
		}
	}
	for l, v := range g[j:] {
		x := float64(v)
		acc[l] += x * x
	}
}
