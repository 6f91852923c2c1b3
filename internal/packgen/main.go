package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultSeed seeds every random choice of the generator (sampling, paraphrase templates,
// distractors, option order); it is the study's arXiv number.
const DefaultSeed = 241014753

// example mirrors eval.Example; packgen keeps its own copy so that the generator's output format does
// not move when eval does.
type example struct {
	ID          string   `json:"id"`
	Prompt      string   `json:"prompt"`
	Phrasings   []string `json:"phrasings,omitempty"`
	Answer      string   `json:"answer"`
	Paraphrases []string `json:"paraphrases,omitempty"`
	Novel       []string `json:"novel,omitempty"`
	Choices     []string `json:"choices,omitempty"`
}

// phrasings are all of an item's prompts: trained, held-out paraphrases and novel ones.
func (e example) phrasings() []string {
	return slices.Concat([]string{e.Prompt}, e.Phrasings, e.Paraphrases, e.Novel)
}

// built is one generated task or base group.
type built struct {
	def   taskDef
	items []example
	facts []fact // the facts behind items, in the same order
}

func main() {
	src := flag.String("src", "", "directory the source packages were unpacked into by fetch.sh (required)")
	out := flag.String("out", "packs/data", "output directory")
	seed := flag.Uint64("seed", DefaultSeed, "seed for all random choices")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "packgen: -src is required (see internal/packgen/fetch.sh)")
		os.Exit(2)
	}
	if err := generate(*src, *out, *seed); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// generate rebuilds every pack file under out from the sources under src.
func generate(src, out string, seed uint64) error {
	if err := checkVersions(src); err != nil {
		return err
	}
	var news []built
	for _, d := range newTasks {
		items, facts, err := buildTask(src, d, d.Name, seed)
		if err != nil {
			return err
		}
		news = append(news, built{d, items, facts})
	}
	var base []built
	for _, d := range baseGroups {
		items, facts, err := buildTask(src, d, "base-"+d.Name, seed)
		if err != nil {
			return err
		}
		base = append(base, built{d, items, facts})
	}
	if err := checkDisjoint(append(slices.Clone(news), base...)); err != nil {
		return err
	}
	general, err := generalText(src, news, seed)
	if err != nil {
		return err
	}

	files := map[string][]byte{}
	for _, b := range news {
		files["new/"+b.def.Name+".jsonl"] = jsonl(b.items)
	}
	var facts []example
	for _, b := range base {
		facts = append(facts, b.items...)
	}
	files["base/facts.jsonl"] = jsonl(facts)
	var textFiles []string
	nText := 0
	for i, sh := range shards(general.train) {
		name := fmt.Sprintf("base/general-%02d.txt", i+1)
		files[name] = sh
		textFiles = append(textFiles, name)
		nText += len(sh)
	}
	held := shards(general.heldOut)
	if len(held) != 1 {
		return fmt.Errorf("packgen: held-out text takes %d files, want 1", len(held))
	}
	files["base/heldout.txt"] = held[0]
	g := textInfo{files: textFiles, bytes: nText, heldOutBytes: len(held[0]), docs: len(general.train),
		heldOutDocs: len(general.heldOut), cookies: general.nCookies, entries: general.nEntries}
	files["tasks.json"] = manifest(news, base, len(facts), g, seed)
	files["README.md"] = readme(news, base, len(facts), g)
	files["new/PROVENANCE.md"] = provenanceNew(news, seed)
	files["base/PROVENANCE.md"] = provenanceBase(base, len(facts), g)

	if err := os.RemoveAll(filepath.Join(out, "base")); err != nil {
		return fmt.Errorf("packgen: %w", err)
	}
	for name, b := range files {
		p := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("packgen: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("packgen: %w", err)
		}
	}
	return nil
}

func taskRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// norm is the comparison key of a prompt or answer: lower case, letters and digits only.
func norm(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// fill puts the subject x into a template; a phrasing that starts with a lower-case letter (a
// template that opens with the subject) is capitalised.
func fill(tmpl, x string) string {
	s := strings.ReplaceAll(tmpl, "{X}", x)
	if r, n := utf8.DecodeRuneInString(s); unicode.IsLower(r) {
		s = string(unicode.ToUpper(r)) + s[n:]
	}
	return s
}

// buildTask derives the items of one task: facts are cleaned (ASCII only, subjects with two different
// answers dropped, duplicates merged), sorted by subject, optionally sampled, then templated.
func buildTask(src string, d taskDef, prefix string, seed uint64) ([]example, []fact, error) {
	raw, err := d.build(src)
	if err != nil {
		return nil, nil, err
	}
	bySubj := map[string][]fact{}
	for _, f := range raw {
		if f.Subject == "" || f.Answer == "" || !isASCII(f.Subject) || !isASCII(f.Answer) {
			continue
		}
		k := norm(f.Subject)
		bySubj[k] = append(bySubj[k], f)
	}
	var fs []fact
	for _, group := range bySubj {
		ok := true
		for _, f := range group[1:] {
			ok = ok && norm(f.Answer) == norm(group[0].Answer)
		}
		if ok {
			fs = append(fs, group[0])
		}
	}
	sortFacts(fs)
	r := taskRand(seed, d.Name)
	if d.Max > 0 && len(fs) > d.Max {
		perm := r.Perm(len(fs))[:d.Max]
		var keep []fact
		for _, i := range perm {
			keep = append(keep, fs[i])
		}
		fs = keep
		sortFacts(fs)
	}
	answers := map[string]bool{}
	for _, f := range fs {
		answers[f.Answer] = true
	}
	if d.Lettered {
		answers = map[string]bool{}
		for c, n := range continentNames {
			if c != "AN" {
				answers[n] = true
			}
		}
	}
	pool := slices.Sorted(func(yield func(string) bool) {
		for a := range answers {
			if !yield(a) {
				return
			}
		}
	})

	if len(d.Templates) < 8 || d.NTrain < 3 || d.NTrain >= len(d.Templates) {
		return nil, nil, fmt.Errorf("packgen: task %s: %d templates for %d trained phrasings (want at least 8, and 3 or more trained with one left to hold out)",
			d.Name, len(d.Templates), d.NTrain)
	}
	items := make([]example, 0, len(fs))
	for i, f := range fs {
		e := example{ID: fmt.Sprintf("%s-%04d", prefix, i+1), Answer: f.Answer}
		perm := r.Perm(len(d.Templates))
		e.Prompt = fill(d.Templates[perm[0]], f.Subject)
		for _, j := range perm[1:d.NTrain] {
			e.Phrasings = append(e.Phrasings, fill(d.Templates[j], f.Subject))
		}
		e.Paraphrases = []string{fill(d.Templates[perm[d.NTrain]], f.Subject)}
		for _, t := range d.Novel {
			e.Novel = append(e.Novel, fill(t, f.Subject))
		}
		if d.Choices > 0 {
			choices := []string{f.Answer}
			for _, j := range r.Perm(len(pool)) {
				if len(choices) == d.Choices {
					break
				}
				if norm(pool[j]) != norm(f.Answer) {
					choices = append(choices, pool[j])
				}
			}
			r.Shuffle(len(choices), func(a, b int) { choices[a], choices[b] = choices[b], choices[a] })
			if d.Lettered {
				var opts []string
				for k, c := range choices {
					letter := string(rune('A' + k))
					opts = append(opts, letter+") "+c)
					if c == f.Answer {
						e.Answer = letter
					}
				}
				o := " " + strings.Join(opts, " ")
				e.Prompt += o
				for _, ps := range [][]string{e.Phrasings, e.Paraphrases, e.Novel} {
					for k := range ps {
						ps[k] += o
					}
				}
			} else {
				e.Choices = choices
			}
		}
		items = append(items, e)
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("packgen: task %s: no items from its sources", d.Name)
	}
	return items, fs, nil
}

func sortFacts(fs []fact) {
	slices.SortFunc(fs, func(a, b fact) int {
		return cmpOr(strings.Compare(strings.ToLower(a.Subject), strings.ToLower(b.Subject)),
			strings.Compare(a.Subject, b.Subject), strings.Compare(a.Answer, b.Answer))
	})
}

func cmpOr(xs ...int) int {
	for _, x := range xs {
		if x != 0 {
			return x
		}
	}
	return 0
}

// checkDisjoint fails if any phrasing (trained or paraphrase) is shared by two items with different
// answers, or if a new task shares a phrasing with the base pack at all.
func checkDisjoint(all []built) error {
	type owner struct{ id, answer string }
	seen := map[string]owner{}
	var errs []error
	for _, b := range all {
		for _, e := range b.items {
			key := e.Answer
			if e.Choices == nil && len(e.Answer) == 1 { // lettered: compare with the options in the prompt
				key = e.Prompt
			}
			for _, p := range e.phrasings() {
				k := norm(p)
				if o, ok := seen[k]; ok && o.id != e.ID &&
					(o.answer != key || strings.HasPrefix(o.id, "base-") != strings.HasPrefix(e.ID, "base-")) {
					errs = append(errs, fmt.Errorf("packgen: %q phrased the same in %s and %s", p, o.id, e.ID))
				}
				seen[k] = owner{e.ID, key}
			}
		}
	}
	return errors.Join(errs...)
}

func jsonl(items []example) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, e := range items {
		if err := enc.Encode(e); err != nil {
			panic(err) // strings and slices of strings always encode
		}
	}
	return b.Bytes()
}
