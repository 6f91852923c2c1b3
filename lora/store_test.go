package lora

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/internal/testmodel"
	"github.com/accrete/accrete/model"
)

// trainedLike returns an adapter whose B is random, so that it changes the model's outputs.
func trainedLike(t testing.TB, mc model.Config, cfg Config, seed uint64) *Adapter {
	t.Helper()
	a, err := NewAdapter("t", mc, cfg)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 5))
	for _, m := range a.Modules() {
		for i := range a.B[m].Data {
			a.B[m].Data[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	return a
}

var storeSeqs = [][]int{{1, 5, 6, 7, 8}, {1, 9, 3}}

func logitsWith(t testing.TB, m *model.Model, a *Adapter) [][][]float32 {
	t.Helper()
	m.SetAdapter(a)
	defer m.SetAdapter(nil)
	out, err := m.Logits(storeSeqs)
	require.NoError(t, err)
	return out
}

func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestStoreRoundTrip(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	fp := Fingerprint(m.Config, m.Weights)
	dir := t.TempDir()
	s, err := OpenStore(dir, fp)
	require.NoError(t, err)
	require.Empty(t, s.List())

	created := time.Date(2026, 11, 27, 12, 0, 0, 123, time.UTC)
	adapters := map[string]*Adapter{
		"facts-2": trainedLike(t, m.Config, Config{Rank: 4, Seed: 1}, 1),
		"facts-1": trainedLike(t, m.Config, Config{Rank: 2, Alpha: 3, TargetModules: []string{"v_proj", "q_proj"}, Seed: 2}, 2),
		"alpha":   trainedLike(t, m.Config, Config{Rank: 3, RSLoRA: true, Dropout: 0.05, TargetModules: []string{"down_proj"}, Seed: 3}, 3),
	}
	metas := map[string]Meta{
		"facts-2": {Task: "facts", Round: 2, Created: created, Metrics: map[string]float64{"acc": 0.75, "loss": 0.125}},
		"facts-1": {Task: "facts", Round: 1, Created: created,
			Extra: map[string]*model.Tensor{"router.weight": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}}},
		"alpha": {Task: "alpha", Round: 2, Files: map[string][]byte{"notes.txt": []byte("hello\n")}},
	}
	want := map[string][][][]float32{}
	for _, name := range []string{"facts-2", "facts-1", "alpha"} {
		require.NoError(t, s.Add(name, adapters[name], metas[name]))
		want[name] = logitsWith(t, m, adapters[name])
	}
	base, err := m.Logits(storeSeqs)
	require.NoError(t, err)

	s2, err := OpenStore(dir, fp)
	require.NoError(t, err)
	list := s2.List()
	var names []string
	for _, meta := range list {
		names = append(names, meta.Name)
		require.Nil(t, meta.Extra)
		require.Nil(t, meta.Files)
	}
	require.Equal(t, []string{"facts-1", "alpha", "facts-2"}, names, "sorted by round, then name")
	require.Equal(t, s.List(), list)
	require.False(t, list[1].Created.IsZero(), "a zero Created becomes the time of Add")

	for name, a := range adapters {
		got, meta, err := s2.Get(name, m.Config)
		require.NoError(t, err)
		require.Equal(t, name, got.Name)
		require.Equal(t, name, meta.Name)
		require.Equal(t, metas[name].Task, meta.Task)
		require.Equal(t, metas[name].Round, meta.Round)
		require.Equal(t, metas[name].Metrics, meta.Metrics)
		require.Equal(t, metas[name].Extra, meta.Extra)
		require.Equal(t, metas[name].Files, meta.Files)
		if !metas[name].Created.IsZero() {
			require.True(t, created.Equal(meta.Created), "%v != %v", meta.Created, created)
		}
		require.Equal(t, a.A, got.A)
		require.Equal(t, a.B, got.B)
		lg := logitsWith(t, m, got)
		require.Equal(t, want[name], lg, "%s: logits after the round trip", name)
		require.NotEqual(t, base, lg, "%s: the adapter changes the logits", name)
	}

	// Each adapter directory is a PEFT adapter on its own.
	a, err := LoadPEFT(filepath.Join(dir, "facts-2"), m.Config)
	require.NoError(t, err)
	require.Equal(t, adapters["facts-2"].B, a.B)

	require.NoError(t, s2.Delete("facts-1"))
	require.Len(t, s2.List(), 2)
	require.NoDirExists(t, filepath.Join(dir, "facts-1"))
	s3, err := OpenStore(dir, fp)
	require.NoError(t, err)
	require.Equal(t, s2.List(), s3.List())
	_, _, err = s3.Get("facts-1", m.Config)
	require.ErrorIs(t, err, ErrUnknownAdapter)
}

func TestStoreRefusesAnotherBase(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	fp := Fingerprint(m.Config, m.Weights)
	dir := t.TempDir()
	_, err := OpenStore(dir, fp)
	require.NoError(t, err)

	w := m.Weights.Clone()
	w["model.norm.weight"].Data[3] = math.Nextafter32(w["model.norm.weight"].Data[3], 2)
	other := Fingerprint(m.Config, w)
	require.NotEqual(t, fp, other)
	_, err = OpenStore(dir, other)
	require.ErrorIs(t, err, ErrBaseMismatch)
	require.ErrorContains(t, err, fp)
	require.ErrorContains(t, err, other)
}

func TestStoreGetRefusesOtherShapes(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	s, err := OpenStore(t.TempDir(), Fingerprint(m.Config, m.Weights))
	require.NoError(t, err)
	require.NoError(t, s.Add("a", trainedLike(t, m.Config, Config{Rank: 4, TargetModules: []string{"up_proj"}}, 1), Meta{}))
	mc := m.Config
	mc.IntermediateSize = 96
	_, _, err = s.Get("a", mc)
	require.Error(t, err)
	require.ErrorContains(t, err, "[64 4]")
	require.ErrorContains(t, err, "[96 4]")
	require.ErrorContains(t, err, "up_proj.lora_B.weight")
}

func TestStoreErrors(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	dir := t.TempDir()
	s, err := OpenStore(dir, Fingerprint(m.Config, m.Weights))
	require.NoError(t, err)
	a := trainedLike(t, m.Config, Config{Rank: 2, TargetModules: []string{"q_proj"}}, 1)
	require.NoError(t, s.Add("a", a, Meta{Round: 1}))
	require.ErrorIs(t, s.Add("a", a, Meta{Round: 2}), ErrExists)
	_, _, err = s.Get("b", m.Config)
	require.ErrorIs(t, err, ErrUnknownAdapter)
	require.ErrorIs(t, s.Delete("b"), ErrUnknownAdapter)

	for _, name := range []string{"", ".", "..", ".hidden", "a/b", `a\b`, "../x", "c:d", "manifest.json", "tab\there"} {
		t.Run(fmt.Sprintf("name %q", name), func(t *testing.T) {
			err := s.Add(name, a, Meta{})
			require.Error(t, err)
			require.ErrorContains(t, err, "name")
		})
	}
	err = s.Add("nan", a, Meta{Metrics: map[string]float64{"acc": math.NaN()}})
	require.ErrorContains(t, err, `metric "acc"`)
	err = s.Add("badfile", a, Meta{Files: map[string][]byte{"../x": nil}})
	require.ErrorContains(t, err, `"../x"`)
	bad := a.Clone()
	for mod := range bad.A {
		bad.A[mod] = model.NewTensor(2, 5)
	}
	err = s.Add("bad", bad, Meta{})
	require.ErrorContains(t, err, "lora_A has shape [2 5]")
	require.Equal(t, []string{LockFile, "a", ManifestFile}, dirEntries(t, dir), "refused adds leave nothing behind")

	_, err = OpenStore(t.TempDir(), "")
	require.Error(t, err)
}

func TestStoreInterruptedAddLeavesStoreAsBefore(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	fp := Fingerprint(m.Config, m.Weights)
	for _, stage := range []string{"tensors", "renamed"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenStore(dir, fp)
			require.NoError(t, err)
			a1 := trainedLike(t, m.Config, Config{Rank: 2, Seed: 1}, 1)
			a2 := trainedLike(t, m.Config, Config{Rank: 4, Seed: 2}, 2)
			require.NoError(t, s.Add("r1", a1, Meta{Round: 1, Task: "one"}))
			require.NoError(t, s.Add("r2", a2, Meta{Round: 2, Task: "two"}))
			before := s.List()
			manifestBefore, err := os.ReadFile(filepath.Join(dir, ManifestFile))
			require.NoError(t, err)

			crash := errors.New("simulated crash")
			storeHook = func(st string) error {
				if st == stage {
					return crash
				}
				return nil
			}
			err = s.Add("r3", trainedLike(t, m.Config, Config{Rank: 3}, 3), Meta{Round: 3,
				Extra: map[string]*model.Tensor{"x": {Shape: []int{1}, Data: []float32{1}}}})
			storeHook = nil
			require.ErrorIs(t, err, crash)

			after, err := os.ReadFile(filepath.Join(dir, ManifestFile))
			require.NoError(t, err)
			require.Equal(t, string(manifestBefore), string(after))
			// A crash can also leave a temporary directory with partial files behind.
			junk := filepath.Join(dir, ".tmp-r4-123")
			require.NoError(t, os.Mkdir(junk, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(junk, PEFTWeightsFile), []byte("partial"), 0o644))

			for _, st := range []*Store{s, mustOpen(t, dir, fp)} {
				require.Equal(t, before, st.List())
				for name, a := range map[string]*Adapter{"r1": a1, "r2": a2} {
					got, _, err := st.Get(name, m.Config)
					require.NoError(t, err)
					require.Equal(t, a.B, got.B)
				}
				_, _, err = st.Get("r3", m.Config)
				require.ErrorIs(t, err, ErrUnknownAdapter)
			}
			if stage == "tensors" {
				require.Equal(t, []string{LockFile, ".tmp-r4-123", ManifestFile, "r1", "r2"}, dirEntries(t, dir))
			}
			// The name is free again: a new Add replaces whatever the crash left under it.
			a3 := trainedLike(t, m.Config, Config{Rank: 3, TargetModules: []string{"k_proj"}}, 4)
			require.NoError(t, s.Add("r3", a3, Meta{Round: 3}))
			got, meta, err := mustOpen(t, dir, fp).Get("r3", m.Config)
			require.NoError(t, err)
			require.Equal(t, a3.B, got.B)
			require.Nil(t, meta.Extra)
			require.NoFileExists(t, filepath.Join(dir, "r3", ExtraFile))
			require.NoDirExists(t, junk, "a writer's stale temporary directory is removed under the lock")
			q, _ := os.ReadDir(filepath.Join(dir, QuarantineDir))
			if stage == "renamed" {
				require.Len(t, q, 1, "the unlisted r3 left by the crash is moved aside, not deleted")
			} else {
				require.Empty(t, q)
			}
		})
	}
}

// TestStoreSeveralWriters has several processes' worth of writers (separate Store values on one
// directory, each taking the file lock) add adapters at once: none is lost.
func TestStoreSeveralWriters(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	fp := Fingerprint(m.Config, m.Weights)
	dir := t.TempDir()
	a := trainedLike(t, m.Config, Config{Rank: 2, Seed: 1}, 1)
	const writers, each = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenStore(dir, fp)
			if err != nil {
				errs <- err
				return
			}
			for i := range each {
				errs <- s.Add(fmt.Sprintf("w%d-%02d", w, i), a, Meta{Round: i})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, mustOpen(t, dir, fp).List(), writers*each)
}

// TestStoreSeveralProcesses runs writers in child processes (the test binary itself), each with its
// own flock, and checks that the manifest lists every adapter.
func TestStoreSeveralProcesses(t *testing.T) {
	if dir := os.Getenv("ACCRETE_STORE_CHILD"); dir != "" {
		m := testmodel.Tiny(t, tinyConfig, 1)
		s := mustOpen(t, dir, Fingerprint(m.Config, m.Weights))
		a := trainedLike(t, m.Config, Config{Rank: 2, Seed: 1}, 1)
		for i := range 10 {
			require.NoError(t, s.Add(fmt.Sprintf("%s-%02d", os.Getenv("ACCRETE_STORE_WRITER"), i), a, Meta{Round: i}))
		}
		return
	}
	m := testmodel.Tiny(t, tinyConfig, 1)
	fp := Fingerprint(m.Config, m.Weights)
	dir := t.TempDir()
	mustOpen(t, dir, fp)
	var cmds []*exec.Cmd
	for w := range 3 {
		c := exec.Command(os.Args[0], "-test.run", "^TestStoreSeveralProcesses$")
		c.Env = append(os.Environ(), "ACCRETE_STORE_CHILD="+dir, fmt.Sprintf("ACCRETE_STORE_WRITER=p%d", w))
		require.NoError(t, c.Start())
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		require.NoError(t, c.Wait())
	}
	require.Len(t, mustOpen(t, dir, fp).List(), 30)
}

// TestStoreMissingManifest: a manifest deleted while adapters are on disk is refused with what was
// found, and RecoverStore lists every adapter that loads again.
func TestStoreMissingManifest(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	fp := Fingerprint(m.Config, m.Weights)
	dir := t.TempDir()
	s := mustOpen(t, dir, fp)
	a := trainedLike(t, m.Config, Config{Rank: 2, Seed: 1}, 1)
	require.NoError(t, s.Add("r01", a, Meta{Round: 1, Task: "one"}))
	require.NoError(t, s.Add("r02", a, Meta{Round: 2, Task: "two"}))
	require.NoError(t, os.Remove(filepath.Join(dir, ManifestFile)))
	_, err := OpenStore(dir, fp)
	require.ErrorIs(t, err, ErrDamagedStore)
	require.ErrorContains(t, err, "[r01 r02]")

	require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte("{not json"), 0o644))
	_, err = OpenStore(dir, fp)
	require.ErrorIs(t, err, ErrDamagedStore)

	require.NoError(t, os.Mkdir(filepath.Join(dir, "broken"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken", "adapter_config.json"), []byte("{}"), 0o644))
	r, failed, err := RecoverStore(dir, fp, m.Config)
	require.NoError(t, err)
	require.Contains(t, failed, "broken")
	var names []string
	for _, meta := range r.List() {
		names = append(names, meta.Name)
	}
	require.Equal(t, []string{"r01", "r02"}, names)
	got, _, err := mustOpen(t, dir, fp).Get("r02", m.Config)
	require.NoError(t, err)
	require.Equal(t, a.B, got.B)
	require.FileExists(t, filepath.Join(dir, ManifestFile+".damaged"))
}

func mustOpen(t testing.TB, dir, fp string) *Store {
	t.Helper()
	s, err := OpenStore(dir, fp)
	require.NoError(t, err)
	return s
}

func TestStoreConcurrentReaders(t *testing.T) {
	m := testmodel.Tiny(t, tinyConfig, 1)
	s, err := OpenStore(t.TempDir(), Fingerprint(m.Config, m.Weights))
	require.NoError(t, err)
	a := trainedLike(t, m.Config, Config{Rank: 2, TargetModules: []string{"o_proj"}}, 1)
	require.NoError(t, s.Add("base", a, Meta{}))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 4 {
		wg.Go(func() {
			for j := range 5 {
				if i == 0 {
					if err := s.Add(fmt.Sprintf("n%d", j), a, Meta{Round: j}); err != nil {
						errs <- err
					}
					continue
				}
				got, _, err := s.Get("base", m.Config)
				if err != nil {
					errs <- err
				} else if !slices.Equal(got.B[Module{0, "o_proj"}].Data, a.B[Module{0, "o_proj"}].Data) {
					errs <- errors.New("read a different adapter")
				}
				for _, meta := range s.List() {
					if _, _, err := s.Get(meta.Name, m.Config); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, s.List(), 6)
}

func TestFingerprint(t *testing.T) {
	cfg := tinyConfig
	w := model.RandomWeights(cfg, rand.New(rand.NewPCG(1, 2)), 0.05, 0)
	fp := Fingerprint(cfg, w)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, fp)
	require.Equal(t, fp, Fingerprint(cfg, w.Clone()))
	same := cfg
	same.TorchDType, same.HeadDim = "bfloat16", cfg.HiddenSize/cfg.NumAttentionHeads // irrelevant or derived
	require.Equal(t, fp, Fingerprint(same, w))

	flipped := w.Clone()
	flipped["model.layers.1.mlp.down_proj.weight"].Data[7] = -flipped["model.layers.1.mlp.down_proj.weight"].Data[7]
	theta := cfg
	theta.RopeTheta = 500000
	eps := cfg
	eps.RMSNormEps = 1e-6
	renamed := w.Clone()
	renamed["extra"] = renamed["model.norm.weight"]
	for name, other := range map[string]string{
		"one weight":  Fingerprint(cfg, flipped),
		"rope theta":  Fingerprint(theta, w),
		"norm eps":    Fingerprint(eps, w),
		"extra entry": Fingerprint(cfg, renamed),
	} {
		require.NotEqual(t, fp, other, name)
	}
}
