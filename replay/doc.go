// Package replay trains any sequential strategy with replayed examples of earlier tasks mixed into
// each round's training set (fully cooperative).
//
// # Overview
//
// Wrap(base, cfg) returns a strategy that, in round n, trains base on the current task's items plus,
// for every earlier task, round(Ratio × |current task|) of its items: the paper's w_hist replay
// ("Collaboratively adding new knowledge to an LLM", Lee & Wynter, arXiv 2410.14753), where each past
// task contributes w_hist × |D_current| samples, drawn with repetition when the past task is smaller.
// The mixed set is shuffled with a generator seeded by Config.Seed and the round index, so a run is
// reproducible and every round gets a fresh order.
//
// With Config.Budget > 0 the earlier tasks are not kept whole: a Buffer keeps at most Budget of their
// items by reservoir sampling (Vitter's Algorithm R), so every item seen so far is in the buffer with
// the same probability — the "tiny episodic memory" of experience replay for continual learning
// (Chaudhry et al., "On Tiny Episodic Memories in Continual Learning", arXiv 1902.10486; Rolnick et
// al., "Experience Replay for Continual Learning", NeurIPS 2019, arXiv 1811.11682). The replayed
// items are then drawn from the buffer.
//
// # Invariants
//
//   - Wrap never modifies the slices it is handed; the base strategy gets new ones.
//   - The base strategy sees Round.History only if it is itself accrete.FullyCooperative.
//   - Every draw comes from a seeded generator (math/rand/v2 PCG): the same seed and inputs give the
//     same rounds, also across a checkpoint and resume (the buffer's generator state is saved).
//
// # Not for
//
// Semi-cooperative settings, where a task's data is gone after its round: replay keeps it by design.
package replay
