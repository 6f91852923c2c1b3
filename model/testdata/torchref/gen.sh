#!/bin/sh
# Regenerates the PyTorch-reference golden checkpoints in this directory (run from it):
#   sh gen.sh [PATH/TO/llama_ref.py]
# The reference is the project's scripts/torchref/llama_ref.py unless an argument or $ACCRETE_TORCHREF
# names another (such as an outside one, for a cross-check). Each directory holds a checkpoint written
# by llama_ref.py's `random`, logits.npy = float32 logits [5, vocab] of
# `llama_ref.py logits --tokens 1,2,3,4,5`, and stats.json = per-tensor float64 sum and sum of squares
# of the float32 weights, computed by stats.py. Then rewrite generate.json from the repository root with
#   go test ./model -run TestGenerateMatchesTorchRef -update-torchref
set -e
cd "$(dirname "$0")"
REF=${1:-${ACCRETE_TORCHREF:-$(cd ../../.. && pwd)/scripts/torchref/llama_ref.py}}
# llama_ref.py reruns itself under /usr/bin/python3 (Debian's python3-torch) when python3 lacks torch.
PY=${PYTHON:-python3}
rm -rf untied_bf16 tied_f32_sharded headdim_f32
$PY "$REF" random --out untied_bf16 --dim 32 --layers 2 --heads 4 --kv-heads 2 --vocab 64 --hidden 64 \
    --std 0.1 --dtype BF16 --seed 1
$PY "$REF" random --out tied_f32_sharded --dim 32 --layers 2 --heads 4 --kv-heads 2 --vocab 64 --hidden 64 \
    --std 0.1 --dtype F32 --tie --shard-bytes 24000 --seed 2
$PY "$REF" random --out headdim_f32 --dim 16 --layers 1 --heads 2 --kv-heads 1 --head-dim 16 --vocab 32 \
    --hidden 32 --std 0.1 --dtype F32 --rope-theta 500000 --eps 1e-6 --seed 3
for d in untied_bf16 tied_f32_sharded headdim_f32; do
    $PY "$REF" logits --model $d --tokens 1,2,3,4,5 --out $d/logits.npy
    $PY stats.py "$REF" $d
done
