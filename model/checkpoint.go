package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/accrete/accrete/internal/atomicfile"
	"github.com/accrete/accrete/model/safetensors"
)

// Hugging Face's file names inside a checkpoint directory.
const (
	ConfigFile      = "config.json"
	SafetensorsFile = "model.safetensors"
	IndexFile       = "model.safetensors.index.json"
)

// shardPattern matches the shard names SaveHF writes (and transformers' save_pretrained does).
var shardPattern = regexp.MustCompile(`^model-[0-9]{5}-of-[0-9]{5}\.safetensors$`)

// harmlessTensor reports whether a checkpoint tensor that the model does not use may be ignored:
// the rotary inverse frequencies older transformers versions saved as buffers.
func harmlessTensor(name string) bool {
	return strings.HasSuffix(name, ".rotary_emb.inv_freq")
}

// shardIndex is the JSON of model.safetensors.index.json.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// LoadHF loads a Hugging Face Llama checkpoint directory: config.json plus model.safetensors, or
// model.safetensors.index.json and the shards it names. F32, BF16, F16 and F64 tensors convert to
// float32 (the first three exactly).
//
// Loading is strict: a missing tensor, an unexpected tensor, a shape that contradicts config.json, or
// an index that disagrees with its shards is an error naming the file and the tensor (and both shapes).
// Two kinds of extra tensor are ignored, as transformers ignores them: "*.rotary_emb.inv_freq"
// buffers, and lm_head.weight when tie_word_embeddings is set (the embedding is the head).
func LoadHF(dir string) (Config, Weights, error) {
	return LoadHFWith(dir, LoadOptions{})
}

// LoadOptions configures LoadHFWith.
type LoadOptions struct {
	// BF16 keeps every matrix (the embedding, the linear weights, the LM head) stored as bfloat16
	// (Tensor.BF16): a BF16 checkpoint's values are kept as they are, with no float32 copy, and
	// F32 or F16 ones are rounded to nearest even. The norm weights stay float32. It halves the
	// memory of frozen base weights; computation stays float32 (see Tensor).
	BF16 bool
}

// LoadHFWith is LoadHF with options.
func LoadHFWith(dir string, opt LoadOptions) (Config, Weights, error) {
	cfg, err := ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return Config{}, nil, err
	}
	files, index, err := checkpointFiles(dir)
	if err != nil {
		return Config{}, nil, err
	}
	names, shapes := cfg.TensorShapes()
	w := make(Weights, len(names))
	from := map[string]string{} // tensor → file it came from, for duplicate detection
	for _, file := range files {
		st, err := safetensors.Open(file)
		if err != nil {
			return Config{}, nil, fmt.Errorf("model: loading %s: %w", dir, err)
		}
		err = loadShard(st, file, dir, cfg, opt, index, shapes, from, w)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Config{}, nil, err
		}
	}
	return finishLoad(dir, cfg, files, index, names, shapes, from, w)
}

// loadShard adds the tensors of one safetensors file of a checkpoint to w.
func loadShard(st *safetensors.File, file, dir string, cfg Config, opt LoadOptions, index *shardIndex,
	shapes map[string][]int, from map[string]string, w Weights) error {
	for _, name := range st.Names() {
		if index != nil {
			want, ok := index.WeightMap[name]
			if !ok {
				return fmt.Errorf("model: %s: tensor %q is in %s but not in %s",
					dir, name, filepath.Base(file), IndexFile)
			}
			if filepath.Join(dir, want) != file {
				return fmt.Errorf("model: %s: tensor %q is in %s but %s maps it to %s",
					dir, name, filepath.Base(file), IndexFile, want)
			}
		}
		if prev, dup := from[name]; dup {
			return fmt.Errorf("model: %s: tensor %q is in both %s and %s", dir, name, prev, file)
		}
		from[name] = file
		want, expected := shapes[name]
		if !expected {
			if harmlessTensor(name) || (name == "lm_head.weight" && cfg.TieWordEmbeddings) {
				continue
			}
			info, _ := st.Info(name)
			return fmt.Errorf("model: %s: unexpected tensor %q %s %v (not part of the model config.json describes)",
				file, name, info.DType, info.Shape)
		}
		info, _ := st.Info(name)
		if !slices.Equal(info.Shape, want) {
			return fmt.Errorf("model: %s: tensor %q has shape %v, %s implies %v",
				file, name, info.Shape, filepath.Join(dir, ConfigFile), want)
		}
		if opt.BF16 && len(want) == 2 && info.DType == safetensors.BF16 {
			raw, _, err := st.Raw(name)
			if err != nil {
				return fmt.Errorf("model: loading %s: %w", dir, err)
			}
			b := make([]uint16, len(raw)/2)
			for i := range b {
				b[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
			}
			w[name] = &Tensor{Shape: slices.Clone(info.Shape), BF16: b}
			st.Release(name)
			continue
		}
		data, shape, err := st.Float32(name)
		if err != nil {
			return fmt.Errorf("model: loading %s: %w", dir, err)
		}
		st.Release(name) // the shard's pages need not stay resident beside the converted copy
		w[name] = &Tensor{Shape: shape, Data: data}
		if opt.BF16 && len(want) == 2 {
			if err := w.ToBF16(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// finishLoad checks that the files held every tensor the index and config.json name.
func finishLoad(dir string, cfg Config, files []string, index *shardIndex, names []string, shapes map[string][]int,
	from map[string]string, w Weights) (Config, Weights, error) {
	if index != nil {
		for _, name := range sortedKeys(index.WeightMap) {
			if _, ok := from[name]; !ok {
				return Config{}, nil, fmt.Errorf("model: %s: %s maps tensor %q to %s, which does not hold it",
					dir, IndexFile, name, index.WeightMap[name])
			}
		}
	}
	var missing []string
	for _, name := range names {
		if _, ok := w[name]; !ok {
			missing = append(missing, fmt.Sprintf("%q %v", name, shapes[name]))
		}
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 8 {
			more = fmt.Sprintf(" and %d more", len(missing)-8)
			missing = missing[:8]
		}
		return Config{}, nil, fmt.Errorf("model: %s: missing tensor %s%s (searched %s)",
			dir, strings.Join(missing, ", "), more, strings.Join(baseNames(files), ", "))
	}
	return cfg, w, nil
}

// checkpointFiles returns the safetensors files of a checkpoint directory and its shard index (nil
// for a single file).
func checkpointFiles(dir string) ([]string, *shardIndex, error) {
	single := filepath.Join(dir, SafetensorsFile)
	if _, err := os.Stat(single); err == nil {
		return []string{single}, nil, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	indexPath := filepath.Join(dir, IndexFile)
	data, err := os.ReadFile(indexPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("model: %s holds neither %s nor %s: %w", dir, SafetensorsFile, IndexFile, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	var index shardIndex
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, nil, fmt.Errorf("model: parsing %s: %w", indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, nil, fmt.Errorf("model: %s: weight_map is missing or empty", indexPath)
	}
	seen := map[string]bool{}
	var files []string
	for _, name := range sortedKeys(index.WeightMap) {
		shard := index.WeightMap[name]
		// Shards must sit in the checkpoint directory itself; an index must not reach elsewhere.
		if shard == "" || shard != filepath.Base(shard) || !filepath.IsLocal(shard) || strings.ContainsAny(shard, `/\`) {
			return nil, nil, fmt.Errorf("model: %s: tensor %q maps to %q, which is not a file name in %s", indexPath, name, shard, dir)
		}
		if !seen[shard] {
			seen[shard] = true
			files = append(files, filepath.Join(dir, shard))
		}
	}
	slices.Sort(files)
	return files, &index, nil
}

// SaveOptions controls how SaveHF writes a checkpoint.
type SaveOptions struct {
	// DType is the storage type of the weights: "F32" (the default when empty; bit-exact), "BF16" or
	// "F16" (both rounded to nearest even, as PyTorch does).
	DType string
	// MaxShardBytes splits the weights into shards of at most this many bytes of tensor data (a tensor
	// larger than that gets a shard of its own), named model-00001-of-0000N.safetensors, plus
	// model.safetensors.index.json, as transformers' save_pretrained does. Zero writes one
	// model.safetensors. Negative is invalid.
	MaxShardBytes int64
}

// Validate reports an unknown DType or a negative MaxShardBytes.
func (o SaveOptions) Validate() error {
	switch o.DType {
	case "", "F32", "BF16", "F16":
	default:
		return fmt.Errorf("model: SaveOptions.DType must be F32, BF16 or F16, got %q", o.DType)
	}
	if o.MaxShardBytes < 0 {
		return fmt.Errorf("model: SaveOptions.MaxShardBytes must be >= 0, got %d", o.MaxShardBytes)
	}
	return nil
}

var torchDTypes = map[safetensors.DType]string{safetensors.F32: "float32", safetensors.BF16: "bfloat16", safetensors.F16: "float16"}

// SaveHF writes w as a Hugging Face Llama checkpoint in dir (created if needed): config.json (cfg with
// its derived fields filled in, architectures ["LlamaForCausalLM"], model_type "llama" and
// torch_dtype) and the weights as opt says. w must match cfg exactly (see Weights.Check); a tied
// config has no lm_head.weight.
//
// Every file is written atomically. The new weight files are in place before stale ones of the
// other layout (a model.safetensors, or an index and shards) are removed, so that LoadHF never sees
// a mix; a crash in between leaves a complete old or new checkpoint, but when a stale
// model.safetensors survives next to new shards LoadHF prefers it.
func SaveHF(dir string, cfg Config, w Weights, opt SaveOptions) error {
	if err := opt.Validate(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("model: saving %s: %w", dir, err)
	}
	if err := w.Check(cfg); err != nil {
		return fmt.Errorf("model: saving %s: %w", dir, err)
	}
	dtype := safetensors.DType(opt.DType)
	if dtype == "" {
		dtype = safetensors.F32
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: %w", err)
	}

	out := cfg.WithDefaults()
	out.Architectures = []string{"LlamaForCausalLM"}
	out.ModelType = "llama"
	out.TorchDType = torchDTypes[dtype]
	if err := writeJSON(filepath.Join(dir, ConfigFile), out); err != nil {
		return err
	}

	names := make([]string, 0, len(w))
	for name := range w {
		names = append(names, name)
	}
	slices.Sort(names)
	meta := map[string]string{"format": "pt"}
	if opt.MaxShardBytes == 0 {
		tensors := make(map[string]safetensors.Tensor, len(w))
		for name, t := range w {
			tensors[name] = safetensors.Tensor{Shape: t.Shape, Data: t.Data, BF16: t.BF16}
		}
		if err := safetensors.Write(filepath.Join(dir, SafetensorsFile), tensors, dtype, meta); err != nil {
			return fmt.Errorf("model: %w", err)
		}
		return removeStale(dir, true, nil)
	}

	// Greedy packing in name order, as transformers and the reference script do. bfloat16-stored
	// weights are written from their bits, with no float32 copy.
	var shards [][]string
	var curBytes, total int64
	for _, name := range names {
		nb := int64(w[name].Size()) * int64(dtype.Size())
		if len(shards) == 0 || (len(shards[len(shards)-1]) > 0 && curBytes+nb > opt.MaxShardBytes) {
			shards, curBytes = append(shards, nil), 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], name)
		curBytes += nb
		total += nb
	}
	index := struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}{map[string]int64{"total_size": total}, map[string]string{}}
	keep := map[string]bool{}
	for i, shard := range shards {
		file := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		tensors := make(map[string]safetensors.Tensor, len(shard))
		for _, name := range shard {
			tensors[name] = safetensors.Tensor{Shape: w[name].Shape, Data: w[name].Data, BF16: w[name].BF16}
			index.WeightMap[name] = file
		}
		if err := safetensors.Write(filepath.Join(dir, file), tensors, dtype, meta); err != nil {
			return fmt.Errorf("model: %w", err)
		}
		keep[file] = true
	}
	if err := writeJSON(filepath.Join(dir, IndexFile), index); err != nil {
		return err
	}
	return removeStale(dir, false, keep)
}

// removeStale deletes weight files of the layout not just written: for a single file, the index and
// every shard; for shards, model.safetensors and shards not in keep.
func removeStale(dir string, single bool, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		stale := shardPattern.MatchString(name) && !keep[name]
		if single {
			stale = stale || name == IndexFile
		} else {
			stale = stale || name == SafetensorsFile
		}
		if stale {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("model: removing stale weights: %w", err)
			}
		}
	}
	return nil
}

// writeJSON writes v as indented JSON to path atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("model: encoding %s: %w", path, err)
	}
	data = append(data, '\n')
	err = atomicfile.WriteFile(path, data)
	if err != nil {
		return fmt.Errorf("model: writing %s: %w", path, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}
