package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// generalFiles are the fortune files the general-text corpus is made of, in order. The files of
// fortunes-off are never used; of fortunes, those on politics, ethnicity, drugs, the sexes and song
// lyrics are left out.
var generalFiles = []struct {
	src  source
	name string
}{
	{srcFortunesMin, "fortunes"}, {srcFortunesMin, "literature"}, {srcFortunesMin, "riddles"},
	{srcFortunes, "wisdom"}, {srcFortunes, "education"}, {srcFortunes, "food"}, {srcFortunes, "kids"},
	{srcFortunes, "pets"}, {srcFortunes, "platitudes"}, {srcFortunes, "magic"}, {srcFortunes, "goedel"},
	{srcFortunes, "paradoxum"}, {srcFortunes, "science"}, {srcFortunes, "people"}, {srcFortunes, "humorists"},
	{srcFortunes, "miscellaneous"}, {srcFortunes, "work"},
}

const (
	maxCookie  = 1200   // longer cookies are dropped (mostly ASCII art and long stories)
	maxGeneral = 900000 // bytes; files are added in order until the next cookie would pass this
)

// generalText builds base/general.txt: fortune cookies in file order, one blank line between cookies,
// dropping cookies that are not ASCII or too long, and cookies that could leak a new-knowledge fact:
// those that contain a new task's subject or answer of at least 16 normalised characters (verse lines,
// events), or that name both a new fact's subject and its answer as whole words.
func generalText(src string, news []built) (string, int, error) {
	var leaks []string
	var pairs [][2]string
	for _, b := range news {
		for _, f := range b.facts {
			for _, s := range []string{f.Subject, f.Answer} {
				if k := norm(s); len(k) >= 16 {
					leaks = append(leaks, k)
				}
			}
			pairs = append(pairs, [2]string{words(f.Subject), words(f.Answer)})
		}
	}
	var sb strings.Builder
	n := 0
	for _, f := range generalFiles {
		cookies, err := fortunes(src, f.src, f.name)
		if err != nil {
			return "", 0, err
		}
	next:
		for _, c := range cookies {
			if len(c) > maxCookie || !isASCII(strings.ReplaceAll(c, "\n", " ")) {
				continue
			}
			k, w := norm(c), words(c)
			for _, l := range leaks {
				if strings.Contains(k, l) {
					continue next
				}
			}
			for _, p := range pairs {
				if strings.Contains(w, p[0]) && strings.Contains(w, p[1]) {
					continue next
				}
			}
			if sb.Len()+len(c)+2 > maxGeneral {
				return sb.String(), n, nil
			}
			sb.WriteString(c)
			sb.WriteString("\n\n")
			n++
		}
	}
	return sb.String(), n, nil
}

// words is s in lower case with every run of non-alphanumerics turned into one space and a space at
// both ends, so that strings.Contains(words(a), words(b)) matches b as whole words of a.
func words(s string) string {
	return " " + strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ") + " "
}

// manifestTask is one entry of tasks.json.
type manifestTask struct {
	Name        string `json:"name"`
	Metric      string `json:"metric"`
	File        string `json:"file"`
	Items       int    `json:"items"`
	Paraphrases int    `json:"paraphrases"`
	Choices     int    `json:"choices,omitempty"`
	Description string `json:"description"`
	Source      string `json:"source"`
	Licence     string `json:"licence"`
}

type manifestText struct {
	File        string `json:"file"`
	Bytes       int    `json:"bytes"`
	Description string `json:"description"`
	Source      string `json:"source"`
	Licence     string `json:"licence"`
}

type manifestDoc struct {
	Seed    uint64         `json:"seed"`
	Tasks   []manifestTask `json:"tasks"`
	Base    manifestTask   `json:"base"`
	General manifestText   `json:"general"`
}

func sourceLine(ss []source) (src, lic string) {
	var a, l []string
	for _, s := range ss {
		a = append(a, fmt.Sprintf("%s %s (%s)", s.Package, s.Version, s.Registry))
		if !contains(l, s.Licence) {
			l = append(l, s.Licence)
		}
	}
	return strings.Join(a, "; "), strings.Join(l, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func manifest(news []built, nFacts, nGeneral int, seed uint64) []byte {
	doc := manifestDoc{Seed: seed}
	for _, b := range news {
		s, l := sourceLine(b.def.Sources)
		doc.Tasks = append(doc.Tasks, manifestTask{
			Name: b.def.Name, Metric: b.def.Metric, File: "new/" + b.def.Name + ".jsonl", Items: len(b.items),
			Paraphrases: b.def.NPara, Choices: b.def.Choices, Description: b.def.Description, Source: s, Licence: l,
		})
	}
	bs, bl := sourceLine([]source{srcBsdgames, srcCountries})
	doc.Base = manifestTask{Name: "base", Metric: "exact_match", File: "base/facts.jsonl", Items: nFacts, Paraphrases: 1,
		Description: "Old knowledge the base model is pretrained on: European, US-state and Canadian capitals, US postal " +
			"abbreviations, US presidents' and English sovereigns' successors, times tables, female forms, animal young.",
		Source: bs, Licence: bl}
	gs, gl := sourceLine([]source{srcFortunesMin, srcFortunes})
	doc.General = manifestText{File: "base/general.txt", Bytes: nGeneral,
		Description: "General English text for pretraining: fortune cookies (quotations, sayings, riddles), blank-line separated.",
		Source:      gs, Licence: gl}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func chance(d taskDef) string {
	if d.Choices > 0 {
		return fmt.Sprintf("%.0f%%", 100/float64(d.Choices))
	}
	return "≈0"
}

func readme(news, base []built, nFacts, nGeneral, nCookies int) []byte {
	var b strings.Builder
	b.WriteString(`# Knowledge packs

Generated by ` + "`go run ./internal/packgen -src DIR -out packs/data`" + ` (see internal/packgen); do not edit by hand.
Provenance and licences: new/PROVENANCE.md and base/PROVENANCE.md.

## Layout
- ` + "`tasks.json`" + ` — the manifest: ` + "`tasks`" + ` (new-knowledge tasks in the default round order), ` + "`base`" + ` (the
  base facts) and ` + "`general`" + ` (the pretraining text); each task entry has name, metric, file (relative to this
  directory), items, paraphrases (held-out phrasings per item), choices (multiple choice only), description,
  source and licence.
- ` + "`new/NAME.jsonl`" + ` — one new-knowledge task per file.
- ` + "`base/facts.jsonl`" + ` — the base model's old knowledge (exact_match); ids are ` + "`base-GROUP-NNNN`" + `.
- ` + "`base/general.txt`" + ` — general English text, cookies separated by a blank line.

## Item schema (eval.Example)
One JSON object per line: ` + "`{\"id\",\"prompt\",\"answer\",\"paraphrases\":[...],\"choices\":[...]}`" + `.
` + "`prompt`" + ` is the phrasing trained on; ` + "`paraphrases`" + ` are held-out phrasings of the same fact, only scored.
` + "`choices`" + ` (multiple_choice only) holds the answer and its distractors. For first_char tasks the lettered
options "A) … B) … C) … D) …" end the prompt and every paraphrase, and the answer is the letter.
Items are sorted by subject; ids are TASK-NNNN in that order.

## New-knowledge tasks (default round order)
| # | name | metric | items | paraphrases/item | chance | description |
| --- | --- | --- | --- | --- | --- | --- |
`)
	for i, t := range news {
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %d | %s | %s |\n", i+1, t.def.Name, t.def.Metric, len(t.items), t.def.NPara,
			chance(t.def), t.def.Description)
	}
	fmt.Fprintf(&b, `
Chance for exact_match is near zero (open answers); for rouge_l and edit_sim a base model scores above zero
from word and character overlap alone, so compare with the base model's score b[j], not with zero.

## Base pack
%d facts (exact_match, one held-out paraphrase each) and %d bytes of general text (%d cookies).

| group | items | trained prompt |
| --- | --- | --- |
`, nFacts, nGeneral, nCookies)
	for _, g := range base {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", g.def.Name, len(g.items), g.def.Train)
	}
	b.WriteString(`
The new tasks share no fact with the base pack: no phrasing (trained or paraphrase) occurs in both, European
capitals are base while other capitals are new, and general.txt drops every cookie that quotes a new task's
subject or answer of 16 or more letters or names both a new fact's subject and its answer.
`)
	return []byte(b.String())
}

const bsdLicence = `Redistribution and use in source and binary forms, with or without modification, are permitted provided
that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of conditions and the
   following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the
   following disclaimer in the documentation and/or other materials provided with the distribution.
3. Neither the name of the University nor the names of its contributors may be used to endorse or promote
   products derived from this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE REGENTS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES,
INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED. IN NO EVENT SHALL THE REGENTS OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF
LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY
WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
`

const mitLicence = `Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do so, subject to the following
conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions
of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED
TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL
THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
DEALINGS IN THE SOFTWARE.
`

// inPackage names the files inside each package that the packs read.
var inPackage = map[string]string{
	"bsdgames":       "/" + quizDir + "/{collectives,bard,poetry,elements,latin,state,province,pres,sov,mult,sexes,babies}",
	"calendar":       "/" + calendarDir + "/{calendar.history,calendar.birthday,calendar.music}",
	"countries-list": countriesFile + " (inside the npm tarball)",
	"fortunes-min":   "/" + fortuneDir + "/{fortunes,literature,riddles}",
	"fortunes": "/" + fortuneDir + "/{wisdom,education,food,kids,pets,platitudes,magic,goedel,paradoxum,science," +
		"people,humorists,miscellaneous,work}",
}

func sourcesTable(b *strings.Builder, ss []source) {
	b.WriteString("| package | version | registry | licence | copyright | files used | fetched with |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, s := range ss {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | `%s` | `%s` |\n", s.Package, s.Version, s.Registry, s.Licence,
			s.Copyright, inPackage[s.Package], s.Fetch)
	}
}

func licences(b *strings.Builder, ss []source) {
	b.WriteString("\n## Licence texts\n")
	done := map[string]bool{}
	for _, s := range ss {
		if done[s.Copyright] {
			continue
		}
		done[s.Copyright] = true
		fmt.Fprintf(b, "\n### %s (%s)\n\n```\n%s\n\n", s.Package, s.Licence, s.Copyright)
		if s.Licence == "MIT" {
			b.WriteString(mitLicence)
		} else {
			b.WriteString(bsdLicence)
		}
		b.WriteString("```\n")
	}
}

const common = `Every source is unpacked by internal/packgen/fetch.sh (Debian packages with ` + "`dpkg-deb -x`" + `, the npm
tarball with tar) and turned into items by internal/packgen. Common rules: quiz(6) patterns are expanded to
their fullest form (optional "{x}" parts kept, the first of "a|b" / "[a|b]" alternatives taken); facts whose
subject or answer is not printable ASCII are dropped; a subject that has two different answers is dropped;
facts are sorted by subject; where a task keeps at most N facts, N are sampled with the seed; paraphrase
templates, distractors and option order are drawn from a PCG generator seeded with (seed, FNV-64a(task name)).
`

func provenanceNew(news []built, seed uint64) []byte {
	var b strings.Builder
	b.WriteString("# Provenance of the new-knowledge packs\n\nGenerated by internal/packgen; do not edit by hand.\n\n")
	b.WriteString(common)
	fmt.Fprintf(&b, "Seed: %d.\n\n## Sources\n", seed)
	sourcesTable(&b, []source{srcBsdgames, srcCalendar, srcCountries})
	b.WriteString("\n## Tasks\n")
	for _, t := range news {
		s, l := sourceLine(t.def.Sources)
		fmt.Fprintf(&b, "\n### %s.jsonl — %s, %d items\n- source: %s; licence %s\n- derivation: %s\n- trained prompt: `%s`\n- paraphrase templates (%d per item): `%s`\n",
			t.def.Name, t.def.Metric, len(t.items), s, l, t.def.Derivation, t.def.Train, t.def.NPara,
			strings.Join(t.def.Paraphrases, "`, `"))
		if t.def.Max > 0 {
			fmt.Fprintf(&b, "- sampled: at most %d facts\n", t.def.Max)
		}
	}
	licences(&b, []source{srcBsdgames, srcCalendar, srcCountries})
	return []byte(b.String())
}

func provenanceBase(base []built, nFacts, nGeneral, nCookies int) []byte {
	var b strings.Builder
	b.WriteString("# Provenance of the base pack\n\nGenerated by internal/packgen; do not edit by hand.\n\n")
	b.WriteString(common)
	b.WriteString("\n## Sources\n")
	sourcesTable(&b, []source{srcBsdgames, srcCountries, srcFortunesMin, srcFortunes})
	fmt.Fprintf(&b, "\n## facts.jsonl — exact_match, %d items\n", nFacts)
	for _, g := range base {
		s, l := sourceLine(g.def.Sources)
		fmt.Fprintf(&b, "- **%s** (%d items, ids base-%s-NNNN; %s; %s): %s Trained `%s`; paraphrases `%s`.\n",
			g.def.Name, len(g.items), g.def.Name, s, l, g.def.Derivation, g.def.Train, strings.Join(g.def.Paraphrases, "`, `"))
	}
	fmt.Fprintf(&b, "\n## general.txt — %d bytes, %d cookies\n", nGeneral, nCookies)
	var names []string
	for _, f := range generalFiles {
		names = append(names, f.src.Package+":"+f.name)
	}
	fmt.Fprintf(&b, "Fortune cookies from, in this order: %s. Each cookie's lines are trimmed and their inner "+
		"whitespace collapsed; cookies are separated by a blank line. Dropped: cookies that are not ASCII, longer "+
		"than %d bytes, that contain (letters and digits only, lower case) any subject or answer of a new task "+
		"of 16 or more characters, or that name both the subject and the answer of a new fact as whole words. Files are read in order until %d bytes. fortunes-off (offensive cookies) is "+
		"not used; from fortunes the files on politics, ethnicity, drugs, men-women, law, medicine and song lyrics "+
		"are left out.\n", strings.Join(names, ", "), maxCookie, maxGeneral)
	licences(&b, []source{srcBsdgames, srcCountries, srcFortunesMin})
	return []byte(b.String())
}
