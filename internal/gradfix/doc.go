// Package gradfix registers correct, fast gradient rules for the GoMLX v0.26.0 ops whose stock rules
// are wrong or unusable on the pure-Go backend (DotGeneral, Slice, Rsqrt). Importing it for its side
// effects is enough; package model does so.
package gradfix
