#!/usr/bin/env bash
# bench.sh runs accrete's speed benchmarks on both pure-Go backends (GoMLX's stock "go:ops_sequential"
# and accrete's own "accrete") and, when PyTorch is installed (Debian's python3-torch), the project's
# PyTorch reference (scripts/torchref/llama_ref.py bench; $ACCRETE_TORCHREF names another llama_ref.py)
# in the same run, then writes BENCHMARKS.md with the machine's
# description, so that every comparison is a ratio from one run on one machine. The file starts with a
# "## Summary" table (internal/benchsum, from the raw output that follows it) after the description.
#
#   scripts/bench.sh            # the d128 shape (a few minutes)
#   scripts/bench.sh -s15m      # also the stories15M shape, on the accrete backend only (the stock
#                               # backend would take tens of minutes there)
#   scripts/bench.sh -s15m -real  # and the real shapes: lora's BenchmarkRealShape (SmolLM2-135M,
#                               # TinyLlama-1.1B, Llama-3.2-3B and Llama-3.1-8B shapes from random bf16
#                               # checkpoints under $ACCRETE_REALSHAPE_DIR, default out/realshape,
#                               # written on first use: about 25 GB of disk) beside PyTorch's opt-in real
#                               # shapes; each case in its own process (about 30 minutes on 2 cores)
#   REAL_CASES='gen-smol-b1 gen-smol-b16' scripts/bench.sh -s15m -real   # only these real-shape cases
set -euo pipefail
cd "$(dirname "$0")/.."
stock_pattern='/d128'
pattern='/d128'
short='-short'
torch_only='fft-d128-b8,lora-d128-b8,gen-d128-b16,gen-d128-b1'
torch_s15m=''
real=''
for arg in "$@"; do
	case "$arg" in
	-s15m)
		pattern='/(d128|s15m)'
		short=''
		# PyTorch's stories15M steps take minutes each on some machines: 1 warm-up and 3 timed steps.
		torch_s15m='fft-s15m-b8,lora-s15m-b8,gen-s15m-b16,gen-s15m-b1'
		;;
	-real) real=1 ;;
	*) echo "usage: scripts/bench.sh [-s15m] [-real]" >&2; exit 2 ;;
	esac
done
torch_real='fft-smol-b4,lora-smol-b4,gen-smol-b1,gen-smol-b16,lora-tl1b-b1'
real_cases=${REAL_CASES:-"fft-smol-b4 lora-smol-b4 lora-smol-b4-bf16 gen-smol-b1 gen-smol-b1-memlimit gen-smol-b1-bf16 gen-smol-b16 gen-smol-b16-memlimit gen-smol-b16-bf16 lora-tl1b-b1 lora-tl1b-b1-bf16 lora-tl1b-b1-t1024-bf16 lora-tl1b-b1-t1024-bf16-recompute lora-l3b-b1-bf16 lora-l8b-b1-bf16"}
out=BENCHMARKS.md
raw=$(mktemp)
doc=$(mktemp)
trap 'rm -f "$raw" "$doc"' EXIT
{
	echo "# Benchmarks"
	echo
	echo "Written by \`scripts/bench.sh $*\` on $(date -u +%Y-%m-%d) ($(go version | cut -d' ' -f3))."
	echo
	echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
	echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
	# PyTorch's matmuls go through the system BLAS: Debian's default libblas3 is the slow reference
	# implementation; install libopenblas0-pthread for a fair comparison.
	blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
	echo "- BLAS behind PyTorch (libblas.so.3): ${blas:-unknown}"
	case "$blas" in
	*openblas*|*mkl*|*blis*) ;;
	*) echo "  (WARNING: not an optimised BLAS; install libopenblas0-pthread before comparing with PyTorch)" ;;
	esac
	echo
	for backend in go:ops_sequential accrete; do
		p=$pattern s=$short
		if [ "$backend" = go:ops_sequential ]; then
			p=$stock_pattern s='-short'
		fi
		echo "## Backend \`$backend\`"
		echo
		echo '```'
		GOMLX_BACKEND=$backend go test -run '^$' -bench "Forward$p|TrainStep$p|Decode$p" -benchtime 2x ./model/ 2>&1 | grep -E '^Benchmark|^ok|FAIL' || true
		GOMLX_BACKEND=$backend go test -run '^$' -bench "TrainStep$p|TrainLayout$p" -benchtime 2x $s ./lora/ 2>&1 | grep -E '^Benchmark|^ok|FAIL' || true
		echo '```'
		echo
	done
	if [ -n "$real" ]; then
		echo "## Real shapes, backend \`accrete\` (lora's BenchmarkRealShape, one process per case)"
		echo
		echo '```'
		realbin=$(mktemp -d)
		go test -c -o "$realbin/lora.test" ./lora/
		for shape in smol tl1b l3b l8b; do # write the checkpoints first (skipped when present or not needed)
			case " $real_cases" in *-"$shape"-*) ;; *) continue ;; esac
			(cd lora && "$realbin/lora.test" -test.run '^$' -test.bench "^BenchmarkRealShape/write-$shape\$" -test.benchtime 1x >/dev/null 2>&1) ||
				echo "writing the $shape checkpoint failed"
		done
		for c in $real_cases; do
			(cd lora && "$realbin/lora.test" -test.run '^$' -test.bench "^BenchmarkRealShape/$c\$" -test.benchtime 1x 2>&1) |
				grep -E '^Benchmark|FAIL|signal|killed' || echo "BenchmarkRealShape/$c: no result (out of memory?)"
		done
		rm -rf "$realbin"
		echo '```'
		echo
	fi
	echo "## accrete backend kernels"
	echo
	echo '```'
	go test -run '^$' -bench 'MatMul1024|FFTStep' -benchtime 3x ./internal/cpubackend/ 2>&1 | grep -E '^Benchmark|^ok|FAIL' || true
	echo '```'
	echo
	ref=${ACCRETE_TORCHREF:-scripts/torchref/llama_ref.py}
	py=''
	for p in python3 /usr/bin/python3; do
		if "$p" -c 'import torch' 2>/dev/null; then
			py=$p
			break
		fi
	done
	if [ -f "$ref" ] && [ -n "$py" ]; then
		echo "## PyTorch reference (Debian python3-torch, \`llama_ref.py bench --only $torch_only\`)"
		echo
		echo '```'
		"$py" "$ref" bench --configs 2 --only "$torch_only" 2>&1 | tail -n 40 || true
		OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$py" -c '
import time, torch
torch.set_num_threads(2)
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
for _ in range(3):
    a @ b
best = 1e9
for _ in range(5):
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    best = min(best, (time.perf_counter() - t) / 10)
print("matmul 1024^3 torch.mm (2 threads): %.1f GFLOP/s" % (2 * 1024**3 / best / 1e9))
' 2>&1 || true
		echo '```'
		if [ -n "$real" ]; then
			echo
			echo "## PyTorch reference, real shapes (\`llama_ref.py bench --only $torch_real\`)"
			echo
			echo '```'
			"$py" "$ref" bench --configs 2 --only "$torch_real" 2>&1 | tail -n 40 || true
			echo '```'
		fi
		if [ -n "$torch_s15m" ]; then
			echo
			echo "## PyTorch reference, stories15M shape (\`llama_ref.py bench --quick --only $torch_s15m\`: 1 warm-up and 3 timed steps)"
			echo
			echo '```'
			"$py" "$ref" bench --configs 2 --quick --only "$torch_s15m" 2>&1 | tail -n 40 || true
			echo '```'
		fi
	else
		echo "(PyTorch reference skipped: $ref or PyTorch (python3-torch) not found.)"
	fi
} > "$raw"
# BENCHMARKS.md: the machine's description (everything before the first "## " heading), the summary, then
# the raw sections unchanged. Should benchsum fail, the raw output is written without a summary.
{
	awk '/^## /{exit} {print}' "$raw"
	if summary=$(go run ./internal/benchsum "$raw"); then
		echo "## Summary"
		echo
		printf '%s\n' "$summary"
		echo
	else
		echo "benchsum failed; BENCHMARKS.md has no summary" >&2
	fi
	awk 'f || /^## /{f=1; print}' "$raw"
} > "$doc"
mv "$doc" "$out"
trap - EXIT
rm -f "$raw"
echo "wrote $out"
