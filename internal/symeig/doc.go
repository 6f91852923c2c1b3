// Package symeig computes the eigendecomposition of a small dense symmetric matrix on the host, by
// cyclic Jacobi rotations in float64, for the continual-learning strategies that need a subspace of
// a covariance (inflora's input subspaces, osf's singular subspaces of a weight).
//
// It is exact to float64 rounding and costs about n³ per sweep (a handful of sweeps), so it suits
// matrices of up to a few thousand rows; it is for accrete's own packages only.
package symeig
