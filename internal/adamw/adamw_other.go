//go:build !amd64

package adamw

// No assembly kernels on this architecture: Update and SumSquares run the Go loops.

func detectLevel() int { return levelGo }

func updateVec(p, g, m1, m2 []float32, k *kconsts) int      { return 0 }
func sumSquaresVec(g []float32, acc *[sumLanes]float64) int { return 0 }
