//go:build !amd64

package cpubackend

var hasFMA = false // no assembly kernel on this architecture

func microKernel(k int, a, b, c []float32, ldc int) { microKernelGo(k, a, b, c, ldc) }
