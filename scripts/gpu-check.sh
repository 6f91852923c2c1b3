#!/usr/bin/env bash
# gpu-check.sh runs accrete on an NVIDIA GPU through XLA: for a machine with a GPU, Go, and a PJRT
# CUDA plugin (the one JAX's CUDA package ships: jax_plugins/xla_cuda12/xla_cuda_plugin.so under
# site-packages). It
#   1. finds the plugin (or takes PJRT_PLUGIN=/abs/path.so) and sets GOMLX_BACKEND=xla:<it>, with the
#      pip-installed NVIDIA libraries (site-packages/nvidia/*/lib) on LD_LIBRARY_PATH;
#   2. builds everything and runs the model and lora tests on the GPU (failures are reported and the
#      script goes on: tests that expect the CPU backend's bit-exact results may differ under TF32);
#   3. compares a small random model's logits on the GPU with the accrete CPU backend's;
#   4. writes a random Llama-3.2-1B-shaped bf16 checkpoint (sharded; reused if present), takes LoRA
#      and full fine-tuning steps on it (trained tensors and AdamW on the device) and decodes,
#      printing tok/s and each run's memory plan;
#   5. samples nvidia-smi's memory.used throughout and prints the peak (XLA's allocator may reserve
#      a large share of the GPU up front; then the peak shows the reservation, not the need).
#
#   scripts/gpu-check.sh                  # everything; the checkpoint goes to ${CKPT:-out/gpucheck/llama1b}
#   BATCH=8 SEQ=512 STEPS=10 scripts/gpu-check.sh
#   SKIP_TESTS=1 scripts/gpu-check.sh     # only steps 3-5
set -uo pipefail
cd "$(dirname "$0")/.."

ckpt=${CKPT:-out/gpucheck/llama1b}
bin=out/gpucheck/gpucheck
batch=${BATCH:-4}
seq=${SEQ:-256}
steps=${STEPS:-5}

plugin=${PJRT_PLUGIN:-}
site_dirs=$(python3 -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
if [ -z "$plugin" ]; then
	plugin=$(python3 -c 'import os, jax_plugins.xla_cuda12 as p; print(os.path.join(os.path.dirname(p.__file__), "xla_cuda_plugin.so"))' 2>/dev/null || true)
fi
if [ -z "$plugin" ] || [ ! -f "$plugin" ]; then
	plugin=$(for d in $site_dirs /usr/local/lib /usr/lib /opt; do
		[ -d "$d" ] && find "$d" -name 'xla_cuda_plugin.so' -o -name 'pjrt_c_api_gpu_plugin.so' 2>/dev/null
	done | head -n 1)
fi
if [ -z "$plugin" ] || [ ! -f "$plugin" ]; then
	echo "gpu-check: no PJRT CUDA plugin found; pip install 'jax[cuda12]' or set PJRT_PLUGIN=/abs/path.so" >&2
	exit 1
fi
plugin=$(readlink -f "$plugin")
echo "PJRT plugin: $plugin"
for d in $site_dirs; do
	for lib in "$d"/nvidia/*/lib; do
		[ -d "$lib" ] && LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	done
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
export GOMLX_BACKEND="xla:$plugin"
echo "GOMLX_BACKEND=$GOMLX_BACKEND"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "gpu-check: nvidia-smi failed" >&2
smi_log=$(mktemp)
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$smi_log" 2>/dev/null &
smi_pid=$!
trap 'kill $smi_pid 2>/dev/null; rm -f "$smi_log"' EXIT
peak() { sort -n "$smi_log" | tail -n 1; }

status=0
echo "== build"
go build ./... || exit 1
mkdir -p out/gpucheck
go build -o "$bin" ./examples/gpucheck || exit 1

if [ -z "${SKIP_TESTS:-}" ]; then
	echo "== go test -short ./model/ ./lora/ on the GPU"
	go test -short -count=1 ./model/ ./lora/ 2>&1 | tail -n 60 || { status=1; echo "gpu-check: some tests failed on the GPU (see above)"; }
	echo "peak GPU memory so far: $(peak) MiB"
fi

echo "== logits: GPU vs accrete CPU backend"
"$bin" -compare || status=1

if [ ! -f "$ckpt/config.json" ]; then
	echo "== writing a random Llama-3.2-1B-shaped bf16 checkpoint to $ckpt (host: ~6 GB, a minute or two)"
	GOMLX_BACKEND=accrete "$bin" -write "$ckpt" || exit 1
fi
echo "== LoRA and FFT steps, decoding: B$batch T$seq, $steps timed steps"
"$bin" -model "$ckpt" -batch "$batch" -seq "$seq" -steps "$steps" || status=1
nvidia-smi --query-gpu=memory.used,memory.total --format=csv || true
echo "peak GPU memory (nvidia-smi, sampled every 200 ms): $(peak) MiB"
exit $status
