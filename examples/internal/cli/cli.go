package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tiny"
	"github.com/accrete/accrete/model/tokenizer"
	"github.com/accrete/accrete/packs"
	"github.com/gomlx/gomlx/backends"
)

// Help holds the help texts of the common flags whose meaning differs between programs.
type Help struct {
	// Packs is the help of -packs, before " (any of …)" is appended.
	Packs string
	// Rounds is the help of -rounds; "" leaves -rounds out, and every pack of -packs is a round.
	Rounds string
	// Knowledge defines -knowledge, the base model's own facts scored for retention; false leaves it
	// out (no knowledge task).
	Knowledge bool
	// Epochs, Rank, LR and Seed are the help of -epochs, -rank, -lr and -seed; "" gives "training
	// epochs per round", "LoRA rank", "learning rate" and "seed", in order.
	Epochs, Rank, LR, Seed string
}

// Common are the flags every study program shares, after [Common.Parse].
type Common struct {
	// Model is -model, a Hugging Face Llama directory with tokenizer.json; "" is the shipped base model.
	Model string
	// Packs are the knowledge packs of the rounds, in order: -packs cut to its first -rounds.
	Packs []string
	// Limit is -limit, the items per pack (default 32).
	Limit int
	// Knowledge is -knowledge, the items of the base model's own facts scored for retention
	// (default 32; 0: none).
	Knowledge int
	// Epochs is -epochs, the training epochs of each adapter (default 8).
	Epochs int
	// Rank is -rank, the LoRA rank (default 8).
	Rank int
	// LR is -lr, the learning rate (default 5e-3).
	LR float64
	// Seed is -seed (default 1).
	Seed uint64
	// Quiet is -quiet: no progress on stderr.
	Quiet bool

	list   string // -packs as given
	rounds int    // -rounds
}

// Register defines the common flags on fs, with h's help texts, writing into c.
func (c *Common) Register(fs *flag.FlagSet, h Help) {
	fs.StringVar(&c.list, "packs", "capitals,collectives,continents", h.Packs+" (any of "+strings.Join(packs.Names(), ",")+")")
	if h.Rounds != "" {
		fs.IntVar(&c.rounds, "rounds", 0, h.Rounds)
	}
	fs.IntVar(&c.Limit, "limit", 32, "items per pack")
	if h.Knowledge {
		fs.IntVar(&c.Knowledge, "knowledge", 32, "items of the base model's own facts scored for retention (0: none)")
	}
	fs.IntVar(&c.Epochs, "epochs", 8, cmp.Or(h.Epochs, "training epochs per round"))
	fs.IntVar(&c.Rank, "rank", 8, cmp.Or(h.Rank, "LoRA rank"))
	fs.Float64Var(&c.LR, "lr", 5e-3, cmp.Or(h.LR, "learning rate"))
	fs.Uint64Var(&c.Seed, "seed", 1, cmp.Or(h.Seed, "seed"))
	fs.StringVar(&c.Model, "model", "", "Hugging Face Llama directory with tokenizer.json (default: the shipped base model)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress on stderr")
}

// Parse parses args with fs, refuses positional arguments, and resolves [Common.Packs] from -packs
// and -rounds. It returns the flag package's errors as they are ([flag.ErrHelp] included).
func (c *Common) Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	c.Packs, err = ChoosePacks(c.list, c.rounds)
	return err
}

// ChoosePacks splits a comma-separated list of pack names, checks them and keeps the first rounds
// (0: all of them).
func ChoosePacks(list string, rounds int) ([]string, error) {
	names := strings.Split(list, ",")
	for _, n := range names {
		if !slices.Contains(packs.Names(), n) {
			return nil, fmt.Errorf("unknown pack %q in -packs (want any of %s)", n, strings.Join(packs.Names(), ", "))
		}
	}
	if rounds < 0 || rounds > len(names) {
		return nil, fmt.Errorf("-rounds must be between 0 and the %d packs of -packs, got %d", len(names), rounds)
	}
	if rounds > 0 {
		names = names[:rounds]
	}
	return names, nil
}

// Validate checks the numeric common flags and names the first bad one with its value. Programs
// call it after checking their own flags.
func (c *Common) Validate() error {
	switch {
	case c.Limit < 1 || c.Epochs < 1 || c.Rank < 1:
		return fmt.Errorf("-limit, -epochs and -rank must be ≥ 1, got %d, %d and %d", c.Limit, c.Epochs, c.Rank)
	case c.Knowledge < 0:
		return fmt.Errorf("-knowledge must be ≥ 0, got %d", c.Knowledge)
	case !(c.LR > 0):
		return fmt.Errorf("-lr must be > 0, got %g", c.LR)
	}
	return nil
}

// LoadModel loads the base model on backend b (nil: the pure-Go backend): the shipped one when dir
// is "", else the Hugging Face Llama checkpoint in dir with its tokenizer.json; opt.BF16 keeps its
// matrices as bfloat16 (frozen base weights only: full fine-tuning needs float32).
func LoadModel(b backends.Backend, dir string, opt model.LoadOptions) (*model.Model, *tokenizer.BPE, error) {
	if dir != "" {
		return tiny.LoadDirWith(b, dir, opt)
	}
	if opt == (model.LoadOptions{}) {
		return tiny.Load(b)
	}
	tmp, err := os.MkdirTemp("", "accrete-tiny-*")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(tmp)
	if err := tiny.Extract(tmp); err != nil {
		return nil, nil, err
	}
	return tiny.LoadDirWith(b, tmp, opt)
}

// Setup loads the base model (see [LoadModel]) and the packs, and returns a learner whose LoRA and
// training defaults (-rank, -lr, -epochs, -seed) every round uses, with progress on stderr unless
// -quiet; the tasks of [Common.Packs] with -limit items each; and, when -knowledge > 0, the base
// model's own facts, whose score after each round is the accuracy matrix's retention column.
func (c *Common) Setup(stderr io.Writer) (l *accrete.Learner, tasks, knowledge []accrete.Task, err error) {
	m, tok, err := LoadModel(nil, c.Model, model.LoadOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	if l, err = accrete.NewLearner(m, tok); err != nil {
		return nil, nil, nil, err
	}
	l.LoRA = lora.Config{Rank: c.Rank, Seed: c.Seed}
	l.Train = lora.TrainConfig{LearningRate: c.LR, Epochs: c.Epochs, Seed: c.Seed}
	if !c.Quiet {
		l.Progress = stderr
	}
	for _, name := range c.Packs {
		t, err := packs.Load(name, packs.Options{Limit: c.Limit})
		if err != nil {
			return nil, nil, nil, err
		}
		tasks = append(tasks, t)
	}
	if c.Knowledge > 0 {
		b, err := packs.Base(packs.Options{Limit: c.Knowledge})
		if err != nil {
			return nil, nil, nil, err
		}
		knowledge = []accrete.Task{b}
	}
	return l, tasks, knowledge, nil
}

// Main runs the program name on args: it parses them with parse, then runs study under a context
// cancelled on an interrupt. It returns the exit code: 0 on success or -help, 2 when parse fails
// and 1 when study fails, printing "name: error" on stderr for both.
func Main[O any](name string, args []string, stdout, stderr io.Writer,
	parse func(args []string, stderr io.Writer) (O, error),
	study func(ctx context.Context, o O, stdout, stderr io.Writer) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 2
	}
	if err := study(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}
