package adamw_test

import (
	"fmt"
	"math"

	"github.com/accrete/accrete/internal/adamw"
)

// The first AdamW step moves every parameter by about the learning rate against the sign of its
// gradient, whatever the gradient's size (the bias-corrected m1/√m2 is ±1), and weight decay first
// shrinks the parameter by 1 − lr·λ.
func ExampleUpdate_firstStep() {
	const lr, decay, b1, b2 = 0.1, 0.5, 0.9, 0.999
	p := []float32{1, 1, 1}
	g := []float32{0.001, -3, 50}
	m1, m2 := make([]float32, 3), make([]float32, 3)
	norm := math.Sqrt(adamw.SumSquares(g))
	adamw.Update(p, g, m1, m2, adamw.Hyper{
		B1: b1, B2: b2, Clip: 1, Decay: 1 - lr*decay,
		StepSize: lr / (1 - b1), SqrtBc2: float32(math.Sqrt(1 - b2)), Eps: 1e-8,
	})
	fmt.Printf("gradient norm %.4g\n", norm)
	fmt.Printf("parameters %.4g %.4g %.4g\n", p[0], p[1], p[2])
	// Output:
	// gradient norm 50.09
	// parameters 0.85 1.05 0.85
}
