//go:build unix

package safetensors

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// mapFile maps the file at path read-only, returning its bytes and a function that unmaps them.
func mapFile(path string) ([]byte, func() error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if size != int64(int(size)) {
		return nil, nil, fmt.Errorf("%s: %d bytes cannot be mapped here", path, size)
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}

// dropPages advises the kernel that the whole pages within b (a slice of a mapping from mapFile) are
// not needed; pages b shares with a neighbouring tensor at either end are left alone.
func dropPages(b []byte) {
	if len(b) == 0 {
		return
	}
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := int((page - start%page) % page)            // to the first page boundary within b
	hi := len(b) - int((start+uintptr(len(b)))%page) // back to the last one
	if hi <= lo {
		return
	}
	whole := b[lo:hi]
	_ = syscall.Madvise(whole, syscall.MADV_DONTNEED) // advice only: a failure leaves the pages resident
}
