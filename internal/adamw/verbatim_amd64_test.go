//go:build amd64 && !amd64.v3

package adamw

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUpdateMatchesPlainLoop compares every level with the plain Go loop lora's optimizer ran
// before it called Update, written without conversions: on amd64 below GOAMD64=v3 the compiler
// never fuses multiply-adds, so this is the exact historical result.
func TestUpdateMatchesPlainLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 15, 16, 17, 63, 64, 65, 4099} {
		h := randHyper(r)
		p, g, m1, m2 := randSlice(r, n, 0.1), randSlice(r, n, 0.01), randSlice(r, n, 1e-3), randSlice(r, n, 1e-6)
		for i := range m2 {
			m2[i] = float32(math.Abs(float64(m2[i])))
		}
		wp, wm1, wm2 := append([]float32(nil), p...), append([]float32(nil), m1...), append([]float32(nil), m2...)
		b1, b2, cl, sqrtBc2, eps, decay, stepSize := h.B1, h.B2, h.Clip, h.SqrtBc2, h.Eps, h.Decay, h.StepSize
		for j := range wp {
			gj := g[j] * cl
			wm1[j] = b1*wm1[j] + (1-b1)*gj
			wm2[j] = b2*wm2[j] + (1-b2)*gj*gj
			den := float32(math.Sqrt(float64(wm2[j])))/sqrtBc2 + eps
			wp[j] = wp[j]*decay - stepSize*wm1[j]/den
		}
		for _, l := range levels() {
			gp, gm1, gm2 := append([]float32(nil), p...), append([]float32(nil), m1...), append([]float32(nil), m2...)
			forceLevel(t, l, func() { Update(gp, g, gm1, gm2, h) })
			for j := range n {
				if !sameBits(gp[j], wp[j]) || !sameBits(gm1[j], wm1[j]) || !sameBits(gm2[j], wm2[j]) {
					t.Fatalf("%s n=%d j=%d: got p=%g m1=%g m2=%g, want p=%g m1=%g m2=%g",
						levelNames[l], n, j, gp[j], gm1[j], gm2[j], wp[j], wm1[j], wm2[j])
				}
			}
		}
	}
}
