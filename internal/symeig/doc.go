// Package symeig computes the eigendecomposition of a small dense symmetric matrix on the host, in
// float64, for the continual-learning strategies that need a subspace of a covariance (inflora's input
// subspaces, osf's singular subspaces of a weight): Householder tridiagonalisation and the implicit QL
// method, about ten n³ flops, tested against the cyclic Jacobi method it replaced.
//
// It is exact to float64 rounding and suits matrices of up to a few thousand rows; it is for accrete's
// own packages only.
package symeig
