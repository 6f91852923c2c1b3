// Command packgen rebuilds the knowledge packs under packs/data from their upstream packages,
// byte for byte.
//
// Usage:
//
//	sh internal/packgen/fetch.sh SRC
//	go run ./internal/packgen -src SRC -out packs/data
//
// fetch.sh downloads and unpacks, into one folder per package with a VERSION file that packgen checks:
//
//	apt-get download bsdgames=2.17-29+b1          # Debian bookworm main; BSD-3-Clause (quiz(6) data)
//	apt-get download calendar=12.1.8              # Debian bookworm main; BSD-3-Clause (calendar(1) data)
//	apt-get download fortunes-min=1:1.99.1-7.3    # Debian bookworm main; BSD-3-Clause (fortune cookies)
//	apt-get download fortunes=1:1.99.1-7.3        # Debian bookworm main; BSD-3-Clause (fortune cookies)
//	npm pack countries-list@3.4.1                 # npm; MIT (Annexare Studio)
//
// (each .deb is unpacked with dpkg-deb -x, the npm tarball with tar -xzf). Run `apt-get update` first
// if apt has no package lists.
//
// # Overview
//
// Each new-knowledge task and each group of base facts is a taskDef (tasks.go): a builder that reads
// subject–answer facts from the sources, a trained prompt template and a pool of held-out paraphrase
// templates. The facts are cleaned (ASCII only; subjects with two answers dropped), sorted by subject,
// optionally sampled, and templated; multiple-choice distractors and first-char option order are drawn
// too. Every random choice comes from a PCG generator seeded with (-seed, FNV-64a(task name)), so the
// output depends only on the sources and the seed. The generator refuses to write packs in which a
// phrasing is shared by facts with different answers, or by the base pack and a new task.
//
// It writes data/tasks.json (the manifest, documented in package packs), data/README.md,
// data/new/NAME.jsonl with data/new/PROVENANCE.md, and data/base/{facts.jsonl,general.txt,PROVENANCE.md}.
//
// The test TestRegenerate rebuilds the packs from $ACCRETE_PACK_SRC (a folder filled by fetch.sh) and
// compares them with packs/data; it is skipped when the variable is unset.
package main
