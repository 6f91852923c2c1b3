#!/usr/bin/env python3
"""Writes olora_golden.json: random A_new and stacked A_past for a small Llama shape and the O-LoRA term
computed by olora_orth_loss of the PyTorch reference (llama_ref.py).

    /usr/bin/python3 orthlora/testdata/gen_golden.py ../shared/torchref > orthlora/testdata/olora_golden.json
"""
import json
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402
from llama_ref import LlamaConfig, LlamaForCausalLM, add_lora, lora_modules, olora_orth_loss, stack_past_A  # noqa: E402

cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=2)
model = LlamaForCausalLM(cfg).init_weights(seed=1)
add_lora(model, r=4, alpha=8, targets=("q_proj", "v_proj", "down_proj"), seed=2)
rng = np.random.default_rng(20231014)
mods = lora_modules(model)
past1, past2, out = {}, {}, {"lambda": 0.5, "rank": 4, "modules": []}
for name, m in mods.items():
    d_in = m.lora_A.shape[1]
    a_new = rng.standard_normal((4, d_in)).astype(np.float32) * 0.3
    with torch.no_grad():
        m.lora_A.copy_(torch.from_numpy(a_new))
    entry = {"path": name, "a_new": a_new.ravel().tolist(), "d_in": d_in}
    if name != "model.layers.1.self_attn.v_proj":  # a module without a past: contributes nothing
        p1 = rng.standard_normal((3, d_in)).astype(np.float32) * 0.3
        p2 = rng.standard_normal((2, d_in)).astype(np.float32) * 0.3
        past1[name], past2[name] = torch.from_numpy(p1), torch.from_numpy(p2)
        entry["a_past"] = np.concatenate([p1, p2]).ravel().tolist()
    out["modules"].append(entry)
past = stack_past_A(past1, past2)
out["expected"] = float(olora_orth_loss(model, past, out["lambda"]).item())
json.dump(out, sys.stdout)
print()
