//go:build !unix

package lora

// lockFile is a no-op where flock is not available: the store then assumes a single writing
// process, as documented on Store.
func lockFile(string) (func(), error) { return func() {}, nil }
