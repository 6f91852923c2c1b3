package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// source is one upstream package the packs are derived from.
type source struct {
	Dir       string // directory under -src where fetch.sh unpacks it
	Package   string // Debian or npm package name
	Version   string // exact version the packs were built from
	Registry  string // "Debian bookworm" or "npm"
	Licence   string // SPDX identifier
	Copyright string // the copyright line as the package states it
	Fetch     string // the command that downloads it
}

var (
	srcBsdgames = source{
		Dir: "bsdgames", Package: "bsdgames", Version: "2.17-29+b1", Registry: "Debian bookworm (main)",
		Licence:   "BSD-3-Clause",
		Copyright: "Copyright (c) 1980, 1982, 1983, 1985-1994 The Regents of the University of California. All rights reserved.",
		Fetch:     "apt-get download bsdgames=2.17-29+b1",
	}
	srcCalendar = source{
		Dir: "calendar", Package: "calendar", Version: "12.1.8", Registry: "Debian bookworm (main)",
		Licence:   "BSD-3-Clause",
		Copyright: "Copyright (C) 1980 -1998 The Regents of the University of California. All rights reserved.",
		Fetch:     "apt-get download calendar=12.1.8",
	}
	srcCountries = source{
		Dir: "countries-list", Package: "countries-list", Version: "3.4.1", Registry: "npm",
		Licence:   "MIT",
		Copyright: "Copyright (c) 2014 Annexare Studio",
		Fetch:     "npm pack countries-list@3.4.1",
	}
	srcFortunesMin = source{
		Dir: "fortunes-min", Package: "fortunes-min", Version: "1:1.99.1-7.3", Registry: "Debian bookworm (main)",
		Licence:   "BSD-3-Clause",
		Copyright: "Copyright (c) 1991 The Regents of the University of California. All rights reserved.",
		Fetch:     "apt-get download fortunes-min=1:1.99.1-7.3",
	}
	srcFortunes = source{
		Dir: "fortunes", Package: "fortunes", Version: "1:1.99.1-7.3", Registry: "Debian bookworm (main)",
		Licence:   "BSD-3-Clause",
		Copyright: "Copyright (c) 1991 The Regents of the University of California. All rights reserved.",
		Fetch:     "apt-get download fortunes=1:1.99.1-7.3",
	}
	srcWordnet = source{
		Dir: "wordnet-base", Package: "wordnet-base", Version: "1:3.0-37", Registry: "Debian bookworm (main)",
		Licence:   "WordNet-3.0",
		Copyright: "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.",
		Fetch:     "apt-get download wordnet-base=1:3.0-37",
	}
	allSources = []source{srcBsdgames, srcCalendar, srcCountries, srcFortunesMin, srcFortunes, srcWordnet}
)

// checkVersions verifies that DIR/<pkg>/VERSION (written by fetch.sh) names the pinned version, so
// that a rebuild from other versions fails loudly instead of producing different packs.
func checkVersions(dir string) error {
	for _, s := range allSources {
		p := filepath.Join(dir, s.Dir, "VERSION")
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("packgen: %s: %w (run internal/packgen/fetch.sh)", s.Package, err)
		}
		if got := strings.TrimSpace(string(b)); got != s.Version {
			return fmt.Errorf("packgen: %s: version %q in %s, want %q", s.Package, got, p, s.Version)
		}
	}
	return nil
}

const quizDir = "usr/share/games/bsdgames/quiz"

func quiz(dir, name string) ([][]string, error) {
	return readQuiz(filepath.Join(dir, srcBsdgames.Dir, quizDir, name))
}

// country is one entry of countries-list's countries.min.json.
type country struct {
	Name      string   `json:"name"`
	Native    string   `json:"native"`
	Phone     []int    `json:"phone"`
	Continent string   `json:"continent"`
	Capital   string   `json:"capital"`
	Currency  []string `json:"currency"`
	Languages []string `json:"languages"`
	PartOf    string   `json:"partOf"`
}

const countriesFile = "package/countries.min.json"

var continentNames = map[string]string{
	"AF": "Africa", "AN": "Antarctica", "AS": "Asia", "EU": "Europe",
	"NA": "North America", "OC": "Oceania", "SA": "South America",
}

func countries(dir string) (map[string]country, error) {
	p := filepath.Join(dir, srcCountries.Dir, countriesFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("packgen: countries: %w", err)
	}
	var m map[string]country
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("packgen: countries %s: %w", p, err)
	}
	return m, nil
}

const calendarDir = "usr/share/calendar"

// calendarEntries reads a calendar(1) file: an entry starts with "MM/DD<TAB>" and lines that start
// with a tab continue it; preprocessor lines and comments are skipped.
func calendarEntries(dir, name string) ([]string, error) {
	p := filepath.Join(dir, srcCalendar.Dir, calendarDir, name)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("packgen: calendar: %w", err)
	}
	defer f.Close()
	start := regexp.MustCompile(`^\d\d/\d\d\*?\t(.*)$`)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := start.FindStringSubmatch(line); m != nil {
			out = append(out, strings.TrimSpace(m[1]))
		} else if strings.HasPrefix(line, "\t") && len(out) > 0 {
			out[len(out)-1] += " " + strings.TrimSpace(line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("packgen: calendar %s: %w", p, err)
	}
	for i, s := range out {
		out[i] = strings.Join(strings.Fields(s), " ")
	}
	return out, nil
}

const fortuneDir = "usr/share/games/fortunes"

// fortunes reads a fortune(6) file: cookies separated by lines holding only "%".
func fortunes(dir string, s source, name string) ([]string, error) {
	p := filepath.Join(dir, s.Dir, fortuneDir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("packgen: fortunes: %w", err)
	}
	var out []string
	for _, c := range strings.Split(string(b), "\n%\n") {
		c = strings.TrimSuffix(strings.TrimPrefix(c, "%\n"), "\n%")
		var lines []string
		for _, l := range strings.Split(c, "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) > 0 {
			out = append(out, strings.Join(lines, "\n"))
		}
	}
	return out, nil
}
