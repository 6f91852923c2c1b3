#!/usr/bin/env bash
# check-tree.sh: fails when git tracks a compiled binary (ELF, Mach-O or PE) or a file over 5 MB outside
# the shipped base model (model/tiny/llama/), so that neither lands in the module zip by accident.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r -d '' f; do
	[ -f "$f" ] || continue
	case "$f" in model/tiny/llama/*) continue ;; esac
	size=$(stat -c %s "$f")
	if [ "$size" -gt $((5 * 1024 * 1024)) ]; then
		echo "check-tree: $f is $size bytes (over 5 MB outside model/tiny/llama)" >&2
		bad=1
	fi
	magic=$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')
	case "$magic" in
	7f454c46 | cffaedfe | cefaedfe | feedfacf | feedface | 4d5a*)
		echo "check-tree: $f is a compiled binary" >&2
		bad=1
		;;
	esac
done < <(git ls-files -z)
exit $bad
