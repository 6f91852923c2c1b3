// Package docnum checks that the numbers a document states are the code's: a test builds each phrase
// from the values the code uses and fails when the document does not say it, so that a change cannot
// leave doc.go or the README silently stale.
//
// # Overview
//
// [Read] returns a file's text with Go comment markers dropped and every run of white space as one
// space, so that a phrase is found across a line break; [Says] fails a test for each phrase a text
// lacks, and [Check] does both for one file. [Thousands] writes a count as the docs do (4,096).
//
// It imports nothing of accrete, so that the tests of any package, the lowest included, can use it.
// It is for tests only.
package docnum
