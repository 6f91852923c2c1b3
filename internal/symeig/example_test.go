package symeig_test

import (
	"fmt"
	"math"

	"github.com/accrete/accrete/internal/symeig"
)

// The 2×2 matrix [[2, 1], [1, 2]] has eigenvalues 3 and 1, with eigenvectors (1, 1)/√2 and
// (1, −1)/√2 (each up to its sign).
func ExampleDecompose_twoByTwo() {
	vals, vecs := symeig.Decompose([]float64{2, 1, 1, 2}, 2)
	fmt.Printf("eigenvalues %.4g %.4g\n", vals[0], vals[1])
	for i := range 2 {
		v := vecs[i*2 : i*2+2]
		s := math.Copysign(1, v[0]) // fix the sign for printing
		fmt.Printf("eigenvector %d: (%.4f, %.4f)\n", i, s*v[0], s*v[1])
	}
	// Output:
	// eigenvalues 3 1
	// eigenvector 0: (0.7071, 0.7071)
	// eigenvector 1: (0.7071, -0.7071)
}
