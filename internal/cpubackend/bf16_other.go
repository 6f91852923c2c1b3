//go:build !amd64

package cpubackend

import "github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"

// widenBF16 has no SIMD version here: it widens nothing.
func widenBF16(dst []float32, src []bfloat16.BFloat16) int { return 0 }
