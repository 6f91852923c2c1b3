package osf_test

import (
	"fmt"

	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/osf"
)

// The leading singular direction of a weight, which an OSF round's update must stay orthogonal to.
func ExampleLeading() {
	W := &model.Tensor{Shape: []int{2, 3}, Data: []float32{3, 0, 0, 0, 1, 0}}
	s := osf.Leading(W, 1)
	fmt.Printf("kept %d; u·σ·v rebuilds W[0][0]: %.3g\n", s.V.Shape[0], 3*s.U.Data[0]*s.V.Data[0])
	// Output:
	// kept 1; u·σ·v rebuilds W[0][0]: 3
}
