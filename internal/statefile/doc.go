// Package statefile saves and loads the resume state of the strategies (accrete.Stateful): a JSON
// history and a safetensors file of one tensor per module, each written atomically. Its errors are
// meant to follow the strategy's package name ("ella: " + err).
//
// It is for the strategy packages of this module (orthlora, ewc, ella, inflora, ...), not for
// callers: a strategy's files are read back only by the same strategy's LoadState.
package statefile
