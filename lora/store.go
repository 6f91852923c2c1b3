package lora

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/accrete/accrete/internal/atomicfile"
	"github.com/accrete/accrete/model"
	"github.com/accrete/accrete/model/safetensors"
)

// Store file names and format.
const (
	// ManifestFile sits at the top of a store directory and lists its adapters.
	ManifestFile = "manifest.json"
	// LockFile is the advisory lock (flock) that writers of a store hold while they change it.
	LockFile = ".lock"
	// QuarantineDir receives what a writer finds in the store's place for an adapter that the
	// manifest does not list (a user's own folder, or a directory left by a crash): it is moved
	// there, never deleted.
	QuarantineDir = ".quarantine"
	// ExtraFile holds an adapter's Meta.Extra tensors, next to its PEFT files.
	ExtraFile = "extra.safetensors"
	// filesDir holds an adapter's Meta.Files.
	filesDir = "files"

	manifestFormat  = "accrete-lora-store"
	manifestVersion = 1
)

// Errors callers branch on.
var (
	// ErrUnknownAdapter is returned (wrapped) by Get and Delete for a name the store does not hold.
	ErrUnknownAdapter = errors.New("lora: unknown adapter")
	// ErrExists is returned (wrapped) by Add for a name the store already holds.
	ErrExists = errors.New("lora: adapter already exists")
	// ErrBaseMismatch is returned (wrapped) by OpenStore when the store was made for another base model.
	ErrBaseMismatch = errors.New("lora: store belongs to another base model")
	// ErrDamagedStore is returned (wrapped) by OpenStore when the manifest is unreadable, or missing
	// while adapter directories are present.
	ErrDamagedStore = errors.New("lora: damaged store")
)

// Meta describes a stored adapter.
type Meta struct {
	// Name is the adapter's name in the store (set by the store).
	Name string `json:"name"`
	// Task names the task the adapter learned.
	Task string `json:"task,omitempty"`
	// Round is the round that produced it.
	Round int `json:"round"`
	// Created is when it was trained or stored. Zero on Add: the time of the Add (UTC).
	Created time.Time `json:"created"`
	// Metrics are scores or training statistics by name; they must be finite.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Extra holds tensors kept with the adapter (a MoE router's weights, an O-LoRA subspace), saved
	// as extra.safetensors in float32. List leaves it nil; Get fills it.
	Extra map[string]*model.Tensor `json:"-"`
	// Files holds small files kept with the adapter by name (no path separators), saved under
	// files/. List leaves it nil; Get fills it.
	Files map[string][]byte `json:"-"`
}

// entry is a manifest line: Meta plus what lies next to the adapter's PEFT files.
type entry struct {
	Meta
	ExtraTensors []string `json:"extra_tensors,omitempty"`
	FileNames    []string `json:"files,omitempty"`
}

type manifest struct {
	Format          string  `json:"format"`
	Version         int     `json:"version"`
	BaseFingerprint string  `json:"base_fingerprint"`
	Adapters        []entry `json:"adapters"`
}

// Store keeps named LoRA adapters for one base model in a directory: one subdirectory per adapter in
// PEFT's format (adapter_config.json, adapter_model.safetensors, and optionally extra.safetensors and
// files/), plus manifest.json, which records the base model's Fingerprint and each adapter's Meta.
// The manifest is the truth: a subdirectory it does not list is ignored.
//
// Every change is atomic: an adapter is written under a temporary name, synced and renamed into
// place, then the manifest is replaced atomically, so an interrupted Add or Delete leaves the store
// as it was before or after it, never with a partial adapter. A Store is safe for concurrent use, and
// several processes may write one directory at once: Add and Delete hold an exclusive advisory lock
// (flock on LockFile, on Unix) and re-read the manifest under it, so no writer's adapter is lost;
// readers take no lock (List and a Get of a name not yet seen re-read the manifest). Files in the
// store that are not the store's are left alone, except a directory in the way of an Add, which is
// moved to QuarantineDir with a log line. A store whose manifest is missing while adapter directories
// are present, or damaged, is refused by OpenStore with what it found; RecoverStore rebuilds it.
type Store struct {
	dir, fingerprint string

	mu  sync.RWMutex
	man manifest
}

// OpenStore opens the store in dir for the base model with the given fingerprint (see Fingerprint),
// creating the directory and an empty manifest if there is none. A store made for another base
// model is refused with an error naming both fingerprints.
func OpenStore(dir string, fingerprint string) (*Store, error) {
	if fingerprint == "" {
		return nil, fmt.Errorf("lora: open store %s: empty base fingerprint", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lora: open store: %w", err)
	}
	s := &Store{dir: dir, fingerprint: fingerprint}
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if found, ferr := adapterDirs(dir); ferr != nil {
			return nil, fmt.Errorf("lora: open store: %w", ferr)
		} else if len(found) > 0 {
			return nil, fmt.Errorf("%w: %s is missing but %s holds adapter directories %v: lora.RecoverStore rebuilds it",
				ErrDamagedStore, path, dir, found)
		}
		s.man = manifest{Format: manifestFormat, Version: manifestVersion, BaseFingerprint: fingerprint}
		if err := s.writeManifest(s.man); err != nil {
			return nil, err
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("lora: open store: %w", err)
	}
	if err := json.Unmarshal(raw, &s.man); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (lora.RecoverStore rebuilds it from the adapter directories)", ErrDamagedStore, path, err)
	}
	switch {
	case s.man.Format != manifestFormat:
		return nil, fmt.Errorf("lora: open store: %s: format %q, want %q", path, s.man.Format, manifestFormat)
	case s.man.Version != manifestVersion:
		return nil, fmt.Errorf("lora: open store: %s: version %d, this code reads %d", path, s.man.Version, manifestVersion)
	case s.man.BaseFingerprint != fingerprint:
		return nil, fmt.Errorf("%w: %s was made for base %s, not %s", ErrBaseMismatch, path, s.man.BaseFingerprint, fingerprint)
	}
	for i, e := range s.man.Adapters {
		if err := validName(e.Name); err != nil {
			return nil, fmt.Errorf("lora: open store: %s: adapter %d: %w", path, i, err)
		}
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Fingerprint returns the base model fingerprint the store was made for.
func (s *Store) Fingerprint() string { return s.fingerprint }

// validName accepts a name usable as one directory entry on every OS.
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("empty adapter name")
	case name == "." || name == ".." || strings.HasPrefix(name, "."):
		return fmt.Errorf("adapter name %q must not start with a dot", name)
	case strings.ContainsAny(name, `/\:`):
		return fmt.Errorf("adapter name %q must not contain a path separator or colon", name)
	case name == ManifestFile:
		return fmt.Errorf("adapter name %q is the manifest's", name)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0:
		return fmt.Errorf("adapter name %q holds a control or invalid character", name)
	}
	return nil
}

func (s *Store) index(name string) int {
	return slices.IndexFunc(s.man.Adapters, func(e entry) bool { return e.Name == name })
}

// storeHook, when set (in tests), is called at each stage of Add ("tensors": the adapter's files are
// written under the temporary name; "renamed": the directory is in place, the manifest not yet
// rewritten); an error it returns aborts the Add there, as a crash would.
var storeHook func(stage string) error

func hook(stage string) error {
	if storeHook == nil {
		return nil
	}
	return storeHook(stage)
}

// Add stores a under name with meta (meta.Name is ignored; meta's maps are copied). A name already in
// the store is refused with ErrExists. The adapter's tensors must match its Config and Model.
func (s *Store) Add(name string, a *Adapter, meta Meta) error {
	if err := validName(name); err != nil {
		return fmt.Errorf("lora: store %s: add: %w", s.dir, err)
	}
	if err := checkAdapter(a); err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	e := entry{Meta: meta}
	e.Name = name
	if e.Created.IsZero() {
		e.Created = time.Now().UTC()
	}
	e.Metrics = cloneMap(meta.Metrics)
	for k, v := range e.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("lora: store %s: add %q: metric %q is %g (JSON holds finite numbers only)", s.dir, name, k, v)
		}
	}
	e.Extra, e.Files = nil, nil
	extra := make(map[string]safetensors.Tensor, len(meta.Extra))
	for k, t := range meta.Extra {
		if k == "" || k == "__metadata__" || t == nil || t.Size() != len(t.Data) {
			return fmt.Errorf("lora: store %s: add %q: extra tensor %q is empty or its shape does not match its data", s.dir, name, k)
		}
		extra[k] = safetensors.Tensor{Shape: t.Shape, Data: t.Data}
		e.ExtraTensors = append(e.ExtraTensors, k)
	}
	for k := range meta.Files {
		if err := validName(k); err != nil {
			return fmt.Errorf("lora: store %s: add %q: file: %w", s.dir, name, err)
		}
		e.FileNames = append(e.FileNames, k)
	}
	slices.Sort(e.ExtraTensors)
	slices.Sort(e.FileNames)

	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lockAndReload()
	if err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	defer unlock()
	if s.index(name) >= 0 {
		return fmt.Errorf("%w: %q in store %s", ErrExists, name, s.dir)
	}
	tmp, err := os.MkdirTemp(s.dir, ".tmp-"+name+"-")
	if err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	final := filepath.Join(s.dir, name)
	placed := false
	defer func() {
		if !placed {
			os.RemoveAll(tmp)
		}
	}()
	if err := writePEFT(tmp, a, ""); err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	if len(extra) > 0 {
		if err := safetensors.Write(filepath.Join(tmp, ExtraFile), extra, safetensors.F32, nil); err != nil {
			return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
		}
	}
	if len(meta.Files) > 0 {
		fd := filepath.Join(tmp, filesDir)
		if err := os.Mkdir(fd, 0o755); err != nil {
			return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
		}
		for _, k := range e.FileNames {
			data := meta.Files[k]
			err := atomicfile.WriteFile(filepath.Join(fd, k), data)
			if err != nil {
				return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
			}
		}
		if err := atomicfile.SyncDir(tmp); err != nil {
			return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
		}
	}
	if err := hook("tensors"); err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	// Something under the final name that the manifest does not list is left from an interrupted
	// Add or Delete, or is the user's: it is moved aside, never deleted.
	if err := s.quarantine(name); err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	placed = true
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	if err := hook("renamed"); err != nil {
		return fmt.Errorf("lora: store %s: add %q: %w", s.dir, name, err)
	}
	next := s.man
	next.Adapters = append(slices.Clone(s.man.Adapters), e)
	sortEntries(next.Adapters)
	if err := s.writeManifest(next); err != nil {
		os.RemoveAll(final)
		return err
	}
	s.man = next
	return nil
}

// Get loads the named adapter for a model of config mc, with its Meta (Extra and Files included).
// The adapter's Name is name. A name the store does not hold gives ErrUnknownAdapter; a model whose
// shapes differ from the adapter's is refused with an error naming both shapes.
func (s *Store) Get(name string, mc model.Config) (*Adapter, Meta, error) {
	s.mu.RLock()
	known := s.index(name) >= 0
	s.mu.RUnlock()
	if !known {
		s.refresh() // another writer may have added it
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.index(name)
	if i < 0 {
		return nil, Meta{}, fmt.Errorf("%w: %q in store %s", ErrUnknownAdapter, name, s.dir)
	}
	e := s.man.Adapters[i]
	dir := filepath.Join(s.dir, name)
	a, err := loadPEFT(dir, mc)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("lora: store %s: get %q: %w", s.dir, name, err)
	}
	a.Name = name
	meta := e.Meta
	meta.Metrics = cloneMap(e.Metrics)
	if len(e.ExtraTensors) > 0 {
		path := filepath.Join(dir, ExtraFile)
		f, err := safetensors.Read(path)
		if err != nil {
			return nil, Meta{}, fmt.Errorf("lora: store %s: get %q: %w", s.dir, name, err)
		}
		if !slices.Equal(f.Names(), e.ExtraTensors) {
			return nil, Meta{}, fmt.Errorf("lora: store %s: get %q: %s holds %v, the manifest lists %v", s.dir, name, path, f.Names(), e.ExtraTensors)
		}
		meta.Extra = map[string]*model.Tensor{}
		for _, k := range e.ExtraTensors {
			data, shape, err := f.Float32(k)
			if err != nil {
				return nil, Meta{}, fmt.Errorf("lora: store %s: get %q: %w", s.dir, name, err)
			}
			meta.Extra[k] = &model.Tensor{Shape: shape, Data: data}
		}
	}
	if len(e.FileNames) > 0 {
		meta.Files = map[string][]byte{}
		for _, k := range e.FileNames {
			b, err := os.ReadFile(filepath.Join(dir, filesDir, k))
			if err != nil {
				return nil, Meta{}, fmt.Errorf("lora: store %s: get %q: %w", s.dir, name, err)
			}
			meta.Files[k] = b
		}
	}
	return a, meta, nil
}

// List returns the Meta of every adapter (Extra and Files nil), sorted by round, then name.
func (s *Store) List() []Meta {
	s.refresh()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Meta, len(s.man.Adapters))
	for i, e := range s.man.Adapters {
		out[i] = e.Meta
		out[i].Metrics = cloneMap(e.Metrics)
	}
	return out
}

// Delete removes the named adapter; a name the store does not hold gives ErrUnknownAdapter. The
// manifest drops it first, so an interrupted Delete leaves at worst an unlisted directory, which is
// ignored (and replaced by a later Add of the same name).
func (s *Store) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := s.lockAndReload()
	if err != nil {
		return fmt.Errorf("lora: store %s: delete %q: %w", s.dir, name, err)
	}
	defer unlock()
	i := s.index(name)
	if i < 0 {
		return fmt.Errorf("%w: %q in store %s", ErrUnknownAdapter, name, s.dir)
	}
	next := s.man
	next.Adapters = slices.Delete(slices.Clone(s.man.Adapters), i, i+1)
	if err := s.writeManifest(next); err != nil {
		return err
	}
	s.man = next
	if err := os.RemoveAll(filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("lora: store %s: delete %q: the manifest no longer lists it, but: %w", s.dir, name, err)
	}
	return nil
}

// readManifest reads and checks the manifest on disk.
func (s *Store) readManifest() (manifest, error) {
	var m manifest
	path := filepath.Join(s.dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("%w: %s: %v", ErrDamagedStore, path, err)
	}
	if m.Format != manifestFormat || m.Version != manifestVersion || m.BaseFingerprint != s.fingerprint {
		return m, fmt.Errorf("%w: %s changed under the store: format %q version %d base %s", ErrDamagedStore, path, m.Format, m.Version, m.BaseFingerprint)
	}
	return m, nil
}

// refresh replaces the in-memory manifest with the one on disk, if that one reads; readers take no
// file lock, since the manifest is replaced atomically.
func (s *Store) refresh() {
	m, err := s.readManifest()
	if err != nil {
		return
	}
	s.mu.Lock()
	s.man = m
	s.mu.Unlock()
}

// lockAndReload takes the store's file lock and re-reads the manifest (another process may have
// changed it); the caller holds s.mu and calls the returned function when done.
func (s *Store) lockAndReload() (func(), error) {
	unlock, err := lockFile(filepath.Join(s.dir, LockFile))
	if err != nil {
		return nil, err
	}
	m, err := s.readManifest()
	if err != nil {
		unlock()
		return nil, err
	}
	s.man = m
	// Under the lock no other writer is between MkdirTemp and Rename: a temporary directory is left
	// by a writer that died, and is removed.
	if stale, err := filepath.Glob(filepath.Join(s.dir, ".tmp-*")); err == nil {
		for _, p := range stale {
			os.RemoveAll(p)
		}
	}
	return unlock, nil
}

// quarantine moves whatever sits at the adapter path name (not listed by the manifest) into
// QuarantineDir under a unique name, and logs it.
func (s *Store) quarantine(name string) error {
	p := filepath.Join(s.dir, name)
	if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	q := filepath.Join(s.dir, QuarantineDir)
	if err := os.MkdirAll(q, 0o755); err != nil {
		return err
	}
	dst := filepath.Join(q, fmt.Sprintf("%s-%s", name, time.Now().UTC().Format("20060102T150405.000000000")))
	if err := os.Rename(p, dst); err != nil {
		return err
	}
	log.Printf("lora: store %s: %s is not listed in the manifest; moved to %s", s.dir, p, dst)
	return nil
}

// adapterDirs lists the subdirectories of dir that hold a PEFT adapter_config.json.
func adapterDirs(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range des {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, d.Name(), "adapter_config.json")); err == nil {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// RecoverStore rebuilds the manifest of the store in dir from its adapter directories, for a model
// of config mc with the given fingerprint: every directory holding adapter_config.json is loaded and
// checked against mc (a directory that does not load is reported, not listed), and listed with its
// name and what the directory holds (extra tensors, files); Task, Round and Metrics, which only the
// manifest knew, are empty. A readable manifest is merged: its entries keep their Meta. The old
// manifest, if any, is kept as manifest.json.damaged. It returns the opened store and the names of
// the directories it could not recover, with why.
func RecoverStore(dir, fingerprint string, mc model.Config) (*Store, map[string]error, error) {
	if fingerprint == "" {
		return nil, nil, fmt.Errorf("lora: recover store %s: empty base fingerprint", dir)
	}
	s := &Store{dir: dir, fingerprint: fingerprint}
	unlock, err := lockFile(filepath.Join(dir, LockFile))
	if err != nil {
		return nil, nil, fmt.Errorf("lora: recover store %s: %w", dir, err)
	}
	defer unlock()
	old, oldErr := s.readManifest()
	known := map[string]entry{}
	if oldErr == nil {
		for _, e := range old.Adapters {
			known[e.Name] = e
		}
	}
	names, err := adapterDirs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("lora: recover store %s: %w", dir, err)
	}
	failed := map[string]error{}
	m := manifest{Format: manifestFormat, Version: manifestVersion, BaseFingerprint: fingerprint, Adapters: []entry{}}
	for _, name := range names {
		sub := filepath.Join(dir, name)
		if err := validName(name); err != nil {
			failed[name] = err
			continue
		}
		if _, err := loadPEFT(sub, mc); err != nil {
			failed[name] = err
			continue
		}
		e, ok := known[name]
		if !ok {
			e = entry{Meta: Meta{Name: name}}
			if info, err := os.Stat(sub); err == nil {
				e.Created = info.ModTime().UTC()
			}
			if f, err := safetensors.Read(filepath.Join(sub, ExtraFile)); err == nil {
				e.ExtraTensors = f.Names()
			}
			if des, err := os.ReadDir(filepath.Join(sub, filesDir)); err == nil {
				for _, d := range des {
					if !d.IsDir() && validName(d.Name()) == nil {
						e.FileNames = append(e.FileNames, d.Name())
					}
				}
			}
		}
		m.Adapters = append(m.Adapters, e)
	}
	sortEntries(m.Adapters)
	path := filepath.Join(dir, ManifestFile)
	if _, err := os.Stat(path); err == nil {
		if err := os.Rename(path, path+".damaged"); err != nil {
			return nil, nil, fmt.Errorf("lora: recover store %s: %w", dir, err)
		}
	}
	if err := s.writeManifest(m); err != nil {
		return nil, nil, err
	}
	s.man = m
	return s, failed, nil
}

func (s *Store) writeManifest(m manifest) error {
	if m.Adapters == nil {
		m.Adapters = []entry{}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("lora: store %s: manifest: %w", s.dir, err)
	}
	b = append(b, '\n')
	err = atomicfile.WriteFile(filepath.Join(s.dir, ManifestFile), b)
	if err != nil {
		return fmt.Errorf("lora: store %s: manifest: %w", s.dir, err)
	}
	return nil
}

func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.Round, b.Round), strings.Compare(a.Name, b.Name))
	})
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// canonicalConfig holds the config.json fields that change what a model computes, with the derived
// defaults filled in; token ids, dtype names and max_position_embeddings (without llama3 scaling it
// does not change any output) are left out.
type canonicalConfig struct {
	HiddenSize        int                `json:"hidden_size"`
	IntermediateSize  int                `json:"intermediate_size"`
	NumHiddenLayers   int                `json:"num_hidden_layers"`
	NumAttentionHeads int                `json:"num_attention_heads"`
	NumKeyValueHeads  int                `json:"num_key_value_heads"`
	HeadDim           int                `json:"head_dim"`
	VocabSize         int                `json:"vocab_size"`
	RMSNormEps        float64            `json:"rms_norm_eps"`
	RopeTheta         float64            `json:"rope_theta"`
	RopeScaling       *model.RopeScaling `json:"rope_scaling"`
	TieWordEmbeddings bool               `json:"tie_word_embeddings"`
}

// Fingerprint identifies a base model: "sha256:" and the hex SHA-256 of its canonical config fields
// (sizes, heads, norm epsilon, RoPE θ and scaling, tied head, derived defaults filled in) and of every
// weight's name, shape and float32 bits, in sorted name order. Two checkpoints with the same
// fingerprint compute the same function; any changed bit of any weight changes it.
func Fingerprint(cfg model.Config, w model.Weights) string {
	c := cfg.WithDefaults()
	cc := canonicalConfig{
		HiddenSize: c.HiddenSize, IntermediateSize: c.IntermediateSize, NumHiddenLayers: c.NumHiddenLayers,
		NumAttentionHeads: c.NumAttentionHeads, NumKeyValueHeads: c.NumKeyValueHeads, HeadDim: c.HeadDim,
		VocabSize: c.VocabSize, RMSNormEps: c.RMSNormEps, RopeTheta: c.RopeTheta, TieWordEmbeddings: c.TieWordEmbeddings,
	}
	if c.RopeScaling.Kind() != "" {
		rs := *c.RopeScaling
		rs.RopeType, rs.Type = rs.Kind(), ""
		cc.RopeScaling = &rs
	}
	h := sha256.New()
	cj, _ := json.Marshal(cc)
	h.Write([]byte("config\x00"))
	h.Write(cj)
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	slices.Sort(names)
	buf := make([]byte, 0, 1<<16)
	for _, n := range names {
		t := w[n]
		buf = append(buf[:0], "\x00tensor\x00"...)
		buf = append(buf, n...)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(t.Shape)))
		for _, d := range t.Shape {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(d))
		}
		data := t.Float32() // a bfloat16-stored weight hashes as its float32 values
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(data)))
		for _, v := range data {
			if len(buf)+4 > cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		h.Write(buf)
		buf = buf[:0]
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
