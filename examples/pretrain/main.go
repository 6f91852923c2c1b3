// Command pretrain builds accrete's shipped base model from scratch: it trains a BPE tokenizer and a
// small Llama (GQA, RoPE, SwiGLU) on the base pack's facts mixed into general English text, on the
// CPU, and saves both in Hugging Face layout (config.json, model.safetensors, tokenizer.json) with a
// RECIPE.md holding the command, the seed, the time and the measured scores.
//
//	go run ./examples/pretrain -out model/tiny/llama   # the shipped model: about an hour on 2 cores
//
// Knowledge augmentation (Allen-Zhu & Li, arXiv 2309.14316): every base fact is shown in several
// phrasings (its Prompt and Phrasings, drawn from a pool of templates per relation), each as a short
// "Q: …\nA: …" document shuffled among the general-text documents, so that the model stores the fact
// rather than a string and can answer phrasings it never saw with that fact: the held-out paraphrases
// (templates other facts train on) and the novel phrasings (templates no fact trains on). Every
// document starts with BOS and ends with EOS; the stream of documents is cut into windows of -seq
// tokens, with the loss on every token.
//
// The new-knowledge packs are never trained on, nor their text shown to the tokenizer, so the base
// model scores at chance on them. Bits per byte are measured on held-out general text
// (packs.HeldOutText) that no training sees.
//
// -score DIR rescores a saved model without training.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
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
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/model/tokenizer"
	"github.com/accrete/accrete/packs"
)

type options struct {
	out               string
	cfg               model.Config
	vocab, seq, batch int
	factReps          int
	textEpochs        float64
	tokSample         int
	lr, minLRFrac, wd float64
	warmup            int
	seed              uint64
	heldDocs          int
}

func main() {
	var o options
	var (
		dim     = flag.Int("dim", 256, "hidden size")
		layers  = flag.Int("layers", 6, "decoder layers")
		heads   = flag.Int("heads", 8, "attention heads")
		kvHeads = flag.Int("kv-heads", 4, "key/value heads (GQA)")
		hidden  = flag.Int("hidden", 688, "MLP intermediate size")
		score   = flag.String("score", "", "rescore the model saved in this directory instead of training")
	)
	flag.StringVar(&o.out, "out", "model/tiny/llama", "output directory (Hugging Face layout)")
	flag.IntVar(&o.vocab, "vocab", 4096, "tokenizer vocabulary size (512–16384)")
	flag.IntVar(&o.seq, "seq", 256, "tokens per training window")
	flag.IntVar(&o.batch, "batch", 8, "windows per optimizer step")
	flag.IntVar(&o.factReps, "fact-reps", 40, "times each trained phrasing of each base fact is shown")
	flag.Float64Var(&o.textEpochs, "text-epochs", 3, "passes over the general text (fractions take a seeded sample of documents)")
	flag.IntVar(&o.tokSample, "tokenizer-bytes", 3<<20, "bytes of general text (evenly spaced documents) the tokenizer is trained on")
	flag.Float64Var(&o.lr, "lr", 3e-3, "peak learning rate (warm-up, then cosine)")
	flag.Float64Var(&o.wd, "weight-decay", 0.01, "AdamW weight decay")
	flag.IntVar(&o.warmup, "warmup", 200, "warm-up steps")
	flag.Uint64Var(&o.seed, "seed", 20241014, "seed of the initialisation and of every shuffle")
	flag.IntVar(&o.heldDocs, "held-docs", 0, "held-out documents for bits per byte (0: all)")
	flag.Parse()
	o.cfg = model.Config{HiddenSize: *dim, IntermediateSize: *hidden, NumHiddenLayers: *layers,
		NumAttentionHeads: *heads, NumKeyValueHeads: *kvHeads, MaxPositionEmbeddings: 512, RopeTheta: 10000,
		RMSNormEps: 1e-5, TieWordEmbeddings: true}
	var err error
	if *score != "" {
		err = rescore(*score, o.heldDocs)
	} else {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pretrain:", err)
		os.Exit(1)
	}
}

// rescore scores the model saved in dir and replaces the scores section of its RECIPE.md.
func rescore(dir string, heldDocs int) error {
	m, tok, err := tiny.LoadDir(nil, dir)
	if err != nil {
		return err
	}
	sc, err := scoreModel(m, tok, heldDocs)
	if err != nil {
		return err
	}
	fmt.Print(sc.table())
	p := filepath.Join(dir, "RECIPE.md")
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	head, _, ok := strings.Cut(string(b), scoresHeading)
	if !ok {
		return fmt.Errorf("%s has no %q section", p, strings.TrimSpace(scoresHeading))
	}
	return os.WriteFile(p, []byte(head+scoresHeading+sc.table()), 0o644)
}

const scoresHeading = "## Scores of this model\n\n"

func validate(o options) error {
	switch {
	case o.vocab < 512 || o.vocab > 16384:
		return fmt.Errorf("-vocab %d outside [512, 16384]", o.vocab)
	case o.seq < 16 || o.seq > o.cfg.MaxPositionEmbeddings:
		return fmt.Errorf("-seq %d outside [16, %d]", o.seq, o.cfg.MaxPositionEmbeddings)
	case o.batch < 1 || o.batch > 1024:
		return fmt.Errorf("-batch %d outside [1, 1024]", o.batch)
	case o.factReps < 1 || o.factReps > 1000:
		return fmt.Errorf("-fact-reps %d outside [1, 1000]", o.factReps)
	case o.textEpochs < 0 || o.textEpochs > 100:
		return fmt.Errorf("-text-epochs %g outside [0, 100]", o.textEpochs)
	case o.lr <= 0 || o.lr > 1:
		return fmt.Errorf("-lr %g outside (0, 1]", o.lr)
	}
	c := o.cfg
	c.VocabSize = o.vocab // the tokenizer's size is known only after training it
	return c.Validate()
}

// factDocs are the base facts' trained phrasings as "Q: …\nA: …" texts.
func factDocs(base eval.Task) []eval.Example {
	var out []eval.Example
	for _, e := range base.Train {
		for _, p := range append([]string{e.Prompt}, e.Phrasings...) {
			out = append(out, eval.Example{ID: e.ID, Prompt: p, Answer: e.Answer})
		}
	}
	return out
}

func run(o options) error {
	if err := validate(o); err != nil {
		return err
	}
	began := time.Now()
	base, err := packs.Base(packs.Options{})
	if err != nil {
		return err
	}
	tmpl := eval.DefaultTemplate
	text := packs.GeneralText()
	docs := packs.Documents(text)
	facts := factDocs(base)

	// 1. Tokenizer: an evenly spaced sample of the general text and every trained fact phrasing.
	var corpus []string
	stride := max(1, len(text)/max(1, o.tokSample))
	for i := 0; i < len(docs); i += stride {
		corpus = append(corpus, docs[i])
	}
	for _, f := range facts {
		corpus = append(corpus, tmpl.Format(f.Prompt)+tmpl.FormatAnswer(f.Answer))
	}
	tok, err := tokenizer.Train(corpus, o.vocab, tokenizer.TrainOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("tokenizer: %d tokens from %d documents (%s)\n", tok.VocabSize(), len(corpus), time.Since(began).Round(time.Millisecond))
	cfg := o.cfg
	cfg.VocabSize = tok.VocabSize()
	bos, eos := tok.BOS(), tok.EOS()
	cfg.BOSTokenID = &bos
	cfg.EOSTokenID = eos

	// 2. Model.
	b, err := model.Backend()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.seed, 1))
	m, err := model.New(b, cfg, model.RandomWeights(cfg, rng, 0.02, 0))
	if err != nil {
		return err
	}
	l, err := accrete.NewLearner(m, tok)
	if err != nil {
		return err
	}

	// 3. Data: fact documents ×factReps and text documents ×textEpochs, shuffled together, cut into
	// windows.
	var factSeqs [][]int
	for _, f := range facts {
		ex := l.Encode([]eval.Example{f})[0]
		factSeqs = append(factSeqs, append(ex.Tokens, eos))
	}
	textSeqs := make([][]int, len(docs))
	textBytes := 0
	for i, d := range docs {
		textSeqs[i] = append(append([]int{bos}, tok.Encode(d, false, false)...), eos)
		textBytes += len(d)
	}
	var stream [][]int
	for range o.factReps {
		stream = append(stream, factSeqs...)
	}
	whole := int(o.textEpochs)
	for range whole {
		stream = append(stream, textSeqs...)
	}
	if frac := o.textEpochs - float64(whole); frac > 0 {
		for _, i := range rng.Perm(len(textSeqs))[:int(frac*float64(len(textSeqs)))] {
			stream = append(stream, textSeqs[i])
		}
	}
	rng.Shuffle(len(stream), func(i, j int) { stream[i], stream[j] = stream[j], stream[i] })
	var flat []int
	for _, s := range stream {
		flat = append(flat, s...)
	}
	var windows []lora.Sequence
	for s := 0; s+o.seq <= len(flat); s += o.seq {
		windows = append(windows, lora.Sequence{Tokens: flat[s : s+o.seq], PromptLen: 1})
	}
	factTokens := 0
	for _, s := range factSeqs {
		factTokens += len(s)
	}
	fmt.Printf("model: %d parameters; %d base facts in %d phrasings (%d tokens) ×%d, %d text documents (%d bytes, %d tokens) ×%g: %d windows of %d tokens\n",
		cfg.NumParams(), len(base.Train), len(facts), factTokens, o.factReps, len(docs), textBytes, tokenCount(textSeqs), o.textEpochs,
		len(windows), o.seq)
	res, err := lora.Train(context.Background(), m, slices.Sorted(maps.Keys(m.Weights)), windows, lora.TrainConfig{
		LearningRate: o.lr, Schedule: lora.Cosine, WarmupSteps: o.warmup, WeightDecay: o.wd, BatchSize: o.batch, Epochs: 1,
		Seed: o.seed, Progress: os.Stdout, Label: "pretrain"})
	if err != nil {
		return err
	}
	trainTime := time.Since(began)
	fmt.Printf("trained %d steps, %d tokens, final loss %.4f (%s)\n", res.Steps, res.Tokens, res.Loss, trainTime.Round(time.Second))
	if err := model.SaveHF(o.out, cfg, m.Weights, model.SaveOptions{}); err != nil {
		return err
	}
	if err := tok.Save(filepath.Join(o.out, "tokenizer.json")); err != nil {
		return err
	}

	// 4. Scores.
	sc, err := scoreModel(m, tok, o.heldDocs)
	if err != nil {
		return err
	}
	fmt.Print(sc.table())
	recipe := fmt.Sprintf("# Shipped base model\n\nBuilt by `go run ./examples/pretrain %s` in %s (training %s) on the accrete CPU backend, 2 cores.\n\n"+
		"- architecture: Llama, hidden %d, %d layers, %d heads, %d KV heads, MLP %d, vocab %d (BPE with byte fallback, trained by `tokenizer.Train` on %d bytes of the general text and the trained fact phrasings), tied head, %d parameters\n"+
		"- data: %d base facts (packs/data/base/facts.jsonl) in %d trained phrasings, each shown %d times as a `Q: …\\nA: …` document; %d general-text documents (%d bytes) ×%g; all shuffled together and cut into windows of %d tokens, loss on every token\n"+
		"- optimiser: AdamW, lr %g, warm-up %d then cosine, weight decay %g, batch %d, %d steps, %d tokens; seed %d\n"+
		"- final training loss %.4f\n\n"+scoresHeading+"%s",
		strings.Join(os.Args[1:], " "), time.Since(began).Round(time.Second), trainTime.Round(time.Second),
		cfg.HiddenSize, cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.IntermediateSize, cfg.VocabSize, o.tokSample, cfg.NumParams(),
		len(base.Train), len(facts), o.factReps, len(docs), textBytes, o.textEpochs, o.seq,
		o.lr, o.warmup, o.wd, o.batch, res.Steps, res.Tokens, o.seed, res.Loss, sc.table())
	return os.WriteFile(filepath.Join(o.out, "RECIPE.md"), []byte(recipe), 0o644)
}

func tokenCount(seqs [][]int) int {
	n := 0
	for _, s := range seqs {
		n += len(s)
	}
	return n
}

// scores are what RECIPE.md reports.
type scores struct {
	groups  []string
	trained map[string]float64 // by group, "" for all base facts
	para    map[string]float64
	novel   map[string]float64
	heldOut float64 // paraphrases and novel phrasings together, each phrasing once
	news    []eval.TaskScore
	bpb     float64
	nHeld   int
}

func scoreModel(m *model.Model, tok *tokenizer.BPE, heldDocs int) (scores, error) {
	ctx := context.Background()
	l, err := accrete.NewLearner(m, tok)
	if err != nil {
		return scores{}, err
	}
	em := l.EvalModel()
	base, err := packs.Base(packs.Options{})
	if err != nil {
		return scores{}, err
	}
	sc := scores{trained: map[string]float64{}, para: map[string]float64{}, novel: map[string]float64{}}
	byGroup := map[string][]eval.Example{}
	for _, e := range base.Test {
		g := strings.Split(e.ID, "-")[1]
		if _, ok := byGroup[g]; !ok {
			sc.groups = append(sc.groups, g)
		}
		byGroup[g] = append(byGroup[g], e)
	}
	var n, tr, pa, no, npa, nno float64
	for _, g := range sc.groups {
		items := byGroup[g]
		// One scoring gives every family: the trained prompt, the paraphrases and the novel phrasings.
		sa, err := eval.Score(ctx, em, eval.Task{Name: g, Metric: base.Metric, Test: items}, eval.Options{})
		if err != nil {
			return sc, err
		}
		sc.trained[g], sc.para[g], sc.novel[g] = sa.Trained, sa.Paraphrase, sa.Novel
		k := float64(len(items))
		n += k
		tr += sa.Trained * k
		pa += sa.Paraphrase * float64(sa.NParaphrases)
		npa += float64(sa.NParaphrases)
		no += sa.Novel * float64(sa.NNovel)
		nno += float64(sa.NNovel)
	}
	sc.trained[""], sc.para[""], sc.novel[""] = tr/n, pa/npa, no/nno
	sc.heldOut = (pa + no) / (npa + nno)
	news, err := packs.All(packs.Options{})
	if err != nil {
		return sc, err
	}
	for _, t := range news {
		s, err := eval.Score(ctx, em, t, eval.Options{})
		if err != nil {
			return sc, err
		}
		sc.news = append(sc.news, s)
	}
	held := packs.HeldOutText()
	if heldDocs > 0 && heldDocs < len(held) {
		held = held[:heldDocs]
	}
	sc.nHeld = len(held)
	sc.bpb, err = eval.BitsPerByte(ctx, em, held)
	return sc, err
}

func (s scores) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Base facts, exact match. Trained: the fact's first trained phrasing. Held-out paraphrase: a template other facts of the relation train on, never this fact. Novel: the relation's templates that no fact trains on.\n\n")
	fmt.Fprintf(&b, "| relation | trained | held-out paraphrase | novel phrasing |\n| --- | ---: | ---: | ---: |\n")
	for _, g := range s.groups {
		fmt.Fprintf(&b, "| %s | %.3f | %.3f | %.3f |\n", g, s.trained[g], s.para[g], s.novel[g])
	}
	fmt.Fprintf(&b, "| **all base facts** | **%.3f** | **%.3f** | **%.3f** |\n\n", s.trained[""], s.para[""], s.novel[""])
	fmt.Fprintf(&b, "All held-out phrasings of the base facts together (the study's retention measure, eval.TaskScore.HeldOut): **%.3f**.\n\n", s.heldOut)
	fmt.Fprintf(&b, "New-knowledge packs (never trained on; chance is about 0 for open answers, 0.25 for four choices):\n\n")
	fmt.Fprintf(&b, "| task | metric | trained phrasing | held-out paraphrase |\n| --- | --- | ---: | ---: |\n")
	for _, t := range s.news {
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f |\n", t.Task, t.Metric, t.Trained, t.HeldOut)
	}
	fmt.Fprintf(&b, "\nHeld-out general text (%d documents of packs/data/base/heldout.txt, never trained on): %.3f bits per byte (eval.BitsPerByte).\n", s.nHeld, s.bpb)
	return b.String()
}
