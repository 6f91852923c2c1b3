package cpubackend

import (
	"reflect"
	"unsafe"
)

// unsafeBytes views the first n bytes of a flat slice's storage.
func unsafeBytes(flat any, n int) []byte {
	return unsafe.Slice((*byte)(reflect.ValueOf(flat).UnsafePointer()), n)
}
