package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accrete/accrete"
	"github.com/accrete/accrete/internal/docnum"
	"github.com/accrete/accrete/packs"
)

// The README states numbers and lists that a change elsewhere could silently make false. These tests
// check each against what it describes.

// readme returns README.md as docnum.Read gives it, so that a phrase can be found across a line break.
func readme(t *testing.T) string {
	t.Helper()
	return docnum.Read(t, filepath.Join("..", "..", "README.md"))
}

// says fails t unless the README (doc, from readme) says want.
func says(t *testing.T, doc, want string) {
	t.Helper()
	docnum.Says(t, "README.md", doc, want)
}

// numberWords spells the counts the README spells.
var numberWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
	"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"}

// spell returns n as the README writes a count: a word up to twenty, else digits with thousands commas.
func spell(n int) string {
	if n < len(numberWords) {
		return numberWords[n]
	}
	return docnum.Thousands(n)
}

// rate writes a learning rate as the README does: 3e-3, not 3e-03.
func rate(lr float64) string {
	return strings.Replace(strconv.FormatFloat(lr, 'e', -1, 64), "e-0", "e-", 1)
}

// TestReadmeCountsTheShippedData: the number of base facts the shipped model knows and the number of
// knowledge packs.
func TestReadmeCountsTheShippedData(t *testing.T) {
	doc := readme(t)
	base, err := packs.Base(packs.Options{})
	require.NoError(t, err)
	n := len(packs.Names())
	says(t, doc, fmt.Sprintf("knows %s real facts", spell(len(base.Test))))
	says(t, doc, fmt.Sprintf("%s knowledge packs of new facts", spell(n)))
	says(t, doc, fmt.Sprintf("over all %s packs", spell(n)))
}

// TestReadmeStatesTheTrainingDefaults: the defaults accrete.TrainDefaults fills in, and what
// -paper-settings sets.
func TestReadmeStatesTheTrainingDefaults(t *testing.T) {
	doc := readme(t)
	says(t, doc, fmt.Sprintf("accrete.TrainDefaults gives lr %s (adapters) or %s (FFT), %d epochs and at least %d optimizer steps per round",
		rate(accrete.DefaultAdapterRate), rate(accrete.DefaultFullRate), accrete.DefaultEpochs, accrete.DefaultMinSteps))

	o, err := parse([]string{"-paper-settings"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, o.lrLoRA, o.lrFFT, "the README states one rate for both")
	for _, want := range []string{
		fmt.Sprintf("at a constant learning rate of %s for LoRA and FFT alike (no grid, no warm-up)", rate(o.lrLoRA)),
		fmt.Sprintf("an effective batch of %d run as micro-batches of %d with gradient accumulation, %d epochs per task",
			o.batch, o.microBatch, o.epochs),
		fmt.Sprintf("repeated %d times (`-joint-repeat %d`", o.jointRepeat, o.jointRepeat),
	} {
		says(t, doc, want)
	}
	assert.Zero(t, o.warmup)
	assert.False(t, o.lrGrid)
}

// TestReadmeListsEveryMetric: the metrics a tasks.json manifest may name are eval's, all of them (read
// from the Metric constants in eval/task.go, so that a new one must be added to the README).
func TestReadmeListsEveryMetric(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "eval", "task.go"))
	require.NoError(t, err)
	var want []string
	for _, m := range regexp.MustCompile(`(?m)^\s+\w+\s+Metric = "(\w+)"`).FindAllStringSubmatch(string(src), -1) {
		want = append(want, m[1])
	}
	require.NotEmpty(t, want)
	list := regexp.MustCompile("metrics are ((?:`\\w+`, )*`\\w+`) —").FindStringSubmatch(readme(t))
	require.NotNil(t, list, "README's metric list")
	var got []string
	for _, m := range strings.Split(list[1], ", ") {
		got = append(got, strings.Trim(m, "`"))
	}
	assert.ElementsMatch(t, want, got)
}

// TestReadmeNamesRegisteredMethods: every method name the README gives for -methods is one, and its
// table of optional strategies lists exactly the registered methods that neither the default run nor
// -full runs, as many as it says.
func TestReadmeNamesRegisteredMethods(t *testing.T) {
	doc := readme(t)
	var named []string
	for _, m := range regexp.MustCompile(`-methods ([\w.,-]+)`).FindAllStringSubmatch(doc, -1) {
		named = append(named, strings.Split(m[1], ",")...)
	}
	for _, m := range regexp.MustCompile("\\(`([\\w.-]+)`, `([\\w.-]+)`\\) does not fit").FindAllStringSubmatch(doc, -1) {
		named = append(named, m[1], m[2])
	}
	var table []string
	for _, m := range regexp.MustCompile("\\| [^|]* \\(`([\\w.-]+)`\\) \\| `").FindAllStringSubmatch(doc, -1) {
		table = append(table, m[1])
	}
	require.NotEmpty(t, named)
	require.NotEmpty(t, table, "README's table of optional strategies")
	for _, n := range append(named, table...) {
		_, ok := methodByName(n)
		assert.True(t, ok, "README names method %q, which examples/paper does not register", n)
	}
	full, err := parse([]string{"-full"}, io.Discard)
	require.NoError(t, err)
	var optional []string
	for _, n := range methodNames() {
		if !slices.Contains(full.methods, n) {
			optional = append(optional, n)
		}
	}
	assert.ElementsMatch(t, optional, table, "the optional methods")
	if m := regexp.MustCompile(`(\w+) more semi-cooperative strategies`).FindStringSubmatch(doc); m != nil {
		assert.Equal(t, spell(len(table)), strings.ToLower(m[1]), "the count of optional strategies")
	}
}

// TestReadmeListsThePackagesAndPrograms: the Packages table has a row for every package of the
// library, and the Programs paragraph names every program under examples/.
func TestReadmeListsThePackagesAndPrograms(t *testing.T) {
	doc := readme(t)
	root := filepath.Join("..", "..")
	var pkgs []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch first := strings.Split(rel, string(filepath.Separator))[0]; {
		case strings.HasPrefix(d.Name(), ".") && rel != ".", d.Name() == "testdata", d.Name() == "internal",
			first == "examples", first == "scratch", first == "out", first == "docs", first == "scripts":
			return filepath.SkipDir
		}
		if goFiles, _ := filepath.Glob(filepath.Join(path, "*.go")); len(goFiles) > 0 {
			pkgs = append(pkgs, filepath.ToSlash(rel))
		}
		return nil
	}))
	require.Contains(t, pkgs, "lora")
	table := doc[strings.Index(doc, "## Packages"):]
	table = table[:strings.Index(table, "Programs:")]
	for _, p := range pkgs {
		if p == "." {
			p = "accrete"
		}
		assert.True(t, strings.Contains(table, "`"+p+"`"), "the Packages table has no row for %s", p)
	}

	programs := doc[strings.Index(doc, "Programs:"):]
	programs = programs[:strings.Index(programs, "###")]
	dirs, err := os.ReadDir("..")
	require.NoError(t, err)
	for _, d := range dirs {
		if d.IsDir() && d.Name() != "internal" {
			assert.True(t, strings.Contains(programs, "`examples/"+d.Name()+"`"), "the Programs paragraph does not name examples/%s", d.Name())
		}
	}
	m := regexp.MustCompile("`examples/quickstart` \\(under (\\d+) lines\\)").FindStringSubmatch(programs)
	require.NotNil(t, m)
	limit, _ := strconv.Atoi(m[1])
	src, err := os.ReadFile(filepath.Join("..", "quickstart", "main.go"))
	require.NoError(t, err)
	assert.Less(t, strings.Count(string(src), "\n"), limit, "examples/quickstart/main.go's lines")
}

// TestDocNumbers: the defaults the program's doc comment states are its flags'.
func TestDocNumbers(t *testing.T) {
	doc := docnum.Read(t, "main.go")
	doc = doc[:strings.Index(doc, "package main")]
	o, err := parse(nil, io.Discard)
	require.NoError(t, err)
	docnum.Says(t, "main.go's doc comment", doc,
		fmt.Sprintf("Every method runs over -seeds seeds (default %d)", o.seeds),
		fmt.Sprintf("(-lr-grid, on by default): %.0f%% of every task's items", 100*validationShare))
	require.True(t, o.lrGrid)
	says(t, readme(t), fmt.Sprintf("by default one per core on a CPU backend with a model under %dM parameters", autoParallelParams/1_000_000))
}
