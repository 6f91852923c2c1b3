package safetensors

import (
	"errors"
	"syscall"
)

// isUnsupportedSync reports whether a directory fsync failed only because the platform or file
// system does not support it (EINVAL on some Linux file systems, and Windows).
func isUnsupportedSync(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EBADF)
}
