//go:build !unix

package safetensors

import "os"

// mapFile reads the file at path into memory (no memory maps here).
func mapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	return data, func() error { return nil }, err
}

// dropPages does nothing where files are read, not mapped.
func dropPages([]byte) {}
