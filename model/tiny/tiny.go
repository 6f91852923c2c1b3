package tiny

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"

	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/tokenizer"
)

//go:embed llama
var files embed.FS

// Recipe returns RECIPE.md: how the model was built and what it scores.
func Recipe() string {
	b, err := files.ReadFile("llama/RECIPE.md")
	if err != nil {
		panic(err) // embedded: a build bug
	}
	return string(b)
}

// Extract writes the checkpoint (Hugging Face layout) into dir, which is created if needed.
func Extract(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tiny: %w", err)
	}
	return fs.WalkDir(files, "llama", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, d.Name()), b, 0o644); err != nil {
			return fmt.Errorf("tiny: %w", err)
		}
		return nil
	})
}

// Load returns the shipped base model on backend b (nil: model.Backend()) and its tokenizer.
func Load(b backends.Backend) (*model.Model, *tokenizer.BPE, error) {
	dir, err := os.MkdirTemp("", "accrete-tiny-*")
	if err != nil {
		return nil, nil, fmt.Errorf("tiny: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := Extract(dir); err != nil {
		return nil, nil, err
	}
	return LoadDir(b, dir)
}

// LoadDir loads any Hugging Face Llama checkpoint directory with a tokenizer.json beside it on backend
// b (nil: model.Backend()).
func LoadDir(b backends.Backend, dir string) (*model.Model, *tokenizer.BPE, error) {
	return LoadDirWith(b, dir, model.LoadOptions{})
}

// LoadDirWith is LoadDir with the checkpoint's load options (model.LoadOptions.BF16 keeps the
// matrices as bfloat16).
func LoadDirWith(b backends.Backend, dir string, opt model.LoadOptions) (*model.Model, *tokenizer.BPE, error) {
	if b == nil {
		var err error
		if b, err = model.Backend(); err != nil {
			return nil, nil, err
		}
	}
	cfg, w, err := model.LoadHFWith(dir, opt)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.LoadHF(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, nil, err
	}
	m, err := model.New(b, cfg, w)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}
