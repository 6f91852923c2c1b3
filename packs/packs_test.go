package packs_test

import (
	"index/suffixarray"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete/eval"
	"github.com/accrete/accrete/packs"
)

func norm(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

var options = regexp.MustCompile(` A\) .+ B\) .+ C\) .+ D\) .+$`)

func checkTask(t *testing.T, task eval.Task, want packs.Entry) {
	require.Equal(t, want.Items, len(task.Train), "manifest item count")
	require.GreaterOrEqual(t, len(task.Train), 100)
	require.Equal(t, task.Train, task.Test, "Test holds the trained facts")
	ids := map[string]bool{}
	for _, e := range task.Train {
		assert.False(t, ids[e.ID], "duplicate id %s", e.ID)
		ids[e.ID] = true
		assert.NotEmpty(t, e.Prompt, e.ID)
		assert.NotEmpty(t, e.Answer, e.ID)
		trained := append([]string{e.Prompt}, e.Phrasings...)
		held := append(slices.Clone(e.Paraphrases), e.Novel...)
		assert.Len(t, trained, want.Phrasings, "%s: trained phrasings", e.ID)
		assert.GreaterOrEqual(t, len(trained), 3, "%s: trained phrasings", e.ID)
		assert.Len(t, e.Paraphrases, want.Paraphrases, e.ID)
		assert.Len(t, e.Novel, want.Novel, e.ID)
		require.NotEmpty(t, held, e.ID)
		seen := map[string]bool{}
		for _, p := range append(trained, held...) {
			assert.False(t, seen[norm(p)], "%s: phrasing %q twice", e.ID, p)
			seen[norm(p)] = true
		}
		switch task.Metric {
		case eval.MultipleChoice:
			assert.Len(t, e.Choices, want.Choices, e.ID)
			assert.Contains(t, e.Choices, e.Answer, e.ID)
		case eval.FirstChar:
			assert.Regexp(t, options, e.Prompt, e.ID)
			assert.Contains(t, []string{"A", "B", "C", "D"}, e.Answer, e.ID)
			for _, p := range slices.Concat(e.Phrasings, e.Paraphrases, e.Novel) {
				assert.Regexp(t, options, p, e.ID)
			}
		default:
			assert.Empty(t, e.Choices, e.ID)
		}
	}
}

func TestTasksLoad(t *testing.T) {
	m, err := packs.ReadManifest()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(packs.Names()), 8)
	metrics := map[eval.Metric]bool{}
	for _, e := range m.Tasks {
		t.Run(e.Name, func(t *testing.T) {
			task, err := packs.Load(e.Name, packs.Options{})
			require.NoError(t, err)
			require.Equal(t, e.Name, task.Name)
			require.Equal(t, e.Metric, task.Metric)
			checkTask(t, task, e)
			metrics[task.Metric] = true
		})
	}
	for _, want := range []eval.Metric{eval.ExactMatch, eval.FirstChar, eval.MultipleChoice, eval.RougeL, eval.EditSim} {
		assert.True(t, metrics[want], "no task scored by %s", want)
	}
}

func TestBase(t *testing.T) {
	m, err := packs.ReadManifest()
	require.NoError(t, err)
	base, err := packs.Base(packs.Options{})
	require.NoError(t, err)
	require.Equal(t, eval.ExactMatch, base.Metric)
	require.GreaterOrEqual(t, len(base.Train), 1000)
	require.GreaterOrEqual(t, m.Base.Phrasings, 4, "each base fact is pretrained in at least 4 phrasings")
	require.GreaterOrEqual(t, m.Base.Templates, 8, "each relation has a pool of at least 8 templates")
	require.GreaterOrEqual(t, m.Base.Novel, 1)
	checkTask(t, base, m.Base)
	relations := map[string]int{}
	for _, e := range base.Train {
		relations[strings.Split(e.ID, "-")[1]]++
	}
	assert.GreaterOrEqual(t, len(relations), 8, "relations: %v", relations)

	text := packs.GeneralText()
	assert.Equal(t, m.General.Bytes, len(text))
	assert.GreaterOrEqual(t, len(text), 5_000_000, "at least 5 MB of real English text")
	docs := packs.Documents(text)
	assert.Equal(t, m.General.Documents, len(docs))
	held := packs.HeldOutText()
	assert.Equal(t, m.General.HeldOutDocs, len(held))
	inTrain := map[string]bool{}
	for _, d := range docs {
		inTrain[d] = true
	}
	for _, d := range held {
		assert.False(t, inTrain[d], "held-out document is also in the training text: %.60q", d)
	}
}

// TestNoLeak checks every shipped file: no phrasing of a new task (trained or held out) and no held-out
// phrasing of a base fact occurs in the text the base model is pretrained on (the general text and the
// base facts' trained phrasings), and the general text never names a new fact's subject beside every word
// of its answer.
func TestNoLeak(t *testing.T) {
	base, err := packs.Base(packs.Options{})
	require.NoError(t, err)
	text := packs.GeneralText()
	idx := suffixarray.New([]byte(strings.ToLower(text)))
	trained := map[string]string{}
	for _, e := range base.Train {
		for _, p := range append([]string{e.Prompt}, e.Phrasings...) {
			trained[norm(p)] = e.ID
		}
	}
	check := func(id, p string) {
		t.Helper()
		if other, ok := trained[norm(p)]; ok {
			t.Errorf("%s: phrasing %q is trained on as %s", id, p, other)
		}
		if idx.Lookup([]byte(strings.ToLower(p)), 1) != nil {
			t.Errorf("%s: phrasing %q occurs in the general text", id, p)
		}
	}
	n := 0
	for _, e := range base.Test {
		for _, p := range append(slices.Clone(e.Paraphrases), e.Novel...) {
			check(e.ID, p)
			n++
		}
	}
	tasks, err := packs.All(packs.Options{})
	require.NoError(t, err)
	for _, task := range tasks {
		for _, e := range task.Test {
			for _, p := range slices.Concat([]string{e.Prompt}, e.Phrasings, e.Paraphrases, e.Novel) {
				check(e.ID, p)
				n++
			}
		}
	}
	t.Logf("%d phrasings checked against %d bytes of general text and %d trained base phrasings", n, len(text), len(trained))
}

// TestDisjoint checks that no phrasing of a base fact is a phrasing of a new fact, that no
// prompt–answer pair is shared, and that the general text quotes no new verse.
func TestDisjoint(t *testing.T) {
	base, err := packs.Base(packs.Options{})
	require.NoError(t, err)
	phrasings := map[string]string{}
	pairs := map[[2]string]bool{}
	for _, e := range base.Train {
		for _, p := range slices.Concat([]string{e.Prompt}, e.Phrasings, e.Paraphrases, e.Novel) {
			phrasings[norm(p)] = e.ID
			pairs[[2]string{norm(p), norm(e.Answer)}] = true
		}
	}
	text := norm(packs.GeneralText())
	tasks, err := packs.All(packs.Options{})
	require.NoError(t, err)
	for _, task := range tasks {
		for _, e := range task.Train {
			for _, p := range slices.Concat([]string{e.Prompt}, e.Phrasings, e.Paraphrases, e.Novel) {
				if id, ok := phrasings[norm(p)]; ok {
					t.Errorf("%s and %s share the phrasing %q", id, e.ID, p)
				}
				assert.False(t, pairs[[2]string{norm(p), norm(e.Answer)}], e.ID)
			}
			if task.Metric == eval.RougeL {
				assert.NotContains(t, text, norm(e.Answer), "%s: general text quotes the answer", e.ID)
			}
		}
	}
}

func TestLoadLimit(t *testing.T) {
	full, err := packs.Load("capitals", packs.Options{})
	require.NoError(t, err)
	small, err := packs.Load("capitals", packs.Options{Limit: 10})
	require.NoError(t, err)
	require.Len(t, small.Train, 10)
	require.Len(t, small.Test, 10)
	assert.Equal(t, full.Train[0], small.Train[0])
	assert.True(t, slices.ContainsFunc(full.Train[len(full.Train)/2:], func(e eval.Example) bool {
		return e.ID == small.Train[9].ID
	}), "a limited task spans the whole task")
}

func TestTrainTestIndependent(t *testing.T) {
	task, err := packs.Load("collectives", packs.Options{})
	require.NoError(t, err)
	task.Train[0].Choices[0] = "changed"
	assert.NotEqual(t, "changed", task.Test[0].Choices[0])
}

func TestUnknownTask(t *testing.T) {
	_, err := packs.Load("no-such-task", packs.Options{})
	require.ErrorIs(t, err, packs.ErrUnknownTask)
}

func TestEmbeddedSize(t *testing.T) {
	var total int64
	// Every file stays under 5 MB (general text is cut into general-NN.txt shards); the whole under 12 MB.
	err := filepath.WalkDir("data", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := os.Stat(p)
		if err == nil {
			total += info.Size()
			assert.Less(t, info.Size(), int64(5<<20), "%s is %d bytes", p, info.Size())
		}
		return err
	})
	require.NoError(t, err)
	assert.Less(t, total, int64(12<<20), "embedded data is %d bytes", total)
}
