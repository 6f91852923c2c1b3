package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Bucket rounds n up to the next length bucket (powers of two from 8), so that a few compiled graphs
// serve every length. It is the T that PadBatch and PadBatchTo pad to, and so the sequence length that
// training and scoring compile for, which a memory plan needs.
func Bucket(n int) int {
	b := 8
	for b < n {
		b *= 2
	}
	return b
}

// cacheBucket is the KV cache length Generate compiles for n positions (prompt bucket + new tokens):
// Bucket's powers of two up to 64, then four steps per doubling (… 128, 160, 192, 224, 256, 320 …),
// so that a cache is at most 25% longer than it needs (16 + 128 positions take 160, not 256). One
// prompt bucket and MaxNewTokens give one length, so this adds no compiled graphs.
func cacheBucket(n int) int {
	if n <= 64 {
		return Bucket(n)
	}
	return quarterOctave(n)
}

// StepBucket rounds a training sequence's length n up to a multiple of 8 up to 64, then to four steps
// per doubling (80, 96, 112, 128, 160, …): a batch is padded by at most 7 tokens, or 25% past 64,
// rather than up to twice its length as with Bucket, for a few more compiled graphs. It is the T
// lora.Train pads a batch to.
func StepBucket(n int) int {
	if n <= 64 {
		return max(8, (n+7)/8*8)
	}
	return quarterOctave(n)
}

// quarterOctave rounds n > 64 up to a multiple of a quarter of the power of two below it.
func quarterOctave(n int) int {
	p := 64
	for 2*p < n {
		p *= 2
	}
	step := p / 4
	return (n + step - 1) / step * step
}

func batchBucket(n int) int {
	b := 1
	for b < n {
		b *= 2
	}
	return b
}

// PadBatch lays out token sequences right-padded into [B, T] int32 tokens and positions (−1 on padding),
// with B and T rounded up to their buckets.
func PadBatch(seqs [][]int) (tokens, positions []int32, B, T int) {
	B = batchBucket(len(seqs))
	tokens, positions, T = PadBatchTo(seqs, B)
	return tokens, positions, B, T
}

// PadBatchTo is PadBatch with the batch size given: B ≥ len(seqs) rows, the rows past the sequences
// all padding. T is the length bucket of the longest sequence.
func PadBatchTo(seqs [][]int, B int) (tokens, positions []int32, T int) {
	maxLen := 1
	for _, s := range seqs {
		maxLen = max(maxLen, len(s))
	}
	T = Bucket(maxLen)
	tokens, positions = PadBatchLen(seqs, B, T)
	return tokens, positions, T
}

// PadBatchLen is PadBatchTo with the padded length given: T ≥ every sequence's length (lora.Train
// pads to StepBucket's).
func PadBatchLen(seqs [][]int, B, T int) (tokens, positions []int32) {
	tokens = make([]int32, B*T)
	positions = make([]int32, B*T)
	for i := range positions {
		positions[i] = -1
	}
	for b, s := range seqs {
		for t, id := range s {
			tokens[b*T+t] = int32(id)
			positions[b*T+t] = int32(t)
		}
	}
	return tokens, positions
}

// checkPrompts refuses, for fn (Generate or GenerateDraft), an empty prompt and one whose tokens with
// maxNew more pass the model's max_position_embeddings.
func (m *Model) checkPrompts(fn string, prompts [][]int, maxNew int) error {
	ctxLen := m.Config.MaxPositionEmbeddings
	for i, p := range prompts {
		if len(p) == 0 {
			return fmt.Errorf("model: %s: empty prompt", fn)
		}
		if ctxLen > 0 && len(p)+maxNew > ctxLen {
			return fmt.Errorf("model: %s: prompt %d has %d tokens; with MaxNewTokens %d that passes the model's max_position_embeddings %d (shorten the prompt or ask for fewer tokens)",
				fn, i, len(p), maxNew, ctxLen)
		}
	}
	return nil
}

// checkTokens refuses token ids outside the vocabulary and sequences longer than the model's context
// (max_position_embeddings, when the config sets it), before anything is allocated for them.
func (m *Model) checkTokens(seqs [][]int) error {
	V := m.Config.VocabSize
	for i, s := range seqs {
		if L := m.Config.MaxPositionEmbeddings; L > 0 && len(s) > L {
			return fmt.Errorf("model: sequence %d has %d tokens, more than the model's max_position_embeddings %d", i, len(s), L)
		}
		for j, id := range s {
			if id < 0 || id >= V {
				return fmt.Errorf("model: sequence %d position %d: token %d outside the vocabulary [0, %d)", i, j, id, V)
			}
		}
	}
	return nil
}

// Logits runs the full forward pass on each sequence and returns its logits, [len(seq)][vocab].
func (m *Model) Logits(seqs [][]int) ([][][]float32, error) {
	if err := m.checkTokens(seqs); err != nil {
		return nil, err
	}
	tok, pos, B, T := PadBatch(seqs)
	e, names := m.program(fmt.Sprintf("logits/%dx%d", B, T), func(names []string) *graph.Exec {
		return graph.MustNewExec(m.backend, func(in []*graph.Node) *graph.Node {
			p := BuildParams(names, in)
			n := len(names)
			h, _ := Forward(m.Config, p, ForwardInput{Tokens: in[n], Positions: in[n+1], Hook: m.Hook(p)})
			return Logits(m.Config, p, h)
		})
	})
	out, err := m.exec(e, names, tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T))
	if err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	if err != nil {
		return nil, err
	}
	V := m.Config.VocabSize
	res := make([][][]float32, len(seqs))
	for b, s := range seqs {
		res[b] = make([][]float32, len(s))
		for t := range s {
			off := (b*T + t) * V
			res[b][t] = flat[off : off+V : off+V]
		}
	}
	return res, nil
}

// TokenLogProbs returns, for each sequence s, log p(s[t+1] | s[:t+1]) for t < len(s)−1.
func (m *Model) TokenLogProbs(seqs [][]int) ([][]float32, error) {
	if err := m.checkTokens(seqs); err != nil {
		return nil, err
	}
	tok, pos, B, T := PadBatch(seqs)
	tgt := make([]int32, B*T)
	for i := range tgt {
		tgt[i] = -1
	}
	for b, s := range seqs {
		for t := 0; t+1 < len(s); t++ {
			tgt[b*T+t] = int32(s[t+1])
		}
	}
	e, names := m.program(fmt.Sprintf("logprobs/%dx%d", B, T), func(names []string) *graph.Exec {
		return graph.MustNewExec(m.backend, func(in []*graph.Node) *graph.Node {
			p := BuildParams(names, in)
			n := len(names)
			h, _ := Forward(m.Config, p, ForwardInput{Tokens: in[n], Positions: in[n+1], Hook: m.Hook(p)})
			return TokenLogProbs(Logits(m.Config, p, h), in[n+2])
		})
	})
	out, err := m.exec(e, names, tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(tgt, B, T))
	if err != nil {
		return nil, fmt.Errorf("model: forward: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	if err != nil {
		return nil, err
	}
	res := make([][]float32, len(seqs))
	for b, s := range seqs {
		n := max(len(s)-1, 0)
		res[b] = slices.Clone(flat[b*T : b*T+n])
	}
	return res, nil
}

// GenerateOptions configures Generate. The zero value decodes greedily up to 32 new tokens and stops at
// the config's EOS tokens.
type GenerateOptions struct {
	// MaxNewTokens bounds the generated tokens per sequence. Default (0): 32.
	MaxNewTokens int
	// Temperature divides the logits before sampling. 0 (default): greedy decoding.
	Temperature float64
	// TopK keeps only the K most likely tokens when sampling. 0 (default): no limit.
	TopK int
	// TopP keeps the smallest set of tokens whose probability reaches TopP. 0 or 1 (default): no limit.
	TopP float64
	// Seed seeds the sampler (math/rand/v2 PCG) when Rand is nil. Default 0.
	Seed uint64
	// Rand, when set, is the sampler's source instead of Seed.
	Rand *rand.Rand
	// StopTokens end a sequence (they are not returned). nil: the config's EOS tokens; empty non-nil: none.
	StopTokens []int
	// Stop, when set, is asked after each new token whether row (the index into prompts) is finished,
	// given its tokens so far (do not keep the slice); the token that ended it is kept.
	Stop func(row int, generated []int) bool
}

// Generate continues each prompt and returns the new tokens of each (without the stop token). All
// prompts decode together through a KV cache: the prompts are prefilled in one pass (left-padded), then
// one token per step. Graphs are compiled per (batch, prompt, cache) bucket and reused.
func (m *Model) Generate(ctx context.Context, prompts [][]int, opt GenerateOptions) ([][]int, error) {
	if len(prompts) == 0 {
		return nil, nil
	}
	if err := m.checkTokens(prompts); err != nil {
		return nil, err
	}
	maxNew, stops := opt.limits(m.Config)
	rng := opt.Rand
	if rng == nil {
		rng = rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	}
	if err := m.checkPrompts("Generate", prompts, maxNew); err != nil {
		return nil, err
	}
	cfg := m.Config
	n := len(prompts)
	maxPrompt := 1
	for _, p := range prompts {
		maxPrompt = max(maxPrompt, len(p))
	}
	B, S := batchBucket(n), Bucket(maxPrompt)
	L := cacheBucket(S + maxNew)

	tok, pos, cachePos := prefillLayout(prompts, B, S, L)
	next := make([]int32, B) // next position per row
	for b, p := range prompts {
		next[b] = int32(len(p))
	}
	out := make([][]int, n)
	done := make([]bool, n)
	// The prefill creates the KV caches (zeros, on the backend); every later step takes them donated
	// and returns them updated.
	logits, caches, err := m.step(B, S, L, 1, tok, pos, cachePos, 0, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range caches {
			c.(*tensors.Tensor).FinalizeAll()
		}
	}()
	V := cfg.VocabSize
	tok1 := make([]int32, B)
	pos1 := make([]int32, B)
	ids := make([]int, n)
	for step := 0; step < maxNew; step++ {
		if err := ctx.Err(); err != nil {
			logits.FinalizeAll()
			return nil, err
		}
		readLogits(logits, func(flat []float32) {
			for b := range n {
				if !done[b] {
					ids[b] = sample(flat[b*V:(b+1)*V], opt, rng)
				}
			}
		})
		for b := range pos1 {
			tok1[b], pos1[b] = 0, -1
		}
		active := false
		for b := range n {
			if done[b] {
				continue
			}
			id := ids[b]
			if slices.Contains(stops, id) {
				done[b] = true
				continue
			}
			out[b] = append(out[b], id)
			if opt.Stop != nil && opt.Stop(b, out[b]) {
				done[b] = true
				continue
			}
			if step == maxNew-1 {
				continue
			}
			active = true
			tok1[b], pos1[b] = int32(id), next[b]
			cachePos[b*L+S+step] = next[b]
			next[b]++
		}
		if !active || step == maxNew-1 {
			break
		}
		logits, caches, err = m.step(B, 1, L, 1, tok1, pos1, cachePos, S+step, caches)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// step runs one prefill (T = S, caches nil: the graph creates them) or decode (T = 1) step of
// Generate or GenerateDraft and returns the logits of the last K positions [B, K, V] and the updated
// caches, all on the backend. The caches given are donated (consumed) whether or not the step
// succeeds.
func (m *Model) step(B, T, L, K int, tok, pos, cachePos []int32, start int, caches []any) (*tensors.Tensor, []any, error) {
	cfg := m.Config
	nl := cfg.NumHiddenLayers
	prefill := caches == nil
	key := fmt.Sprintf("step/%dx%d/%d/%d", B, T, L, K)
	if prefill {
		key = fmt.Sprintf("prefill/%dx%d/%d/%d", B, T, L, K)
	}
	e, names := m.program(key, func(names []string) *graph.Exec {
		return graph.MustNewExec(m.backend, func(in []*graph.Node) []*graph.Node {
			p := BuildParams(names, in)
			k := len(names)
			cs := make([]KVCache, nl)
			shape := shapesOf(B, cfg.NumKeyValueHeads, L, cfg.HeadDim)
			for l := range nl {
				if prefill {
					cs[l] = KVCache{K: graph.Zeros(in[k].Graph(), shape), V: graph.Zeros(in[k].Graph(), shape)}
				} else {
					cs[l] = KVCache{K: in[k+4+2*l], V: in[k+5+2*l]}
				}
			}
			h, newCaches := Forward(cfg, p, ForwardInput{Tokens: in[k], Positions: in[k+1], Hook: m.Hook(p),
				Cache: cs, CachePositions: in[k+2], Start: in[k+3]})
			last := graph.Slice(h, graph.AxisRange(), graph.AxisRange(T-K, T), graph.AxisRange())
			outs := []*graph.Node{Logits(cfg, p, last)}
			for _, c := range newCaches {
				outs = append(outs, c.K, c.V)
			}
			return outs
		})
	})
	args := []any{tensors.FromFlatDataAndDimensions(tok, B, T), tensors.FromFlatDataAndDimensions(pos, B, T),
		tensors.FromFlatDataAndDimensions(slices.Clone(cachePos), B, L), tensors.FromScalar(int32(start))}
	for _, c := range caches {
		args = append(args, m.donate(c))
	}
	out, err := m.exec(e, names, args...)
	for _, c := range caches {
		c.(*tensors.Tensor).FinalizeAll()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("model: decode step: %w", err)
	}
	newCaches := make([]any, len(out)-1)
	for i, t := range out[1:] {
		newCaches[i] = t
	}
	return out[0], newCaches, nil
}

// prefillLayout lays rows (at most B, each at most S tokens) out right-aligned in a prefill's [B, S]
// tokens and positions (−1 on padding) and the [B, L] cache positions, whose slot index is the
// column: a cache slot holds the position of the token written there, −1 while empty.
func prefillLayout(rows [][]int, B, S, L int) (tok, pos, cachePos []int32) {
	tok = make([]int32, B*S)
	pos = make([]int32, B*S)
	cachePos = make([]int32, B*L)
	for i := range pos {
		pos[i] = -1
	}
	for i := range cachePos {
		cachePos[i] = -1
	}
	for b, r := range rows {
		off := S - len(r)
		for t, id := range r {
			tok[b*S+off+t] = int32(id)
			pos[b*S+off+t] = int32(t)
			cachePos[b*L+off+t] = int32(t)
		}
	}
	return tok, pos, cachePos
}

// readLogits calls read with a step's logits where they lie (the backend's pooled buffer on
// accrete's backend, so a token costs no host copy of them) and then finalizes the tensor.
func readLogits(t *tensors.Tensor, read func(flat []float32)) {
	defer t.FinalizeAll()
	tensors.ConstFlatData(t, read)
}

// donate hands a KV cache tensor's buffer to the step that replaces it, so that a backend that
// writes DynamicUpdateSlice in place (accrete's) need not copy the whole cache every token. The
// tensor is not used again either way; if donation fails the tensor itself is passed.
func (m *Model) donate(c any) any {
	t, ok := c.(*tensors.Tensor)
	if !ok || !m.inPlace {
		return c
	}
	d, err := graph.DonateTensorBuffer(t, m.backend, 0)
	if err != nil {
		return c
	}
	return d
}

// limits are opt's MaxNewTokens and StopTokens with their defaults: 32 tokens, and cfg's
// end-of-sequence tokens.
func (opt GenerateOptions) limits(cfg Config) (maxNew int, stops []int) {
	maxNew, stops = opt.MaxNewTokens, opt.StopTokens
	if maxNew <= 0 {
		maxNew = 32
	}
	if stops == nil {
		stops = cfg.EOSTokenIDs()
	}
	return maxNew, stops
}

// sample picks the next token from one row of logits.
func sample(logits []float32, opt GenerateOptions, rng *rand.Rand) int {
	if opt.Temperature <= 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	if opt.TopK > 0 && opt.TopK < len(idx) {
		idx = idx[:opt.TopK]
	}
	probs := make([]float64, len(idx))
	maxL := float64(logits[idx[0]])
	total := 0.0
	for i, id := range idx {
		probs[i] = math.Exp((float64(logits[id]) - maxL) / opt.Temperature)
		total += probs[i]
	}
	if opt.TopP > 0 && opt.TopP < 1 {
		cum := 0.0
		for i := range probs {
			cum += probs[i] / total
			if cum >= opt.TopP {
				probs, idx = probs[:i+1], idx[:i+1]
				break
			}
		}
		total = 0
		for _, p := range probs {
			total += p
		}
	}
	r := rng.Float64() * total
	for i, p := range probs {
		r -= p
		if r <= 0 {
			return idx[i]
		}
	}
	return idx[len(idx)-1]
}

func shapesOf(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
