//go:build unix

package cpubackend

import (
	"sync"
	"syscall"
	"unsafe"
)

// mapped holds the memory maps behind the buffers mapF32 made, by address of their first element.
var mapped sync.Map // uintptr -> []byte

// mapF32 returns n float32s in a fresh anonymous memory map (zeroed), or nil if mapping fails.
func mapF32(n int) []float32 {
	m, err := syscall.Mmap(-1, 0, 4*n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	s := unsafe.Slice((*float32)(unsafe.Pointer(&m[0])), n)
	mapped.Store(uintptr(unsafe.Pointer(&m[0])), m)
	return s
}

// isMapped reports whether s is a buffer made by mapF32.
func isMapped(s []float32) bool {
	if len(s) < minMapped {
		return false
	}
	_, ok := mapped.Load(uintptr(unsafe.Pointer(&s[0])))
	return ok
}

// unmapF32 releases a buffer made by mapF32 (others are left to the garbage collector).
func unmapF32(s []float32) {
	if len(s) < minMapped {
		return
	}
	if m, ok := mapped.LoadAndDelete(uintptr(unsafe.Pointer(&s[0]))); ok {
		_ = syscall.Munmap(m.([]byte))
	}
}
