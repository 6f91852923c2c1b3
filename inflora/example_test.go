package inflora_test

import (
	"fmt"
	"math"

	"github.com/accrete/accrete/inflora"
	"github.com/accrete/accrete/model"
)

// Designing A against a memory: inputs with energy 4, 3 and 1 along e1, e2, e3, with e1 already in the
// memory of earlier rounds. A's row is e2, and the memory then grows to hold 90% of the energy.
func ExampleDesign() {
	c := inflora.Covariance{In: 3, Data: []float64{4, 0, 0, 0, 3, 0, 0, 0, 1}}
	M := &model.Tensor{Shape: []int{1, 3}, Data: []float32{1, 0, 0}}
	A, residual := inflora.Design(c, M, 1)
	fmt.Printf("A = [%.3g %.3g %.3g], energy outside the memory %.3g\n",
		math.Abs(float64(A.Data[0])), math.Abs(float64(A.Data[1])), math.Abs(float64(A.Data[2])), residual)
	fmt.Println("memory rows at ε=0.9:", inflora.Extend(c, M, 0.9).Shape[0])
	// Output:
	// A = [0 1 0], energy outside the memory 0.5
	// memory rows at ε=0.9: 3
}
