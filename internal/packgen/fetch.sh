#!/bin/sh
# fetch.sh DIR — download the pinned source packages of the knowledge packs and unpack them into DIR,
# one folder per package, each with a VERSION file that packgen checks. Needs apt-get (Debian bookworm
# sources; run `apt-get update` first), dpkg-deb, npm and tar.
set -eu
dir=${1:?usage: fetch.sh DIR}
mkdir -p "$dir"
cd "$dir"
deb() { # deb PKG VERSION
	apt-get download "$1=$2"
	f=$(ls "$1"_*.deb | head -n 1)
	rm -rf "$1"
	mkdir -p "$1"
	dpkg-deb -x "$f" "$1"
	dpkg-deb -f "$f" Version >"$1/VERSION"
}
deb bsdgames 2.17-29+b1
deb calendar 12.1.8
deb fortunes-min 1:1.99.1-7.3
deb fortunes 1:1.99.1-7.3
deb wordnet-base 1:3.0-37
npm pack countries-list@3.4.1
rm -rf countries-list
mkdir -p countries-list
tar -xzf countries-list-3.4.1.tgz -C countries-list
echo 3.4.1 >countries-list/VERSION
