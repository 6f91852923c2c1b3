package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
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
	maxCookie  = 700     // longer cookies are dropped (mostly ASCII art and long stories), so every document fits a short context
	maxDoc     = 700     // bytes of WordNet entries per document at most
	maxGeneral = 900000  // bytes of fortune cookies; files are added in order until the next cookie would pass this
	maxWordnet = 8000000 // bytes of WordNet entries; a seeded sample of documents when there are more
	heldOutPct = 5       // percent of the documents held out (heldout.txt) to measure bits per byte
	shardBytes = 4 << 20 // general-NN.txt files are cut at document boundaries below this size
)

// corpus is the general text: documents for pretraining and held-out documents that no training
// ever sees.
type corpus struct {
	train, heldOut []string
	nCookies       int // fortune cookies among the documents
	nEntries       int // WordNet entries among the documents
}

// leakFilter tells documents that could leak a new-knowledge fact: those that contain a new task's
// subject or answer of at least 16 normalised characters (verse lines, events), or that name a new
// fact's subject and every word of its answer as whole words.
type leakFilter struct {
	long  []string
	pairs []leakPair
}

type leakPair struct {
	subject string   // words() of the subject
	answer  []string // " w " for every word of the answer
}

func newLeakFilter(news []built) leakFilter {
	var lf leakFilter
	for _, b := range news {
		for _, f := range b.facts {
			for _, s := range []string{f.Subject, f.Answer} {
				if k := norm(s); len(k) >= 16 {
					lf.long = append(lf.long, k)
				}
			}
			p := leakPair{subject: words(f.Subject)}
			for _, w := range strings.Fields(words(f.Answer)) {
				p.answer = append(p.answer, " "+w+" ")
			}
			lf.pairs = append(lf.pairs, p)
		}
	}
	return lf
}

func (lf leakFilter) leaks(doc string) bool {
	k, w := norm(doc), words(doc)
	for _, l := range lf.long {
		if strings.Contains(k, l) {
			return true
		}
	}
next:
	for _, p := range lf.pairs {
		if !strings.Contains(w, p.subject) {
			continue
		}
		for _, a := range p.answer {
			if !strings.Contains(w, a) {
				continue next
			}
		}
		return true
	}
	return false
}

// generalText builds the general-text corpus: fortune cookies in file order (one document each,
// dropping cookies that are not ASCII or too long), then WordNet's glosses written out as dictionary
// entries, entriesPer to a document in WordNet's order. Documents that could leak a new-knowledge fact
// (leakFilter) are dropped; heldOutPct percent of the rest, drawn with the seed, are held out.
func generalText(src string, news []built, seed uint64) (corpus, error) {
	lf := newLeakFilter(news)
	var c corpus
	var docs []string
	dup := map[string]bool{} // a cookie found in two files is kept once
	size := 0
files:
	for _, f := range generalFiles {
		cookies, err := fortunes(src, f.src, f.name)
		if err != nil {
			return c, err
		}
		for _, ck := range cookies {
			if len(ck) > maxCookie || !isASCII(strings.ReplaceAll(ck, "\n", " ")) || dup[ck] || lf.leaks(ck) {
				continue
			}
			dup[ck] = true
			if size+len(ck)+2 > maxGeneral {
				break files
			}
			docs = append(docs, ck)
			size += len(ck) + 2
			c.nCookies++
		}
	}
	entries, err := wordnetEntries(src)
	if err != nil {
		return c, err
	}
	var wdocs []string
	var wn []int
	wsize := 0
	for s := 0; s < len(entries); {
		e := s + 1
		for n := len(entries[s]); e < len(entries) && n+1+len(entries[e]) <= maxDoc; e++ {
			n += 1 + len(entries[e])
		}
		d := strings.Join(entries[s:e], "\n")
		if len(d) <= maxDoc && !dup[d] && !lf.leaks(d) {
			dup[d] = true
			wdocs = append(wdocs, d)
			wn = append(wn, e-s)
			wsize += len(d) + 2
		}
		s = e
	}
	r := taskRand(seed, "general")
	keep := make([]bool, len(wdocs))
	for _, i := range r.Perm(len(wdocs)) {
		if wsize <= maxWordnet {
			keep[i] = true
			continue
		}
		wsize -= len(wdocs[i]) + 2
	}
	for i, d := range wdocs {
		if keep[i] {
			docs = append(docs, d)
			c.nEntries += wn[i]
		}
	}
	held := map[int]bool{}
	for _, i := range r.Perm(len(docs))[:len(docs)*heldOutPct/100] {
		held[i] = true
	}
	for i, d := range docs {
		if held[i] {
			c.heldOut = append(c.heldOut, d)
		} else {
			c.train = append(c.train, d)
		}
	}
	return c, nil
}

// shards cuts documents into files of at most shardBytes, documents separated by a blank line.
func shards(docs []string) [][]byte {
	var out [][]byte
	var b bytes.Buffer
	for _, d := range docs {
		if b.Len() > 0 && b.Len()+len(d)+2 > shardBytes {
			out = append(out, bytes.Clone(b.Bytes()))
			b.Reset()
		}
		b.WriteString(d)
		b.WriteString("\n\n")
	}
	if b.Len() > 0 {
		out = append(out, b.Bytes())
	}
	return out
}

// words is s in lower case with every run of non-alphanumerics turned into one space and a space at
// both ends, so that strings.Contains(words(a), words(b)) matches b as whole words of a.
func words(s string) string {
	return " " + strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ") + " "
}

// textInfo describes the general-text files written.
type textInfo struct {
	files               []string
	bytes, heldOutBytes int
	docs, heldOutDocs   int
	cookies, entries    int
}

// manifestTask is one entry of tasks.json.
type manifestTask struct {
	Name        string `json:"name"`
	Metric      string `json:"metric"`
	File        string `json:"file"`
	Items       int    `json:"items"`
	Phrasings   int    `json:"phrasings"`   // trained phrasings per item
	Paraphrases int    `json:"paraphrases"` // held-out paraphrases per item
	Novel       int    `json:"novel"`       // held-out phrasings per item from templates no item trains on
	Templates   int    `json:"templates"`   // templates in the relation's pool (smallest over the base's groups)
	Choices     int    `json:"choices,omitempty"`
	Description string `json:"description"`
	Source      string `json:"source"`
	Licence     string `json:"licence"`
}

type manifestText struct {
	Files        []string `json:"files"`
	Bytes        int      `json:"bytes"`
	Documents    int      `json:"documents"`
	HeldOut      string   `json:"held_out"`
	HeldOutBytes int      `json:"held_out_bytes"`
	HeldOutDocs  int      `json:"held_out_documents"`
	Description  string   `json:"description"`
	Source       string   `json:"source"`
	Licence      string   `json:"licence"`
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

func manifest(news, base []built, nFacts int, g textInfo, seed uint64) []byte {
	doc := manifestDoc{Seed: seed}
	for _, b := range news {
		s, l := sourceLine(b.def.Sources)
		doc.Tasks = append(doc.Tasks, manifestTask{
			Name: b.def.Name, Metric: b.def.Metric, File: "new/" + b.def.Name + ".jsonl", Items: len(b.items),
			Phrasings: b.def.NTrain, Paraphrases: 1, Novel: len(b.def.Novel), Templates: len(b.def.Templates),
			Choices: b.def.Choices, Description: b.def.Description, Source: s, Licence: l,
		})
	}
	var srcs []source
	tmpl, novel := 1<<30, 1<<30
	for _, b := range base {
		for _, x := range b.def.Sources {
			if !slices.Contains(srcs, x) {
				srcs = append(srcs, x)
			}
		}
		tmpl, novel = min(tmpl, len(b.def.Templates)), min(novel, len(b.def.Novel))
	}
	bs, bl := sourceLine(srcs)
	doc.Base = manifestTask{Name: "base", Metric: "exact_match", File: "base/facts.jsonl", Items: nFacts,
		Phrasings: base[0].def.NTrain, Paraphrases: 1, Novel: novel, Templates: tmpl,
		Description: "Old knowledge the base model is pretrained on: European, US-state and Canadian capitals, US postal " +
			"abbreviations, US presidents' and English sovereigns' successors, times tables, female forms, animal young, " +
			"adjective antonyms, irregular verb forms and plurals, people's occupations.",
		Source: bs, Licence: bl}
	gs, gl := sourceLine([]source{srcFortunesMin, srcFortunes, srcWordnet})
	doc.General = manifestText{Files: g.files, Bytes: g.bytes, Documents: g.docs, HeldOut: "base/heldout.txt",
		HeldOutBytes: g.heldOutBytes, HeldOutDocs: g.heldOutDocs,
		Description: "General English text: fortune cookies (quotations, sayings, riddles) and WordNet's glosses written " +
			"out as dictionary entries, one document per blank-line-separated block. The files are pretrained on; " +
			"held_out is never trained on and measures language ability in bits per byte.",
		Source: gs, Licence: gl}
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

func readme(news, base []built, nFacts int, g textInfo) []byte {
	var b strings.Builder
	b.WriteString(`# Knowledge packs

Generated by ` + "`go run ./internal/packgen -src DIR -out packs/data`" + ` (see internal/packgen); do not edit by hand.
Provenance and licences: new/PROVENANCE.md and base/PROVENANCE.md.

## Layout
- ` + "`tasks.json`" + ` — the manifest: ` + "`tasks`" + ` (new-knowledge tasks in the default round order), ` + "`base`" + ` (the
  base facts) and ` + "`general`" + ` (the general text); each task entry has name, metric, file (relative to this
  directory), items, phrasings (trained phrasings per item), paraphrases and novel (held-out phrasings per
  item), templates (the relation's pool), choices (multiple choice only), description, source and licence.
- ` + "`new/NAME.jsonl`" + ` — one new-knowledge task per file.
- ` + "`base/facts.jsonl`" + ` — the base model's old knowledge (exact_match); ids are ` + "`base-GROUP-NNNN`" + `.
- ` + "`base/general-NN.txt`" + ` — general English text for pretraining, documents separated by a blank line.
- ` + "`base/heldout.txt`" + ` — held-out general text, never trained on: bits per byte are measured on it.

## Item schema (eval.Example)
One JSON object per line: ` + "`{\"id\",\"prompt\",\"phrasings\":[...],\"answer\",\"paraphrases\":[...],\"novel\":[...],\"choices\":[...]}`" + `.
` + "`prompt`" + ` and ` + "`phrasings`" + ` are the phrasings trained on; ` + "`paraphrases`" + ` are held-out phrasings
whose template other items train on, and ` + "`novel`" + ` (base facts only) held-out phrasings from templates no item
trains on. Every phrasing of an item comes from its relation's pool of templates: each item draws its trained
ones and one held-out paraphrase from the pool at random (seeded), so the templates are mixed across items.
` + "`choices`" + ` (multiple_choice only) holds the answer and its distractors. For first_char tasks the lettered
options "A) … B) … C) … D) …" end every phrasing, and the answer is the letter.
Items are sorted by subject; ids are TASK-NNNN in that order.

## New-knowledge tasks (default round order)
| # | name | metric | items | trained phrasings/item | held-out/item | templates | chance | description |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
`)
	for i, t := range news {
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %d | 1 | %d | %s | %s |\n", i+1, t.def.Name, t.def.Metric, len(t.items), t.def.NTrain,
			len(t.def.Templates), chance(t.def), t.def.Description)
	}
	fmt.Fprintf(&b, `
Chance for exact_match is near zero (open answers); for rouge_l and edit_sim a base model scores above zero
from word and character overlap alone, so compare with the base model's score b[j], not with zero.

## Base pack
%d facts (exact_match) over %d relations, each fact trained in %d phrasings drawn from its relation's pool of 8
templates, with one more of the pool held out (paraphrases) and the relation's 2 novel templates held out
(novel), plus %d bytes of general text in %d documents (%d fortune cookies, %d WordNet entries) and %d
held-out bytes in %d documents.

| group | items | templates (trained pool) | novel templates |
| --- | --- | --- | --- |
`, nFacts, len(base), base[0].def.NTrain, g.bytes, g.docs+g.heldOutDocs, g.cookies, g.entries, g.heldOutBytes, g.heldOutDocs)
	for _, x := range base {
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", x.def.Name, len(x.items), mdList(x.def.Templates), mdList(x.def.Novel))
	}
	b.WriteString(`
The new tasks share no fact with the base pack: no phrasing (trained or held out) occurs in both, European
capitals are base while other capitals are new, and the general text drops every document that quotes a new
task's subject or answer of 16 or more letters, or names a new fact's subject and every word of its answer.
A test in package packs checks that no phrasing of a new task and no held-out phrasing of a base fact occurs
in any text the base model was pretrained on.
`)
	return []byte(b.String())
}

func mdList(ts []string) string {
	q := make([]string, len(ts))
	for i, t := range ts {
		q[i] = "`" + strings.ReplaceAll(t, "|", "\\|") + "`"
	}
	return strings.Join(q, ", ")
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

const wordnetLicence = `WordNet Release 3.0. This software and database is being provided to you, the LICENSEE, by Princeton
University under the following license. By obtaining, using and/or copying this software and database, you
agree that you have read, understood, and will comply with these terms and conditions.:

Permission to use, copy, modify and distribute this software and database and its documentation for any
purpose and without fee or royalty is hereby granted, provided that you agree to comply with the following
copyright notice and statements, including the disclaimer, and that the same appear on ALL copies of the
software, database and documentation, including modifications that you make for internal use or for
distribution.

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.

THIS SOFTWARE AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR
WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT NOT LIMITATION, PRINCETON UNIVERSITY MAKES NO
REPRESENTATIONS OR WARRANTIES OF MERCHANT- ABILITY OR FITNESS FOR ANY PARTICULAR PURPOSE OR THAT THE USE OF
THE LICENSED SOFTWARE, DATABASE OR DOCUMENTATION WILL NOT INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS,
TRADEMARKS OR OTHER RIGHTS.

The name of Princeton University or Princeton may not be used in advertising or publicity pertaining to
distribution of the software and/or database. Title to copyright in this software, database and any
associated documentation shall at all times remain with Princeton University and LICENSEE agrees to preserve
same.
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
	"wordnet-base":   "/" + wordnetDir + "/{data,index}.{noun,verb,adj,adv}, verb.exc, noun.exc",
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
		switch s.Licence {
		case "MIT":
			b.WriteString(mitLicence)
		case "WordNet-3.0":
			b.WriteString(wordnetLicence)
		default:
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
		fmt.Fprintf(&b, "\n### %s.jsonl — %s, %d items\n- source: %s; licence %s\n- derivation: %s\n- templates (%d trained and 1 held out per item): %s\n",
			t.def.Name, t.def.Metric, len(t.items), s, l, t.def.Derivation, t.def.NTrain, mdList(t.def.Templates))
		if t.def.Max > 0 {
			fmt.Fprintf(&b, "- sampled: at most %d facts\n", t.def.Max)
		}
	}
	licences(&b, []source{srcBsdgames, srcCalendar, srcCountries})
	return []byte(b.String())
}

func provenanceBase(base []built, nFacts int, g textInfo) []byte {
	var b strings.Builder
	b.WriteString("# Provenance of the base pack\n\nGenerated by internal/packgen; do not edit by hand.\n\n")
	b.WriteString(common)
	b.WriteString("\n## Sources\n")
	all := []source{srcBsdgames, srcCountries, srcFortunesMin, srcFortunes, srcWordnet}
	sourcesTable(&b, all)
	fmt.Fprintf(&b, "\n## facts.jsonl — exact_match, %d items\n", nFacts)
	for _, x := range base {
		s, l := sourceLine(x.def.Sources)
		fmt.Fprintf(&b, "- **%s** (%d items, ids base-%s-NNNN; %s; %s): %s Templates %s; novel %s.\n",
			x.def.Name, len(x.items), x.def.Name, s, l, x.def.Derivation, mdList(x.def.Templates), mdList(x.def.Novel))
	}
	fmt.Fprintf(&b, "\n## general-NN.txt and heldout.txt — %d + %d bytes, %d + %d documents\n", g.bytes, g.heldOutBytes, g.docs, g.heldOutDocs)
	var names []string
	for _, f := range generalFiles {
		names = append(names, f.src.Package+":"+f.name)
	}
	fmt.Fprintf(&b, "Fortune cookies from, in this order: %s. Each cookie's lines are trimmed and their inner "+
		"whitespace collapsed; each cookie is one document. Dropped: cookies that are not ASCII or longer than %d bytes, and repeats of an earlier cookie. "+
		"Files are read in order until %d bytes. fortunes-off (offensive cookies) is not used; from fortunes the files "+
		"on politics, ethnicity, drugs, men-women, law, medicine and song lyrics are left out.\n\n", strings.Join(names, ", "), maxCookie, maxGeneral)
	fmt.Fprintf(&b, "Then WordNet 3.0's synsets (data.noun, data.verb, data.adj, data.adv, in that order and file order), "+
		"each written as one dictionary entry `lemma, lemma (part of speech): gloss` (lemmas' underscores as spaces, "+
		"adjective markers dropped), consecutive entries grouped into documents of at most %d bytes (a longer entry is dropped); synsets whose lemmas or gloss are not ASCII are dropped, "+
		"and a seeded sample of documents is kept when they pass %d bytes (%d entries kept).\n\n", maxDoc, maxWordnet, g.entries)
	fmt.Fprintf(&b, "Dropped from both: every document that contains (letters and digits only, lower case) any subject "+
		"or answer of a new task of 16 or more characters, or that names a new fact's subject and every word of its "+
		"answer as whole words. Of the remaining documents, %d%% drawn with the seed form heldout.txt (never trained "+
		"on); the rest are cut into general-NN.txt files below %d bytes at document boundaries.\n", heldOutPct, shardBytes)
	licences(&b, all)
	return []byte(b.String())
}
