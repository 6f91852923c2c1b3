package model

import (
	"context"
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// GenerateDraft is greedy Generate given a draft of each continuation: a guess at the tokens it
// generates (a reference answer, say). The prompts and their drafts are prefilled in one pass whose
// logits at every draft position check the draft the way speculative decoding does: greedy decoding
// follows a draft for as long as each draft token is the argmax after the tokens before it, so a row
// whose draft is followed to a stop (a stop token, opt.Stop, or MaxNewTokens) needs no decoding step,
// and any other row continues decoding from the first token that leaves its draft, with the cache of
// the draft tokens it kept. The result is Generate's (the same tokens, up to float rounding in the
// logits, since the kept draft tokens' keys and values come from the prefill rather than from one
// step each); drafts only change how many decoding steps run. A nil or empty draft checks nothing.
//
// It also computes less than Generate without drafts: the decoding steps run in a batch that shrinks
// (to the next power of two) as rows finish, and the prefill is padded to a multiple of 8 tokens
// (draftBucket) rather than to a power of two. With opt.Temperature > 0 the drafts are ignored and it
// is Generate.
func (m *Model) GenerateDraft(ctx context.Context, prompts, drafts [][]int, opt GenerateOptions) ([][]int, error) {
	if opt.Temperature > 0 {
		return m.Generate(ctx, prompts, opt)
	}
	if len(prompts) == 0 {
		return nil, nil
	}
	if drafts != nil && len(drafts) != len(prompts) {
		return nil, fmt.Errorf("model: GenerateDraft: %d drafts for %d prompts", len(drafts), len(prompts))
	}
	if err := m.checkTokens(prompts); err != nil {
		return nil, err
	}
	if err := m.checkTokens(drafts); err != nil {
		return nil, fmt.Errorf("model: GenerateDraft: draft: %w", err)
	}
	maxNew, stops := opt.limits(m.Config)
	if err := m.checkPrompts("GenerateDraft", prompts, maxNew); err != nil {
		return nil, err
	}
	cfg := m.Config
	n := len(prompts)
	// The prefill returns the logits of its last K columns, [B, K, V], which hold every row's checked
	// positions: a draft is checked up to K−1 tokens, and K is kept to at most 1<<24 floats (64 MiB)
	// of logits. A draft is never checked past maxNew−1 tokens either: the last token generated is
	// predicted after the first maxNew−1.
	V := cfg.VocabSize
	B := batchBucket(n)
	maxDraft := 0
	for b := range drafts {
		maxDraft = max(maxDraft, min(len(drafts[b]), maxNew-1))
	}
	K := Bucket(maxDraft + 1)
	for K > 1 && B*K*V > 1<<24 {
		K /= 2
	}
	rows := make([][]int, n) // prompt then draft
	nDraft := make([]int, n)
	maxRow := 1
	for b, p := range prompts {
		var d []int
		if drafts != nil {
			d = drafts[b][:min(len(drafts[b]), maxNew-1, K-1)]
		}
		rows[b] = append(slices.Clip(p), d...)
		nDraft[b] = len(d)
		maxRow = max(maxRow, len(rows[b]))
	}
	S := draftBucket(maxRow)
	K = min(K, S)
	L := cacheBucket(S + maxNew)

	tok, pos, cachePos := prefillLayout(rows, B, S, L) // prompt+draft right-aligned
	lt, caches, err := m.step(B, S, L, K, tok, pos, cachePos, 0, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range caches {
			c.(*tensors.Tensor).FinalizeAll()
		}
	}()

	// Follow each row's draft through the prefill's logits.
	out := make([][]int, n)
	done := make([]bool, n)
	next := make([]int32, n) // position of the row's last generated token, fed to the next step
	// add appends id to row b as Generate's loop does and reports whether the row is finished.
	add := func(b, id int) bool {
		if slices.Contains(stops, id) {
			return true
		}
		out[b] = append(out[b], id)
		return opt.Stop != nil && opt.Stop(b, out[b]) || len(out[b]) == maxNew
	}
	readLogits(lt, func(logits []float32) {
		for b := range prompts {
			p := prompts[b]
			first := K - nDraft[b] - 1 // the prompt's last token, among the last K columns
			for i := 0; ; i++ {
				id := sample(logits[(b*K+first+i)*V:(b*K+first+i+1)*V], opt, nil)
				if done[b] = add(b, id); done[b] {
					break
				}
				if i < nDraft[b] && id == rows[b][len(p)+i] {
					continue
				}
				// The row leaves its draft at id: drop the cache of the draft tokens it did not keep.
				for t := len(p) + i; t < len(rows[b]); t++ {
					cachePos[b*L+S-len(rows[b])+t] = -1
				}
				next[b] = int32(len(p) + i)
				break
			}
		}
	})

	// Decode the rows left, one token per step, as Generate does, in a batch that shrinks as rows
	// finish: slot[r] is the row of batch slot r (−1: none).
	slot := make([]int, B)
	for r := range slot {
		slot[r] = -1
		if r < n && !done[r] {
			slot[r] = r
		}
	}
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		left := 0
		for _, b := range slot {
			if b >= 0 {
				left++
			}
		}
		if left == 0 {
			break
		}
		if nb := batchBucket(left); nb < len(slot) {
			slot, cachePos, caches, err = m.compact(slot, nb, L, cachePos, caches)
			if err != nil {
				return nil, err
			}
		}
		nb := len(slot)
		tok1 := make([]int32, nb)
		pos1 := make([]int32, nb)
		for r, b := range slot {
			pos1[r] = -1
			if b < 0 {
				continue
			}
			tok1[r], pos1[r] = int32(out[b][len(out[b])-1]), next[b]
			cachePos[r*L+S+step] = next[b]
			next[b]++
		}
		lt, caches, err = m.step(nb, 1, L, 1, tok1, pos1, cachePos, S+step, caches)
		if err != nil {
			return nil, err
		}
		readLogits(lt, func(logits []float32) {
			for r, b := range slot {
				if b >= 0 && add(b, sample(logits[r*V:(r+1)*V], opt, nil)) {
					done[b] = true
					slot[r] = -1
				}
			}
		})
	}
	return out, nil
}

// compact moves the rows of the batch slots still in use (slot[r] ≥ 0) to the first slots of a batch
// of nb, with their cache positions [len(slot), L] and, by a gather on the backend, their caches
// [len(slot), kv, L, hd], so that the decoding steps left compute only them. The caches given are
// consumed.
func (m *Model) compact(slot []int, nb, L int, cachePos []int32, caches []any) ([]int, []int32, []any, error) {
	B := len(slot)
	newSlot := make([]int, nb)
	newPos := make([]int32, nb*L)
	idx := make([]int32, nb)
	for i := range newPos {
		newPos[i] = -1
	}
	for i := range newSlot {
		newSlot[i] = -1
	}
	i := 0
	for r, b := range slot {
		if b >= 0 {
			newSlot[i], idx[i] = b, int32(r)
			copy(newPos[i*L:(i+1)*L], cachePos[r*L:(r+1)*L])
			i++
		}
	}
	for j := i; j < nb; j++ { // padding slots read a kept row; their positions leave it unseen
		idx[j] = idx[0]
	}
	e, _ := m.program(fmt.Sprintf("compact/%d/%d/%d", B, nb, L), func([]string) *graph.Exec {
		return graph.MustNewExec(m.backend, func(in []*graph.Node) []*graph.Node {
			out := make([]*graph.Node, len(in)-1)
			for k, c := range in[1:] {
				out[k] = graph.Gather(c, in[0])
			}
			return out
		})
	})
	args := append([]any{tensors.FromFlatDataAndDimensions(idx, nb, 1)}, caches...)
	out, err := e.Exec(args...)
	for _, c := range caches {
		c.(*tensors.Tensor).FinalizeAll()
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("model: GenerateDraft: %w", err)
	}
	newCaches := make([]any, len(out))
	for k, t := range out {
		newCaches[k] = t
	}
	return newSlot, newPos, newCaches, nil
}

// draftBucket rounds a prefill's length n up to a multiple of 8 up to 64, and to Bucket(n) past it:
// a draft lengthens the prefill, whose cost grows with its padded length, and a prompt of 14 tokens
// with its draft of 5 then fills 24 columns rather than 32 (for a few more compiled graphs).
func draftBucket(n int) int {
	if n <= 64 {
		return StepBucket(n)
	}
	return Bucket(n)
}
