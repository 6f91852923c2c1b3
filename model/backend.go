package model

import (
	"fmt"
	"os"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // the embedded default backend
	_ "github.com/gomlx/gomlx/backends/xla"      // used only when GOMLX_BACKEND names it

	_ "github.com/accrete/accrete/internal/cpubackend" // accrete's own fast CPU backend ("accrete")
	_ "github.com/accrete/accrete/internal/gradfix"    // correct, fast gradients on v0.26.0
)

// DefaultBackendConfig is the backend used when GOMLX_BACKEND is unset: "accrete", the project's own
// pure-Go CPU backend (internal/cpubackend: blocked SGEMM with AVX-512 or AVX2/FMA micro-kernels and
// a pure-Go fallback, verified op by op and gradient by gradient against GoMLX's stock backend; see
// BENCHMARKS.md for its speed).
// GOMLX_BACKEND=go:ops_sequential selects GoMLX's stock pure-Go backend, always with sequential op
// execution (its parallel-ops mode deadlocks on 2 cores in v0.26.0).
const DefaultBackendConfig = "accrete"

// NewBackend returns the backend named by GOMLX_BACKEND (for example "xla:cuda", "xla:cpu" or
// "xla:/abs/path/pjrt_c_api_cpu_plugin.so") or, when it is unset or empty, DefaultBackendConfig.
// It never calls backends.New() bare, which would pick XLA and try to download a plugin.
func NewBackend() (backends.Backend, error) {
	cfg := os.Getenv(backends.ConfigEnvVar)
	if cfg == "" {
		cfg = DefaultBackendConfig
	}
	b, err := backends.NewWithConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("model: creating backend %q (from %s or the default): %w", cfg, backends.ConfigEnvVar, err)
	}
	return b, nil
}

var shared struct {
	once sync.Once
	b    backends.Backend
	err  error
}

// Backend returns a process-wide backend created once with NewBackend. Most programs need only one.
func Backend() (backends.Backend, error) {
	shared.once.Do(func() { shared.b, shared.err = NewBackend() })
	return shared.b, shared.err
}
