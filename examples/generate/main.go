// Command generate continues a prompt with a Llama model: a Hugging Face checkpoint directory
// (config.json, model.safetensors, tokenizer.json) or a llama2.c .bin with its tokenizer.bin.
//
//	go run ./examples/generate -prompt "The capital of France is"
//	go run ./examples/generate -model /path/to/hf-dir -n 100 -temperature 0.8 -top-p 0.95 -seed 1
//	go run ./examples/generate -llama2c stories15M.bin -tokenizer tokenizer.bin -prompt "Once upon a time"
//
// Without -model or -llama2c it loads accrete's shipped base model, model/tiny/llama (run it from
// the repository root). It prints the prompt and its continuation (one block per row with -batch)
// on stdout, and the throughput on stderr. It runs on the backend GOMLX_BACKEND names, by default
// the pure-Go one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

// defaultModel is the shipped base model, relative to the repository root.
const defaultModel = "model/tiny/llama"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed command-line flags.
type options struct {
	modelDir, llama2c, tokenizer string
	prompt, stop                 string
	n, topK, batch               int
	temperature, topP            float64
	seed                         uint64
	modelSet                     bool // -model was given explicitly
}

// run is the program: it returns the exit status, 0 on success, 2 for bad flags and 1 for any other
// failure, with a one-line message on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if !errors.Is(err, errFlagParse) {
			fmt.Fprintln(stderr, "generate:", err)
		}
		return 2
	}
	if err := generate(context.Background(), o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "generate:", err)
		return 1
	}
	return 0
}

// errFlagParse marks errors the flag package has already printed with the usage.
var errFlagParse = errors.New("bad flags")

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	set := flag.NewFlagSet("generate", flag.ContinueOnError)
	set.SetOutput(stderr)
	set.StringVar(&o.modelDir, "model", defaultModel, "Hugging Face checkpoint directory (config.json, model.safetensors, tokenizer.json)")
	set.StringVar(&o.llama2c, "llama2c", "", "llama2.c checkpoint (.bin) instead of -model; needs -tokenizer")
	set.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer file: llama2.c tokenizer.bin with -llama2c, or a tokenizer.json replacing DIR/tokenizer.json")
	set.StringVar(&o.prompt, "prompt", "Once upon a time", "text to continue")
	set.IntVar(&o.n, "n", 64, "maximum new tokens per row")
	set.Float64Var(&o.temperature, "temperature", 0, "sampling temperature; 0 decodes greedily")
	set.IntVar(&o.topK, "top-k", 0, "sample from the K most likely tokens only; 0: all")
	set.Float64Var(&o.topP, "top-p", 0, "sample from the smallest set of tokens with this much probability; 0 or 1: all")
	set.Uint64Var(&o.seed, "seed", 0, "sampling seed")
	set.IntVar(&o.batch, "batch", 1, "decode this many copies of the prompt together")
	set.StringVar(&o.stop, "stop", "", "end a row when its continuation contains this text (cut before it); the end-of-sequence token always ends a row")
	set.Usage = func() {
		fmt.Fprintf(set.Output(), "usage: generate [flags]\n\nContinues -prompt with a Llama model.\n\n")
		set.PrintDefaults()
	}
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errFlagParse
	}
	set.Visit(func(f *flag.Flag) { o.modelSet = o.modelSet || f.Name == "model" })
	switch {
	case set.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q (flags only; quote the -prompt)", set.Arg(0))
	case o.llama2c != "" && o.modelSet:
		return o, errors.New("-model and -llama2c exclude each other")
	case o.llama2c != "" && o.tokenizer == "":
		return o, errors.New("-llama2c needs -tokenizer (the llama2.c tokenizer.bin)")
	case o.n < 1:
		return o, fmt.Errorf("-n is %d, want ≥ 1", o.n)
	case o.batch < 1:
		return o, fmt.Errorf("-batch is %d, want ≥ 1", o.batch)
	case o.temperature < 0:
		return o, fmt.Errorf("-temperature is %g, want ≥ 0", o.temperature)
	case o.topK < 0:
		return o, fmt.Errorf("-top-k is %d, want ≥ 0", o.topK)
	case o.topP < 0 || o.topP > 1:
		return o, fmt.Errorf("-top-p is %g, want within [0, 1]", o.topP)
	case o.prompt == "":
		return o, errors.New("-prompt is empty")
	}
	return o, nil
}

// load reads the model and tokenizer that o names.
func load(o options) (model.Config, model.Weights, tokenizer.Tokenizer, string, error) {
	if o.llama2c != "" {
		cfg, w, err := model.LoadLlama2C(o.llama2c)
		if err != nil {
			return cfg, nil, nil, "", err
		}
		tok, err := tokenizer.LoadLlama2C(o.tokenizer, cfg.VocabSize)
		return cfg, w, tok, o.llama2c, err
	}
	dir := o.modelDir
	if _, err := os.Stat(filepath.Join(dir, model.ConfigFile)); errors.Is(err, fs.ErrNotExist) {
		if !o.modelSet {
			return model.Config{}, nil, nil, "", fmt.Errorf("no model at %s; pass -model DIR", dir)
		}
		return model.Config{}, nil, nil, "", fmt.Errorf("no model at %s: no %s there", dir, model.ConfigFile)
	}
	cfg, w, err := model.LoadHF(dir)
	if err != nil {
		return cfg, nil, nil, "", err
	}
	tokPath := o.tokenizer
	if tokPath == "" {
		tokPath = filepath.Join(dir, "tokenizer.json")
	}
	tok, err := tokenizer.LoadHF(tokPath)
	if err != nil {
		return cfg, nil, nil, "", err
	}
	if tok.VocabSize() > cfg.VocabSize {
		return cfg, nil, nil, "", fmt.Errorf("%s has %d tokens but the model in %s only %d", tokPath, tok.VocabSize(), dir, cfg.VocabSize)
	}
	return cfg, w, tok, dir, nil
}

func generate(ctx context.Context, o options, stdout, stderr io.Writer) error {
	cfg, w, tok, from, err := load(o)
	if err != nil {
		return err
	}
	backend, err := model.Backend()
	if err != nil {
		return err
	}
	m, err := model.New(backend, cfg, w)
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	ids := tok.Encode(o.prompt, true, false)
	if len(ids)+o.n > cfg.MaxPositionEmbeddings {
		fmt.Fprintf(stderr, "generate: warning: %d prompt + %d new tokens exceed the model's %d positions\n",
			len(ids), o.n, cfg.MaxPositionEmbeddings)
	}
	prompts := make([][]int, o.batch)
	for i := range prompts {
		prompts[i] = ids
	}

	// Each row's continuation is decoded as it grows (a Stream fed the prompt first keeps the
	// text exact across the boundary), so -stop can end the row as soon as the text appears.
	texts := make([]strings.Builder, o.batch)
	streams := make([]*tokenizer.Stream, o.batch)
	for i := range streams {
		streams[i] = tokenizer.NewStream(tok)
		for _, id := range ids {
			streams[i].Add(id)
		}
	}
	stops := cfg.EOSTokenIDs()
	if e := tok.EOS(); e >= 0 && !slices.Contains(stops, e) {
		stops = append(stops, e)
	}
	if stops == nil {
		stops = []int{}
	}
	opt := model.GenerateOptions{MaxNewTokens: o.n, Temperature: o.temperature, TopK: o.topK, TopP: o.topP,
		Seed: o.seed, StopTokens: stops,
		Stop: func(row int, gen []int) bool {
			texts[row].WriteString(streams[row].Add(gen[len(gen)-1]))
			return o.stop != "" && strings.Contains(texts[row].String(), o.stop)
		}}
	began := time.Now()
	out, err := m.Generate(ctx, prompts, opt)
	if err != nil {
		return err
	}
	elapsed := time.Since(began)

	total := 0
	for i, gen := range out {
		total += len(gen)
		text := texts[i].String() + streams[i].Flush()
		if o.stop != "" {
			if j := strings.Index(text, o.stop); j >= 0 {
				text = text[:j]
			}
		}
		if o.batch > 1 {
			fmt.Fprintf(stdout, "--- %d ---\n", i+1)
		}
		fmt.Fprintf(stdout, "%s%s\n", o.prompt, text)
	}
	fmt.Fprintf(stderr, "%s: %d prompt tokens, %d new tokens in %.2f s: %.1f tok/s (batch %d, %s)\n",
		from, len(ids), total, elapsed.Seconds(), float64(total)/elapsed.Seconds(), o.batch, backend.Name())
	return nil
}
