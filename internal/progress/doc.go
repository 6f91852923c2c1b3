// Package progress prints a one-line progress bar with rate and ETA, rewritten in place on a terminal
// and as periodic plain lines elsewhere (logs, CI).
//
// # Overview
//
// [New] makes a [Bar] over a known number of steps and [Bar.Update] reports the steps done. On a
// terminal the line is redrawn at most every 100 ms; on any other writer a plain line is written at
// most every 10 s, and always for the last step. A nil *Bar, or one with a nil writer, is silent, so
// callers need no check. It is for accrete's own packages (lora.Train's bar) and programs.
package progress
