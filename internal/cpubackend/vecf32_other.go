//go:build !amd64

package cpubackend

// No SIMD kernels on this architecture: everything runs the Go loops in vecf32.go / exp32.go.

func detectVecLevel() int { return vecGo }

func binaryVec(op vecOp, out, x, y []float32) int         { return 0 }
func scalarVec(op vecOp, out, x []float32, c float32) int { return 0 }
func sumVec(x []float32) (float32, int)                   { return 0, 0 }
func maxVec(x []float32) (float32, bool, int)             { return 0, false, 0 }
func expVec(op opKind, out, x []float32) bool             { return false }
