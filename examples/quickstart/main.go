// Command quickstart teaches the shipped base model a knowledge pack with a LoRA adapter, and saves it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/accrete/accrete"
	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/packs"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	pack, limit := fs.String("pack", "capitals", "knowledge pack to learn"), fs.Int("limit", 32, "items to learn")
	epochs, out := fs.Int("epochs", 10, "training epochs"), fs.String("out", "out/quickstart", "where to save the adapter")
	if fs.SetOutput(stderr); fs.Parse(args) != nil {
		return 2 // the flag package has printed the problem and the usage
	}
	ctx, fail := context.Background(), func(err error) int { fmt.Fprintln(stderr, "quickstart:", err); return 1 }
	m, tok, err := tiny.Load(nil)                                 // the shipped base model and its tokenizer
	task, err2 := packs.Load(*pack, packs.Options{Limit: *limit}) // facts the base model has never seen
	if err := errors.Join(err, err2); err != nil {                // one check for steps that are independent
		return fail(err)
	}
	l, err := accrete.NewLearner(m, tok) // formats and encodes the items, trains adapters, scores m
	if err != nil {
		return fail(err)
	}
	before, err := eval.Score(ctx, l.EvalModel(), task, eval.Options{})
	a, _, err2 := l.TrainAdapter(ctx, *pack, l.Encode(task.Train), nil, &lora.TrainConfig{LearningRate: 5e-3, Epochs: *epochs})
	if err := errors.Join(err, err2); err != nil { // nil lora.Config above: the default, rank 8 on all 7 linear layers
		return fail(err)
	}
	m.SetAdapter(a) // the adapter came back detached; now every forward pass adds its scale·B·A
	after, err := eval.Score(ctx, l.EvalModel(), task, eval.Options{})
	if err := errors.Join(err, lora.SavePEFT(*out, a, "accrete/tiny")); err != nil { // PEFT's two files
		return fail(err)
	}
	fmt.Fprintf(stdout, "%s: %.3f before, %.3f after; adapter saved in %s\n", *pack, before.Headline(), after.Headline(), *out)
	return 0
}
