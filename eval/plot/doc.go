// Package plot draws the figures of package eval's results as PNG, SVG or PDF files with
// gonum.org/v1/plot.
//
// # Overview
//
// Bars draws the figure of arXiv 2410.14753 (Lee & Wynter, "Collaboratively adding new knowledge to an
// LLM"): per method, acquisition on held-out phrasings (and on the trained ones, when measured) and
// retention of the base model's knowledge, side by side, with 95% intervals for results aggregated
// over seeds. Matrix draws an eval.Matrix as a heat map, one row per round. Frontier draws the
// acquisition-retention frontier of a learning-rate sweep. Scatter draws groups of points with their
// least-squares lines (how a measure goes with an outcome, e.g. merge interference against forgetting).
// Each returns a gonum *plot.Plot (imported here as gplot) to adjust or to write with Save, or with
// SaveGrid as panels of one figure; SaveReport writes an eval.Report and all its figures into a
// directory.
//
// # Invariants
//
// Undefined scores (NaN) draw nothing and are labelled "n/a" or "–", never drawn as 0. Files are
// written atomically: a temporary file in the same directory, synced and renamed.
//
// The package exists so that package eval, and the packages that use it for scoring, do not depend on
// gonum.org/v1/plot, its fonts and its LaTeX renderer; only programs that draw import it. It computes
// nothing: every number it draws comes from package eval.
package plot
