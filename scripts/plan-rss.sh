#!/usr/bin/env bash
# plan-rss.sh checks lora.PlanMemory against the measured peak RSS of Train: it builds lora's test
# binary once and runs each case of BenchmarkPlanVsPeakRSS (lora/plan_bench_test.go) in its own
# process, so that no case's memory counts in another's. A case fails when the plan is off the peak
# RSS by more than 25%. Run it on a quiet machine: the TinyLlama-1.1B case needs about 15 GB and a few
# minutes on 2 cores; the others a few GB and tens of seconds.
#
#   scripts/plan-rss.sh                    # every case
#   scripts/plan-rss.sh s15m-lora-b8 ...   # the named cases
set -euo pipefail
cd "$(dirname "$0")/.."
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	cases=(s15m-lora-b8 s15m-fft-b8 smol-lora-b4 smol-fft-b4 smol-lora-b16-micro4 tl1b-lora-b1)
fi
bin=$(mktemp -d)/lora.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./lora/
status=0
for c in "${cases[@]}"; do
	(cd lora && "$bin" -test.run '^$' -test.bench "^BenchmarkPlanVsPeakRSS/${c}\$" -test.benchtime 1x -test.v) |
		grep -E 'Benchmark|plan|total|weights|activations|logits|transient|peak|FAIL|ok' || status=1
done
exit $status
