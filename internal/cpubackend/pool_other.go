//go:build !unix

package cpubackend

// Without memory maps every buffer is an ordinary Go slice.

func mapF32(n int) []float32 { return nil }

func isMapped(s []float32) bool { return false }

func unmapF32(s []float32) {}
