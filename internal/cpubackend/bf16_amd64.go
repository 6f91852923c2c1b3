//go:build amd64

package cpubackend

import (
	"unsafe"

	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
)

//go:noescape
func widenBF16AVX512(dst *float32, src *uint16, n int)

//go:noescape
func widenBF16AVX2(dst *float32, src *uint16, n int)

// widenBF16 widens the longest prefix of src it can with SIMD and returns how many it did.
func widenBF16(dst []float32, src []bfloat16.BFloat16) int {
	var n int
	switch {
	case vecLevel >= vecAVX512:
		n = len(src) &^ 31
		if n > 0 {
			widenBF16AVX512(unsafe.SliceData(dst), (*uint16)(unsafe.Pointer(unsafe.SliceData(src))), n)
		}
	case vecLevel >= vecAVX2:
		n = len(src) &^ 15
		if n > 0 {
			widenBF16AVX2(unsafe.SliceData(dst), (*uint16)(unsafe.Pointer(unsafe.SliceData(src))), n)
		}
	}
	return n
}
