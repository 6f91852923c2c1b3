// Package cli holds the plumbing that accrete's example study programs (examples/moe, orthlora,
// replay, merge) share: the common flags, their checks, loading the base model and the knowledge
// packs into a learner, and the run wrapper with its exit codes.
//
// # Overview
//
// A program registers the common flags next to its own ones with [Common.Register], parses with
// [Common.Parse], checks its own flags and then [Common.Validate], builds its learner and tasks
// with [Common.Setup], and wraps it all with [Main]. The studies follow "Collaboratively adding new
// knowledge to an LLM" (Lee & Wynter, arXiv 2410.14753).
//
// The package is for the example programs only; it is not an API of accrete. It lives under
// examples/internal, beside the programs, so that the module's internal/ holds only the library's low
// layers.
package cli
