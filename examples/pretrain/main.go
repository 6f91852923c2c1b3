// Command pretrain builds accrete's shipped base model: it trains a BPE tokenizer and a tiny Llama
// (GQA, RoPE, SwiGLU) from scratch on the base pack's facts plus general English text, on the pure-Go
// backend, and saves both in Hugging Face layout (config.json, model.safetensors, tokenizer.json) with
// a RECIPE.md holding the flags, the seed and the measured scores.
//
//	go run ./examples/pretrain -out model/tiny/llama
//
// The base facts are the "old knowledge" whose retention the study measures; the new-knowledge packs
// are never trained on (only their text is seen by the tokenizer trainer, as a real tokenizer would
// have seen such words), so the base model scores near chance on them.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
	"github.com/accrete/accrete/packs"
)

func main() {
	var (
		out     = flag.String("out", "model/tiny/llama", "output directory (Hugging Face layout)")
		dim     = flag.Int("dim", 128, "hidden size")
		layers  = flag.Int("layers", 4, "decoder layers")
		heads   = flag.Int("heads", 4, "attention heads")
		kvHeads = flag.Int("kv-heads", 2, "key/value heads (GQA)")
		hidden  = flag.Int("hidden", 344, "MLP intermediate size")
		vocab   = flag.Int("vocab", 1024, "tokenizer vocabulary size (512–4096)")
		epochs  = flag.Int("epochs", 40, "epochs over the base facts")
		general = flag.Int("general-chunks", 64, "general-text chunks mixed into each epoch")
		chunk   = flag.Int("chunk", 48, "tokens per general-text chunk")
		lr      = flag.Float64("lr", 3e-3, "peak learning rate (cosine schedule, warm-up 50 steps)")
		batch   = flag.Int("batch", 16, "batch size")
		seed    = flag.Uint64("seed", 20241014, "seed of the tokenizer-independent randomness (init, shuffling)")
	)
	flag.Parse()
	if err := run(*out, model.Config{HiddenSize: *dim, IntermediateSize: *hidden, NumHiddenLayers: *layers,
		NumAttentionHeads: *heads, NumKeyValueHeads: *kvHeads, MaxPositionEmbeddings: 512, RopeTheta: 10000,
		RMSNormEps: 1e-5, TieWordEmbeddings: true}, *vocab, *epochs, *general, *chunk, *lr, *batch, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "pretrain:", err)
		os.Exit(1)
	}
}

func run(out string, cfg model.Config, vocab, epochs, nGeneral, chunk int, lr float64, batch int, seed uint64) error {
	began := time.Now()
	base, err := packs.Base(packs.Options{})
	if err != nil {
		return err
	}
	newTasks, err := packs.All(packs.Options{})
	if err != nil {
		return err
	}
	tmpl := eval.DefaultTemplate
	text := packs.GeneralText()

	// 1. Tokenizer: general text, the formatted base facts and the new packs' text.
	corpus := []string{text}
	for _, t := range append([]eval.Task{base}, newTasks...) {
		for _, ex := range t.Train {
			corpus = append(corpus, tmpl.Format(ex.Prompt)+tmpl.FormatAnswer(ex.Answer))
			for _, p := range ex.Paraphrases {
				corpus = append(corpus, tmpl.Format(p))
			}
			corpus = append(corpus, ex.Choices...)
		}
	}
	tok, err := tokenizer.Train(corpus, vocab, tokenizer.TrainOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("tokenizer: %d tokens (%s)\n", tok.VocabSize(), time.Since(began).Round(time.Millisecond))
	cfg.VocabSize = tok.VocabSize()
	bos, eos := tok.BOS(), tok.EOS()
	cfg.BOSTokenID = &bos
	cfg.EOSTokenID = eos

	// 2. Model.
	b, err := model.Backend()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	m, err := model.New(b, cfg, model.RandomWeights(cfg, rng, 0.02, 0))
	if err != nil {
		return err
	}
	l, err := accrete.NewLearner(m, tok)
	if err != nil {
		return err
	}
	facts := l.Encode(base.Train)
	for i := range facts {
		facts[i].PromptLen = 1 // pretraining: loss on every token
	}
	var chunks []lora.Example
	ids := tok.Encode(text, false, false)
	for s := 0; s+chunk <= len(ids); s += chunk {
		chunks = append(chunks, lora.Example{Tokens: append([]int{bos}, ids[s:s+chunk]...), PromptLen: 1})
	}
	// Hold out 5% of the general text for perplexity.
	rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	nHeld := max(len(chunks)/20, 1)
	held, chunks := chunks[:nHeld], chunks[nHeld:]
	var data []lora.Example
	for e := range epochs {
		data = append(data, facts...)
		for k := range nGeneral {
			data = append(data, chunks[(e*nGeneral+k)%len(chunks)])
		}
	}
	fmt.Printf("model: %d parameters; %d fact sequences, %d general chunks of %d tokens (%d held out)\n",
		cfg.NumParams(), len(facts), len(chunks), chunk, len(held))
	res, err := lora.Train(context.Background(), m, slices.Sorted(mapsKeys(m.Weights)), data, lora.TrainConfig{
		LearningRate: lr, Schedule: lora.Cosine, WarmupSteps: 50, WeightDecay: 0.01, BatchSize: batch, Epochs: 1,
		Seed: seed, Progress: os.Stdout, Label: "pretrain"})
	if err != nil {
		return err
	}
	fmt.Printf("trained %d steps, %d tokens, final loss %.4f (%s)\n", res.Steps, res.Tokens, res.Loss, time.Since(began).Round(time.Second))

	// 3. Scores: base facts (should be known), new packs (should be near chance), perplexity.
	ctx := context.Background()
	em := l.EvalModel()
	bs, err := eval.Score(ctx, em, base, eval.Options{})
	if err != nil {
		return err
	}
	var report strings.Builder
	fmt.Fprintf(&report, "| task | metric | trained phrasing | paraphrase |\n| --- | --- | --- | --- |\n")
	fmt.Fprintf(&report, "| base (old knowledge) | %s | %.3f | %.3f |\n", bs.Metric, bs.Headline(), bs.Paraphrase)
	for _, t := range newTasks {
		s, err := eval.Score(ctx, em, t, eval.Options{})
		if err != nil {
			return err
		}
		fmt.Fprintf(&report, "| %s (new) | %s | %.3f | %.3f |\n", t.Name, s.Metric, s.Headline(), s.Paraphrase)
	}
	ppl, err := perplexity(m, held)
	if err != nil {
		return err
	}
	fmt.Print(report.String())
	fmt.Printf("held-out general-text perplexity: %.2f\n", ppl)

	if err := model.SaveHF(out, cfg, m.Weights, model.SaveOptions{}); err != nil {
		return err
	}
	if err := tok.Save(filepath.Join(out, "tokenizer.json")); err != nil {
		return err
	}
	recipe := fmt.Sprintf("# Shipped base model\n\nBuilt by `go run ./examples/pretrain %s` in %s on the pure-Go backend.\n\n"+
		"- architecture: Llama, hidden %d, %d layers, %d heads, %d KV heads, MLP %d, vocab %d (BPE with byte fallback, trained by `tokenizer.Train`), tied head, %d parameters\n"+
		"- data: %d base facts (packs/data/base/facts.jsonl, template %q) ×%d epochs, plus %d general-text chunks of %d tokens per epoch (packs/data/base/general.txt)\n"+
		"- optimiser: AdamW, lr %g cosine, warm-up 50, weight decay 0.01, batch %d, %d steps, %d tokens; seed %d\n"+
		"- final training loss %.4f; held-out general-text perplexity %.2f\n\n## Scores of this model\n\n%s",
		strings.Join(os.Args[1:], " "), time.Since(began).Round(time.Second),
		cfg.HiddenSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.IntermediateSize, cfg.VocabSize, cfg.NumParams(),
		len(facts), tmpl.Prompt, epochs, nGeneral, chunk, lr, batch, res.Steps, res.Tokens, seed, res.Loss, ppl, report.String())
	return os.WriteFile(filepath.Join(out, "RECIPE.md"), []byte(recipe), 0o644)
}

func perplexity(m *model.Model, held []lora.Example) (float64, error) {
	var sum float64
	var n int
	for s := 0; s < len(held); s += 16 {
		var seqs [][]int
		for _, ex := range held[s:min(s+16, len(held))] {
			seqs = append(seqs, ex.Tokens)
		}
		lps, err := m.TokenLogProbs(seqs)
		if err != nil {
			return 0, err
		}
		for _, lp := range lps {
			for _, v := range lp {
				sum += float64(v)
				n++
			}
		}
	}
	return math.Exp(-sum / float64(n)), nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
