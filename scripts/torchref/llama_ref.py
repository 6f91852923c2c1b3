#!/usr/bin/env python3
"""llama_ref.py: accrete's own PyTorch reference for the Hugging Face Llama (LlamaForCausalLM).

It writes the golden checkpoints and logits that ./model's tests compare with, and times the PyTorch
side of scripts/bench.sh. Plain torch and numpy only (no transformers, no safetensors package), so
Debian's python3-torch (1.13) is enough. See README.md beside this file.

    python3 llama_ref.py random   --out DIR [--dim 32 --layers 2 --heads 4 --kv-heads 2 ...]
    python3 llama_ref.py logits   --model DIR --tokens 1,2,3 [--adapter DIR] [--out logits.npy]
    python3 llama_ref.py generate --model DIR --tokens 1,2,3 --new 16 [--adapter DIR] [--eos 2]
    python3 llama_ref.py selftest
    python3 llama_ref.py bench    [--configs 2,1] [--quick] [--steps N] [--only fft-d128,gen-s15m-b16] [--json F]
"""
import os
import sys

# Debian's torch runs GEMMs in OpenBLAS's pthread pool and the rest in OpenMP; spinning OpenMP
# threads then starve OpenBLAS on a small machine. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import torch
except ImportError:
    # A pyenv or venv python3 without torch: rerun the same script under Debian's interpreter.
    _debian = "/usr/bin/python3"
    if os.path.realpath(sys.executable) != os.path.realpath(_debian) and os.path.exists(_debian) \
            and sys.argv and os.path.isfile(sys.argv[0]):
        os.execv(_debian, [_debian] + sys.argv)
    raise

import argparse
import json
import math
import resource
import statistics
import struct
import subprocess
import time
from dataclasses import dataclass, field, asdict

import numpy as np
import torch.nn as nn
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------
# safetensors, by hand: 8-byte little-endian header length, JSON header, raw little-endian data.
# ------------------------------------------------------------------------------------------------

# dtype name → numpy dtype of the stored bytes (BF16 has no numpy type: its bits are kept as uint16).
ST_NUMPY = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NUMPY_ST = {np.dtype(v).str: k for k, v in ST_NUMPY.items() if k not in ("BF16",)}
_TORCH_ST = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
             torch.uint8: "U8", torch.bool: "BOOL"}


def bf16_bits(x):
    """float32 tensor or array → uint16 numpy array of bfloat16 bits, rounded by torch (nearest even)."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32) if not torch.is_tensor(x) else x).float().contiguous()
    return t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


def bf16_to_f32(bits):
    """uint16 numpy array of bfloat16 bits → float32 numpy array (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _encode(value, dtype=None):
    """One tensor → (dtype name, shape, bytes). value: torch tensor, numpy array, or (name, array)
    whose bytes are written as they are. dtype converts floating values to F32, F16 or BF16."""
    if isinstance(value, tuple):
        name, arr = value
        arr = np.asarray(arr, order="C")  # not ascontiguousarray: it makes scalars 1-d
        if arr.dtype.itemsize != ST_NUMPY[name].itemsize:
            raise ValueError(f"{name} needs {ST_NUMPY[name].itemsize}-byte elements, got {arr.dtype}")
        return name, list(arr.shape), arr.tobytes()
    if torch.is_tensor(value):
        t = value.detach().cpu().contiguous()
        if dtype and t.is_floating_point():
            t = t.float()
            if dtype == "BF16":
                return "BF16", list(t.shape), bf16_bits(t).tobytes()
            t = t.to({"F32": torch.float32, "F16": torch.float16, "F64": torch.float64}[dtype])
        if t.dtype == torch.bfloat16:
            return "BF16", list(t.shape), t.view(torch.int16).numpy().tobytes()
        name = _TORCH_ST[t.dtype]
        return name, list(t.shape), t.numpy().astype(ST_NUMPY[name]).tobytes()
    arr = np.asarray(value, order="C")
    if dtype and arr.dtype.kind == "f":
        return _encode(torch.from_numpy(arr.astype(np.float32)), dtype)
    name = _NUMPY_ST[arr.dtype.newbyteorder("<").str if arr.dtype.itemsize > 1 else arr.dtype.str]
    return name, list(arr.shape), arr.astype(ST_NUMPY[name]).tobytes()


def write_safetensors(path, tensors, metadata=None, dtype=None):
    """Writes tensors (name → torch tensor, numpy array or (dtype name, array)) to path, in name
    order, with the header padded with spaces to 8 bytes. The file is replaced atomically."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        dt, shape, raw = _encode(tensors[name], dtype)
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns ({name: (dtype name, numpy array of the stored type)}, metadata). BF16 arrays hold bits."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = ST_NUMPY[info["dtype"]]
        arr = np.frombuffer(body[b:e], dtype=dt).reshape(tuple(info["shape"])).copy()
        out[name] = (info["dtype"], arr)
    return out, meta


def load_safetensors(path):
    """Returns {name: torch tensor}: floating types as float32 (BF16 and F16 exactly), integers as they are."""
    out = {}
    for name, (dt, arr) in read_safetensors(path)[0].items():
        if dt == "BF16":
            arr = bf16_to_f32(arr)
        elif dt in ("F16", "F64"):
            arr = arr.astype(np.float32)
        out[name] = torch.from_numpy(np.asarray(arr, order="C"))
    return out


# ------------------------------------------------------------------------------------------------
# Config and RoPE
# ------------------------------------------------------------------------------------------------

@dataclass
class LlamaConfig:
    """The fields of a Hugging Face Llama config.json that the forward pass uses."""
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = None  # None: num_attention_heads (no GQA)
    head_dim: int = None  # None: hidden_size // num_attention_heads
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: dict = None  # {"rope_type": "linear"|"llama3", "factor": ..., ...}
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    hidden_act: str = "silu"
    initializer_range: float = 0.02
    bos_token_id: int = 1
    eos_token_id: int = 2
    extra: dict = field(default_factory=dict)  # other keys of config.json, written back as they were

    def __post_init__(self):
        self.num_key_value_heads = self.num_key_value_heads or self.num_attention_heads
        self.head_dim = self.head_dim or self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                             f"num_key_value_heads {self.num_key_value_heads}")
        if self.hidden_act != "silu":
            raise ValueError(f"hidden_act {self.hidden_act!r}: only silu is implemented")

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        # transformers v5 moves rope_theta and rope_scaling into rope_parameters.
        rp = d.pop("rope_parameters", None)
        if rp:
            d.setdefault("rope_theta", rp.get("rope_theta", 10000.0))
            if rp.get("rope_type", "default") != "default":
                d.setdefault("rope_scaling", {k: v for k, v in rp.items() if k != "rope_theta"})
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        if isinstance(d.get("eos_token_id"), list):
            d["eos_token_id"] = d["eos_token_id"][0]
        return cls(**{k: v for k, v in d.items() if k in known},
                   extra={k: v for k, v in d.items() if k not in known})

    def to_dict(self, torch_dtype="float32"):
        d = {k: v for k, v in asdict(self).items() if k != "extra"}
        d.update(architectures=["LlamaForCausalLM"], model_type="llama", torch_dtype=torch_dtype,
                 attention_dropout=0.0, pretraining_tp=1, use_cache=True)
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d


def rope_inv_freq(cfg):
    """Inverse frequencies [head_dim/2] in float32, with rope_scaling applied as transformers does."""
    d = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    rs = cfg.rope_scaling
    kind = (rs or {}).get("rope_type", (rs or {}).get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        orig = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        # Long wavelengths are divided by factor, short ones kept, and the band between the two
        # thresholds interpolates linearly in orig/wavelen.
        long_ = wavelen > orig / lo
        short = wavelen < orig / hi
        t = (orig / wavelen - lo) / (hi - lo)
        mid = (1 - t) * inv / factor + t * inv
        return torch.where(long_, inv / factor, torch.where(short, inv, mid))
    raise ValueError(f"rope_scaling type {kind!r} is not implemented")


def rope_cos_sin(inv_freq, positions):
    """cos and sin [T, head_dim] for integer positions [T], in transformers' rotate-half layout."""
    ang = positions.float()[:, None] * inv_freq[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos(), ang.sin()


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def apply_rope(x, cos, sin):
    """x [B, heads, T, D]; cos, sin [T, D]."""
    return x * cos + rotate_half(x) * sin


# ------------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------------

class Linear(nn.Module):
    """y = x·Wᵀ (+ b), plus a LoRA branch scaling·B·A·x once add_lora gives it one."""

    def __init__(self, d_in, d_out, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_out, d_in))
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None
        self.lora_A = self.lora_B = None
        self.scaling = 0.0
        self.lora_dropout = nn.Identity()

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.lora_A is not None:
            y = y + self.scaling * F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B)
        return y


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


class KVCache:
    """Preallocated keys and values, [B, kv_heads, max_len, head_dim] per layer."""

    def __init__(self, cfg, batch, max_len, dtype=torch.float32):
        shape = (batch, cfg.num_key_value_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(cfg.num_hidden_layers)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(cfg.num_hidden_layers)]

    def put(self, layer, start, k, v):
        """Stores k, v [B, kv, T, D] at positions start.. and returns all keys and values so far."""
        end = start + k.shape[2]
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]


class Attention(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        self.cfg, self.layer = cfg, layer
        h, kv, d, b = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.attention_bias
        self.q_proj = Linear(cfg.hidden_size, h * d, b)
        self.k_proj = Linear(cfg.hidden_size, kv * d, b)
        self.v_proj = Linear(cfg.hidden_size, kv * d, b)
        self.o_proj = Linear(h * d, cfg.hidden_size, b)

    def forward(self, x, cos, sin, mask, cache, start):
        B, T, _ = x.shape
        c = self.cfg
        q = self.q_proj(x).view(B, T, c.num_attention_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.put(self.layer, start, k, v)
        # GQA: query head i reads kv head i // group.
        group = c.num_attention_heads // c.num_key_value_heads
        if group > 1:
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        s = torch.matmul(q, k.transpose(2, 3)) * (c.head_dim ** -0.5) + mask
        p = torch.softmax(s.float(), dim=-1).to(q.dtype)
        o = torch.matmul(p, v).transpose(1, 2).reshape(B, T, -1)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h, b = cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias
        self.gate_proj = Linear(d, h, b)
        self.up_proj = Linear(d, h, b)
        self.down_proj = Linear(h, d, b)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        self.self_attn = Attention(cfg, layer)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, mask, cache, start):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, start)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg, i) for i in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    """transformers' LlamaForCausalLM: same math and the same tensor names (hf_state_dict)."""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = Linear(cfg.hidden_size, cfg.vocab_size)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.register_buffer("inv_freq", rope_inv_freq(cfg), persistent=False)

    def init_weights(self, seed=0, std=None, norm_std=0.0):
        """Draws matrices from N(0, std²) (std default: initializer_range) and norm weights from
        1 + N(0, norm_std²), from a generator seeded with seed, in hf_state_dict's name order."""
        std = self.config.initializer_range if std is None else std
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in sorted(self.hf_state_dict().items()):
                if name.endswith("norm.weight"):
                    p.copy_(1 + norm_std * torch.randn(p.shape, generator=g))
                elif name.endswith(".bias"):
                    p.zero_()
                else:
                    p.copy_(std * torch.randn(p.shape, generator=g))
        return self

    def hf_state_dict(self):
        """The base weights under their Hugging Face names (no lm_head.weight when tied, no LoRA)."""
        sd = {}
        for name, p in self.state_dict(keep_vars=True).items():  # keeps a tied lm_head.weight
            if ".lora_" in name or (name == "lm_head.weight" and self.config.tie_word_embeddings):
                continue
            sd[name] = p
        return sd

    def matmul_params(self):
        """Parameters that go through a matmul per token: every decoder linear and the LM head (not
        the embedding lookup). 6·this·tokens is a training step's FLOPs, attention's T² aside."""
        n = sum(m.weight.numel() for m in self.model.layers.modules() if isinstance(m, Linear))
        return n + self.lm_head.weight.numel()

    def forward(self, ids, cache=None, start=0, last_only=False):
        """ids [B, T] at positions start..start+T-1 → float32 logits [B, T, vocab] ([B, 1, vocab]
        with last_only). With a cache, keys and values of the earlier positions come from it."""
        T = ids.shape[1]
        x = self.model.embed_tokens(ids)
        cos, sin = rope_cos_sin(self.inv_freq, torch.arange(start, start + T))
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        keys = torch.arange(start + T if cache is not None else T)
        q_pos = torch.arange(start, start + T) if cache is not None else torch.arange(T)
        mask = torch.zeros(T, keys.numel(), dtype=x.dtype)
        mask = mask.masked_fill(keys[None, :] > q_pos[:, None], torch.finfo(x.dtype).min)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask, cache, start)
        x = self.model.norm(x)
        if last_only:
            x = x[:, -1:]
        return self.lm_head(x).float()

    def loss(self, ids, labels=None):
        """transformers' causal-LM loss: labels (default ids) shifted left by padding with -100,
        mean cross-entropy over the targets that are not -100."""
        labels = ids if labels is None else labels
        logits = self(ids)
        target = F.pad(labels, (0, 1), value=-100)[:, 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)


# ------------------------------------------------------------------------------------------------
# Checkpoints in Hugging Face layout
# ------------------------------------------------------------------------------------------------

_TORCH_DTYPE_NAME = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


def load_hf_checkpoint(path):
    """Reads DIR/config.json and model.safetensors or the shards of model.safetensors.index.json
    into a float32 model. Every tensor must be present, with its shape, and none may be left over."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = LlamaConfig.from_dict(json.load(f))
    index = os.path.join(path, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    for fn in files:
        tensors.update(load_safetensors(os.path.join(path, fn)))
    model = LlamaForCausalLM(cfg)
    want = model.hf_state_dict()
    problems = [f"missing {k}" for k in sorted(set(want) - set(tensors))]
    problems += [f"unexpected {k}" for k in sorted(set(tensors) - set(want))
                 if not (k == "lm_head.weight" and cfg.tie_word_embeddings)]
    problems += [f"{k}: shape {list(tensors[k].shape)}, want {list(p.shape)}"
                 for k, p in want.items() if k in tensors and tensors[k].shape != p.shape]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    with torch.no_grad():
        for k, p in want.items():
            p.copy_(tensors[k].float())
    return model


def save_hf_checkpoint(model, path, dtype="F32", max_shard_bytes=None):
    """Writes config.json and model.safetensors, or, with max_shard_bytes, shards of at most that
    many tensor bytes (a bigger tensor gets a shard of its own) and model.safetensors.index.json."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(model.config.to_dict(_TORCH_DTYPE_NAME[dtype]), f, indent=2)
        f.write("\n")
    sd = {k: v.detach() for k, v in model.hf_state_dict().items()}
    width = {"F32": 4, "BF16": 2, "F16": 2}[dtype]
    if not max_shard_bytes:
        write_safetensors(os.path.join(path, "model.safetensors"), sd, {"format": "pt"}, dtype)
        return
    shards, cur, size = [], {}, 0
    for k in sorted(sd):
        n = sd[k].numel() * width
        if cur and size + n > max_shard_bytes:
            shards.append(cur)
            cur, size = {}, 0
        cur[k] = sd[k]
        size += n
    shards.append(cur)
    weight_map = {}
    for i, shard in enumerate(shards):
        fn = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(path, fn), shard, {"format": "pt"}, dtype)
        weight_map.update({k: fn for k in shard})
    total = sum(v.numel() for v in sd.values()) * width
    with open(os.path.join(path, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")


# ------------------------------------------------------------------------------------------------
# LoRA in PEFT's layout, and the O-LoRA penalty
# ------------------------------------------------------------------------------------------------

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PEFT_PREFIX = "base_model.model."


def lora_modules(model):
    """{module name: Linear} of the linears that carry a LoRA branch, in module order."""
    return {n: m for n, m in model.named_modules() if isinstance(m, Linear) and m.lora_A is not None}


def add_lora(model, r=8, alpha=16, targets=LORA_TARGETS, dropout=0.0, use_rslora=False, seed=0,
             freeze_base=True):
    """Gives every decoder linear named in targets a LoRA branch as PEFT initialises it: A [r, in]
    kaiming-uniform (bound 1/√in), B [out, r] zero, scaling alpha/r (alpha/√r with rsLoRA)."""
    g = torch.Generator().manual_seed(seed)
    if freeze_base:
        for p in model.parameters():
            p.requires_grad_(False)
    for name, m in model.model.layers.named_modules():
        if isinstance(m, Linear) and name.rsplit(".", 1)[-1] in targets:
            d_out, d_in = m.weight.shape
            bound = 1 / math.sqrt(d_in)
            m.lora_A = nn.Parameter(torch.rand(r, d_in, generator=g) * 2 * bound - bound)
            m.lora_B = nn.Parameter(torch.zeros(d_out, r))
            m.scaling = alpha / math.sqrt(r) if use_rslora else alpha / r
            m.lora_dropout = nn.Dropout(dropout) if dropout else nn.Identity()
    model.lora_config = dict(r=r, lora_alpha=alpha, lora_dropout=dropout, use_rslora=use_rslora,
                             target_modules=sorted(targets))
    return model


def peft_state_dict(model):
    """The LoRA tensors under PEFT's keys (base_model.model.<module>.lora_A.weight and lora_B)."""
    sd = {}
    for name, m in lora_modules(model).items():
        sd[f"{PEFT_PREFIX}{name}.lora_A.weight"] = m.lora_A.detach()
        sd[f"{PEFT_PREFIX}{name}.lora_B.weight"] = m.lora_B.detach()
    return sd


def save_lora_adapter(model, path, base_model_name_or_path="", dtype="F32"):
    """Writes adapter_config.json and adapter_model.safetensors as PEFT's save_pretrained does."""
    os.makedirs(path, exist_ok=True)
    c = model.lora_config
    cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_model_name_or_path,
           "r": c["r"], "lora_alpha": c["lora_alpha"], "lora_dropout": c["lora_dropout"],
           "target_modules": c["target_modules"], "bias": "none", "fan_in_fan_out": False,
           "inference_mode": True, "init_lora_weights": True, "use_rslora": c["use_rslora"],
           "modules_to_save": None, "layers_to_transform": None, "layers_pattern": None,
           "rank_pattern": {}, "alpha_pattern": {}, "revision": None, "use_dora": False}
    with open(os.path.join(path, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(path, "adapter_model.safetensors"), peft_state_dict(model), {"format": "pt"}, dtype)


def load_lora_adapter(model, path, freeze_base=True):
    """Adds the PEFT adapter in DIR (adapter_config.json + adapter_model.safetensors) to model."""
    with open(os.path.join(path, "adapter_config.json")) as f:
        c = json.load(f)
    if c.get("peft_type", "LORA") != "LORA" or c.get("use_dora") or c.get("bias", "none") != "none":
        raise ValueError(f"{path}: only plain LoRA adapters (no DoRA, no bias) are supported")
    tensors = load_safetensors(os.path.join(path, "adapter_model.safetensors"))
    targets = c["target_modules"]
    targets = [targets] if isinstance(targets, str) else targets
    add_lora(model, r=c["r"], alpha=c["lora_alpha"], targets=tuple(targets), use_rslora=c.get("use_rslora", False),
             freeze_base=freeze_base)
    mods, seen = lora_modules(model), set()
    for key, t in tensors.items():
        name, part = key[len(PEFT_PREFIX):].rsplit(".lora_", 1) if key.startswith(PEFT_PREFIX) else (key, "")
        ab = part.split(".")[0]
        if name not in mods or ab not in ("A", "B"):
            raise ValueError(f"{path}: unexpected tensor {key}")
        m = mods[name]
        # rank_pattern / alpha_pattern: a module may have its own rank and alpha.
        r = t.shape[0] if ab == "A" else t.shape[1]
        alpha = next((v for k, v in c.get("alpha_pattern", {}).items() if name.endswith(k)), c["lora_alpha"])
        m.scaling = alpha / math.sqrt(r) if c.get("use_rslora") else alpha / r
        with torch.no_grad():
            setattr(m, "lora_" + ab, nn.Parameter(t.float().clone()))
        seen.add(key)
    missing = [n for n in mods if f"{PEFT_PREFIX}{n}.lora_A.weight" not in seen]
    if missing:
        raise ValueError(f"{path}: no LoRA tensors for {missing}")
    return model


def merge_lora(model):
    """Folds every LoRA branch into its weight (W += scaling·B·A) and removes the branch."""
    with torch.no_grad():
        for m in lora_modules(model).values():
            m.weight += m.scaling * (m.lora_B @ m.lora_A)
            m.lora_A = m.lora_B = None
    return model


def lora_A_by_module(model):
    """{module name: copy of lora_A}, what a later O-LoRA round keeps of this one."""
    return {n: m.lora_A.detach().clone() for n, m in lora_modules(model).items()}


def stack_past_A(*past):
    """Stacks several rounds' {module: A [r_i, in]} into {module: [Σr_i, in]}."""
    out = {}
    for p in past:
        for n, a in p.items():
            out[n] = torch.cat([out[n], a]) if n in out else a
    return out


def olora_orth_loss(model, past_A, lam=0.5):
    """O-LoRA's orthogonality term λ·Σ_modules Σ|A_new·A_pastᵀ| (arXiv 2310.14152); modules
    without a past contribute nothing."""
    total = torch.zeros(())
    for n, m in lora_modules(model).items():
        if n in past_A:
            total = total + (m.lora_A @ past_A[n].T).abs().sum()
    return lam * total


# ------------------------------------------------------------------------------------------------
# Greedy decoding
# ------------------------------------------------------------------------------------------------

@torch.no_grad()
def generate_greedy(model, prompt, max_new_tokens, eos_token_id=None, return_timing=False):
    """Greedy continuation of prompt [B, T0] with a KV cache → new tokens [B, ≤max_new_tokens]. A row
    that has produced eos_token_id repeats it; decoding stops when every row has. return_timing adds
    the prefill and decode seconds."""
    B, T0 = prompt.shape
    cache = KVCache(model.config, B, T0 + max_new_tokens, model.lm_head.weight.dtype)
    t0 = time.perf_counter()
    tok = model(prompt, cache=cache, start=0, last_only=True)[:, -1].argmax(-1)
    t1 = time.perf_counter()
    out = [tok]
    done = tok == eos_token_id if eos_token_id is not None else torch.zeros(B, dtype=torch.bool)
    for pos in range(T0, T0 + max_new_tokens - 1):
        if eos_token_id is not None and bool(done.all()):
            break
        tok = model(tok[:, None], cache=cache, start=pos, last_only=True)[:, -1].argmax(-1)
        if eos_token_id is not None:
            tok = torch.where(done, torch.full_like(tok, eos_token_id), tok)
            done = done | (tok == eos_token_id)
        out.append(tok)
    toks = torch.stack(out, dim=1)
    if return_timing:
        return toks, t1 - t0, time.perf_counter() - t1
    return toks


@torch.no_grad()
def generate_greedy_nocache(model, prompt, max_new_tokens):
    """The same greedy continuation, recomputing the whole sequence at every step (the slow check)."""
    seq = prompt
    for _ in range(max_new_tokens):
        seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq[:, prompt.shape[1]:]


# ------------------------------------------------------------------------------------------------
# Self-test
# ------------------------------------------------------------------------------------------------

def _tiny(**kw):
    base = dict(vocab_size=48, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=64)
    base.update(kw)
    return LlamaForCausalLM(LlamaConfig(**base)).init_weights(seed=7, std=0.2, norm_std=0.1)


def _check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        raise SystemExit(1)


def selftest(tmp=None):
    import tempfile
    tmp = tmp or tempfile.mkdtemp(prefix="llama_ref_")
    torch.manual_seed(0)
    for tie in (False, True):
        m = _tiny(tie_word_embeddings=tie).eval()
        ids = torch.randint(0, 48, (2, 11))
        with torch.no_grad():
            full = m(ids)
            cache = KVCache(m.config, 2, 11)
            parts = [m(ids[:, :4], cache, 0), m(ids[:, 4:7], cache, 4)] + [m(ids[:, t:t + 1], cache, t) for t in range(7, 11)]
        d = (torch.cat(parts, 1) - full).abs().max().item()
        _check(d < 1e-5, f"tie={tie}: chunked prefill + decode with the KV cache = full forward (max diff {d:.2g})")
        g1, g2 = generate_greedy(m, ids[:, :3], 8), generate_greedy_nocache(m, ids[:, :3], 8)
        _check(torch.equal(g1, g2), f"tie={tie}: greedy with the cache = greedy without it")
        ids2 = ids.clone()
        ids2[:, 6:] = (ids2[:, 6:] + 1) % 48
        with torch.no_grad():
            d = (m(ids2)[:, :6] - full[:, :6]).abs().max().item()
        _check(d == 0, "causal: changing later tokens leaves earlier logits unchanged")

    # llama3 RoPE against a per-frequency scalar rewrite of Meta's apply_scaling.
    rs = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 64}
    cfg = LlamaConfig(vocab_size=8, hidden_size=64, intermediate_size=8, num_hidden_layers=1, num_attention_heads=1,
                      rope_theta=500000.0, rope_scaling=rs)
    got, base = rope_inv_freq(cfg), rope_inv_freq(LlamaConfig(**{**asdict(cfg), "rope_scaling": None, "extra": {}}))
    regimes, want = set(), []
    for f in base.tolist():
        wl = 2 * math.pi / f
        if wl < 64 / 4.0:
            want.append(f); regimes.add("high")
        elif wl > 64 / 1.0:
            want.append(f / 8.0); regimes.add("low")
        else:
            s = (64 / wl - 1.0) / (4.0 - 1.0)
            want.append((1 - s) * f / 8.0 + s * f); regimes.add("mid")
    d = (got.double() - torch.tensor(want, dtype=torch.float64)).abs().max().item()
    _check(d < 1e-6 and len(regimes) == 3, f"llama3 RoPE = Meta's apply_scaling in all 3 regimes (max diff {d:.2g})")
    lin = rope_inv_freq(LlamaConfig(**{**asdict(cfg), "rope_scaling": {"type": "linear", "factor": 4.0}, "extra": {}}))
    _check(torch.allclose(lin * 4, base), "linear RoPE divides the frequencies by factor")
    q, k = torch.randn(1, 1, 1, 64), torch.randn(1, 1, 1, 64)
    dots = []
    for a, b in ((3, 1), (12, 10), (40, 38)):
        ca, sa = rope_cos_sin(base, torch.tensor([a]))
        cb, sb = rope_cos_sin(base, torch.tensor([b]))
        dots.append((apply_rope(q, ca, sa) * apply_rope(k, cb, sb)).sum().item())
    _check(max(dots) - min(dots) < 1e-4, "RoPE scores depend only on the relative position")

    # safetensors.
    x = torch.randn(257) * 10
    x[:3] = torch.tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8, -0.0])
    ints = np.array([[1, -2], [2 ** 40, -(2 ** 62)]], dtype=np.int64)
    p = os.path.join(tmp, "t.safetensors")
    write_safetensors(p, {"f32": x, "f16": x.half(), "bf16": x.bfloat16(), "i64": ints, "s": np.array(3, np.int32),
                          "e": np.zeros((0, 2), np.float32)}, {"format": "pt"})
    back, meta = read_safetensors(p)
    _check(meta == {"format": "pt"} and np.array_equal(back["f32"][1], x.numpy()), "F32 round trip is exact")
    _check(np.array_equal(back["f16"][1], x.half().numpy()), "F16 round trip is exact")
    _check(np.array_equal(back["bf16"][1], bf16_bits(x)) and
           np.array_equal(bf16_to_f32(back["bf16"][1]), x.bfloat16().float().numpy()), "BF16 round trip is exact")
    _check(np.array_equal(back["i64"][1], ints) and back["s"][1].shape == () and back["e"][1].shape == (0, 2),
           "I64, scalars and empty tensors round trip")
    with open(p, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
    _check(n % 8 == 0, "the header is padded to 8 bytes")
    p2 = os.path.join(tmp, "t2.safetensors")
    write_safetensors(p2, {k: v for k, v in back.items()}, meta)
    _check(open(p, "rb").read() == open(p2, "rb").read(), "read → write is byte-identical")

    # Checkpoints.
    m = _tiny(tie_word_embeddings=False).eval()
    ids = torch.randint(0, 48, (1, 9))
    with torch.no_grad():
        want = m(ids)
    for dt, shard in (("F32", None), ("F32", 6000), ("BF16", None)):
        d = os.path.join(tmp, f"ck_{dt}_{shard}")
        save_hf_checkpoint(m, d, dt, shard)
        m2 = load_hf_checkpoint(d).eval()
        exact = all(torch.equal(m2.hf_state_dict()[k], v if dt == "F32" else v.bfloat16().float())
                    for k, v in m.hf_state_dict().items())
        _check(exact, f"checkpoint {dt} shard={shard}: weights round trip exactly")
    m = _tiny(tie_word_embeddings=True).eval()
    save_hf_checkpoint(m, os.path.join(tmp, "tied"))
    _check("lm_head.weight" not in load_safetensors(os.path.join(tmp, "tied", "model.safetensors")),
           "a tied checkpoint has no lm_head.weight")

    # LoRA.
    m = _tiny().eval()
    with torch.no_grad():
        base_out = m(ids)
    add_lora(m, r=4, alpha=8, seed=3)
    with torch.no_grad():
        _check(torch.equal(m(ids), base_out), "LoRA with B = 0 leaves the logits unchanged")
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    _check(trainable and all(".lora_" in n for n in trainable), "only the LoRA tensors are trainable")
    keys = sorted(peft_state_dict(m))
    _check(keys[0] == "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight" and len(keys) == 2 * 7 * 2,
           "PEFT tensor keys")
    with torch.no_grad():
        for mod in lora_modules(m).values():
            mod.lora_B.normal_(0, 0.1)
        tuned = m(ids)
    save_lora_adapter(m, os.path.join(tmp, "ad"))
    m2 = load_lora_adapter(_tiny().eval(), os.path.join(tmp, "ad"))
    with torch.no_grad():
        _check(torch.equal(m2(ids), tuned) and not torch.equal(tuned, base_out), "adapter save → load: same logits")
        d = (merge_lora(m2)(ids) - tuned).abs().max().item()
    _check(d < 1e-5 and not lora_modules(m2), f"merged = unmerged (max diff {d:.2g})")

    # O-LoRA.
    m = add_lora(_tiny(), r=2, alpha=4, targets=("q_proj", "v_proj"), seed=1)
    past = stack_past_A(lora_A_by_module(add_lora(_tiny(), r=2, targets=("q_proj", "v_proj"), seed=5)),
                        {"model.layers.0.self_attn.q_proj": torch.randn(3, 32)})
    _check(past["model.layers.0.self_attn.q_proj"].shape == (5, 32), "stack_past_A concatenates the rounds")
    loss = olora_orth_loss(m, past, 0.5)
    ref = 0.5 * sum(np.abs(mod.lora_A.detach().numpy() @ past[n].numpy().T).sum() for n, mod in lora_modules(m).items())
    _check(abs(loss.item() - ref) < 1e-4 * ref, f"O-LoRA term = numpy ({loss.item():.6g} vs {ref:.6g})")
    loss.backward()
    grads = {n for n, p in m.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    _check(grads and all(n.endswith("lora_A") for n in grads), "the O-LoRA gradient reaches only lora_A")

    # Training.
    m = _tiny().train()
    ids = torch.randint(0, 48, (2, 12))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.01)
    first = None
    for _ in range(20):
        loss = m.loss(ids)
        first = first if first is not None else loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _check(loss.item() < 0.5 * first, f"20 AdamW steps overfit one batch (loss {first:.3f} → {loss.item():.3f})")
    print("selftest passed")


# ------------------------------------------------------------------------------------------------
# Benchmarks
# ------------------------------------------------------------------------------------------------

BENCH_SHAPES = {
    "d128": dict(hidden_size=128, intermediate_size=344, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=512),
    "s15m": dict(hidden_size=288, intermediate_size=768, num_hidden_layers=6, num_attention_heads=6,
                 num_key_value_heads=6, vocab_size=32000, tie_word_embeddings=True),
    # Real-model shapes, run only when --only names them: SmolLM2-135M and TinyLlama-1.1B.
    "smol": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                 num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True),
    "tl1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                 num_key_value_heads=4, vocab_size=32000),
}
OPT_IN_SHAPES = ("smol", "tl1b")
# shape → (training batches, training sequence length); generation runs at batch 1 and 16.
BENCH_TRAIN = {"d128": ((8,), 64), "s15m": ((8, 1), 256), "smol": ((4,), 128), "tl1b": ((1,), 128)}
GEN_PROMPT, GEN_NEW = 16, 128


def bench_cases():
    cases = []
    for shape, (batches, seq) in BENCH_TRAIN.items():
        for b in batches:
            cases += [dict(kind=k, shape=shape, batch=b, seq=seq) for k in ("fft", "lora")]
        cases += [dict(kind="gen", shape=shape, batch=b, prompt=GEN_PROMPT, new=GEN_NEW) for b in (1, 16)]
    return cases


def case_id(c):
    return f"{c['kind']}-{c['shape']}-b{c['batch']}"


def select_cases(cases, only):
    """--only entries are runs of a case id's '-'-separated parts: fft-d128 selects fft-d128-b8,
    gen-s15m-b1 does not select gen-s15m-b16. smol and tl1b run only when an entry names them."""
    if not only:
        return [c for c in cases if c["shape"] not in OPT_IN_SHAPES]

    def hit(entry, c):
        e, p = entry.split("-"), case_id(c).split("-")
        return any(p[i:i + len(e)] == e for i in range(len(p) - len(e) + 1))

    named = {s for s in OPT_IN_SHAPES if any(s in o.split("-") for o in only)}
    return [c for c in cases if (c["shape"] not in OPT_IN_SHAPES or c["shape"] in named)
            and any(hit(o, c) for o in only)]


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn, warmup, steps, min_time):
    """Runs fn warmup times, then at least steps times and until min_time seconds (at most 200 runs);
    returns the per-run seconds and fn's last result."""
    for _ in range(warmup):
        fn()
    times, out = [], None
    while len(times) < steps or (sum(times) < min_time and len(times) < 200):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def run_case(c):
    """Times one case in this process (bench starts a fresh one per case) and returns its results."""
    torch.set_num_threads(c["threads"])
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**BENCH_SHAPES[c["shape"]])).init_weights(seed=0, std=0.02)
    B, V = c["batch"], model.config.vocab_size
    res = dict(c)
    if c["kind"] == "gen":
        model.eval()
        prompt = torch.randint(0, V, (B, c["prompt"]))
        timing = []

        def once():
            toks, pre, dec = generate_greedy(model, prompt, c["new"], return_timing=True)
            timing.append((pre, dec))
            return toks

        times, toks = _timed(once, c["warmup"], c["steps"], c["min_time"])
        timing = timing[c["warmup"]:]
        assert tuple(toks.shape) == (B, c["new"])
        total = statistics.median(times)
        res.update(total_s=total, tok_s=B * c["new"] / total, prefill_s=statistics.median(t[0] for t in timing),
                   decode_tok_s=B * (c["new"] - 1) / statistics.median(t[1] for t in timing))
    else:
        T = c["seq"]
        if c["kind"] == "lora":
            add_lora(model, r=8, alpha=16, seed=0)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, foreach=True)
        ids = torch.randint(0, V, (B, T))

        def step():
            loss = model.loss(ids)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        times, _ = _timed(step, c["warmup"], c["steps"], c["min_time"])
        med, n = statistics.median(times), model.matmul_params()
        res.update(step_s=med, step_min_s=min(times), tok_s=B * T / med, matmul_params=n,
                   trainable=sum(p.numel() for p in params), gflops=6 * n * B * T / med / 1e9)
    res.update(n_timed=len(times), times=[round(t, 5) for t in times], peak_rss_mb=_peak_rss_mb())
    return res


def _proc_stat():
    """(total, idle + iowait, steal) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4], v[7] if len(v) > 7 else 0


def _busy_fraction(seconds=1.0):
    a = _proc_stat()
    time.sleep(seconds)
    b = _proc_stat()
    return 1 - (b[1] - a[1]) / max(1, b[0] - a[0])


def parse_thread_config(spec):
    """'T', 'T:B' or 'T:B:wait' → torch/OpenMP threads, OpenBLAS threads, OMP_WAIT_POLICY."""
    p = (spec.split(":") + ["", ""])[:3]
    t = int(p[0])
    return t, int(p[1]) if p[1] else t, p[2] or "passive"


def format_line(r):
    """One result as the line internal/benchsum parses."""
    tail = f"peakRSS {r['peak_rss_mb']:.0f} MB  busy-before {r['cpu_busy_before']}  steal {r['steal_frac']}"
    if r["kind"] == "gen":
        return (f"gen  {r['shape']:5s} B{r['batch']:<3d} cfg {r['config']:10s} {r['tok_s']:8.1f} tok/s total "
                f"(decode {r['decode_tok_s']:8.1f} tok/s, prefill {r['prefill_s'] * 1e3:.1f} ms)  {tail}")
    return (f"{r['kind']:4s} {r['shape']:5s} B{r['batch']:<3d} T{r['seq']} cfg {r['config']:10s} "
            f"{r['step_s'] * 1e3:8.1f} ms/step {r['tok_s']:8.1f} tok/s {r['gflops']:6.1f} GFLOP/s(6N)  {tail}")


def format_tables(results):
    """The results as two markdown tables (training, generation), in the columns benchsum reads."""
    lines = ["| case | shape | B×T | threads torch:blas:wait | median step (min) | tok/s | GFLOP/s (6N) | LoRA/FFT | peak RSS MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if r["kind"] != "gen":
            ratio = f"{r['lora_over_fft']:.2f}" if "lora_over_fft" in r else ""
            lines.append(f"| {r['kind']} | {r['shape']} | {r['batch']}×{r['seq']} | {r['config']} | "
                         f"{r['step_s'] * 1e3:.1f} ms ({r['step_min_s'] * 1e3:.1f}) | {r['tok_s']:.0f} | "
                         f"{r['gflops']:.1f} | {ratio} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "| generation (greedy, KV cache) | shape | batch | threads torch:blas:wait | prompt+new | "
                  "total tok/s (incl. prefill) | decode tok/s | prefill ms | peak RSS MB |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if r["kind"] == "gen":
            lines.append(f"| gen | {r['shape']} | {r['batch']} | {r['config']} | {r['prompt']}+{r['new']} | "
                         f"{r['tok_s']:.0f} | {r['decode_tok_s']:.0f} | {r['prefill_s'] * 1e3:.1f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def bench(configs=("2", "1"), quick=False, json_out=None, only=None, steps=None):
    """Runs every selected case once per thread config, each in a fresh subprocess (a clean peak RSS
    and its own thread environment), prints a line per case, then the markdown tables."""
    results = []
    for spec in configs:
        th, blas, wait = parse_thread_config(spec)
        env = dict(os.environ, OMP_NUM_THREADS=str(th), OPENBLAS_NUM_THREADS=str(blas), MKL_NUM_THREADS=str(blas),
                   OMP_WAIT_POLICY=wait.upper())
        for c in select_cases(bench_cases(), only):
            c = dict(c, threads=th, blas_threads=blas, omp_wait=wait, config=f"{th}:{blas}:{wait}",
                     steps=steps or (3 if quick else 7), warmup=1 if quick else 2, min_time=0.0 if quick else 3.0)
            busy = _busy_fraction()
            s0 = _proc_stat()
            p = subprocess.run([sys.executable, os.path.abspath(__file__), "_bench_case", json.dumps(c)],
                               env=env, capture_output=True, text=True)
            s1 = _proc_stat()
            if p.returncode:
                print(f"case {case_id(c)} cfg {c['config']} failed:\n{p.stderr}", file=sys.stderr)
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r["cpu_busy_before"] = round(busy, 3)
            r["steal_frac"] = round((s1[2] - s0[2]) / max(1, s1[0] - s0[0]), 4)
            results.append(r)
            print(format_line(r), flush=True)
    for r in results:
        fft = [f for f in results if f["kind"] == "fft" and r["kind"] == "lora"
               and all(f[k] == r[k] for k in ("shape", "batch", "seq", "config"))]
        if fft:
            r["lora_over_fft"] = r["step_s"] / fft[0]["step_s"]
    print()
    print(format_tables(results))
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"torch": torch.__version__, "results": results}, f, indent=1)
    return results


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------

def _tokens(s):
    return torch.tensor([[int(t) for t in s.replace(" ", "").split(",") if t]], dtype=torch.long)


def _load(args):
    m = load_hf_checkpoint(args.model)
    if args.adapter:
        load_lora_adapter(m, args.adapter)
    return m.eval()


def cmd_random(a):
    hidden = a.hidden or (int(8 * a.dim / 3) + 7) // 8 * 8
    rope = None
    if a.llama3_rope:
        f, lo, hi, orig = a.llama3_rope.split(",")
        rope = {"rope_type": "llama3", "factor": float(f), "low_freq_factor": float(lo),
                "high_freq_factor": float(hi), "original_max_position_embeddings": int(orig)}
    elif a.linear_rope:
        rope = {"rope_type": "linear", "factor": a.linear_rope}
    cfg = LlamaConfig(vocab_size=a.vocab, hidden_size=a.dim, intermediate_size=hidden, num_hidden_layers=a.layers,
                      num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, head_dim=a.head_dim,
                      max_position_embeddings=a.max_pos, rms_norm_eps=a.eps, rope_theta=a.rope_theta,
                      rope_scaling=rope, tie_word_embeddings=a.tie, initializer_range=a.std)
    m = LlamaForCausalLM(cfg).init_weights(seed=a.seed, std=a.std, norm_std=a.norm_std)
    save_hf_checkpoint(m, a.out, a.dtype, a.shard_bytes or None)
    print(f"wrote {a.out}: {sum(p.numel() for p in m.hf_state_dict().values())} parameters, {a.dtype}")
    if a.lora_out:
        add_lora(m, r=a.lora_r, alpha=a.lora_alpha, seed=a.seed + 1)
        g = torch.Generator().manual_seed(a.seed + 2)
        with torch.no_grad():
            for mod in lora_modules(m).values():
                mod.lora_B.copy_(a.std * torch.randn(mod.lora_B.shape, generator=g))
        save_lora_adapter(m, a.lora_out, os.path.abspath(a.out))
        print(f"wrote {a.lora_out}: LoRA r {a.lora_r}, alpha {a.lora_alpha}, B non-zero")


def cmd_logits(a):
    if a.threads:
        torch.set_num_threads(a.threads)
    m, ids = _load(a), _tokens(a.tokens)
    with torch.no_grad():
        lg = m(ids)[0]
    print(f"logits {list(lg.shape)}: mean {lg.mean():.6g} std {lg.std():.6g} min {lg.min():.6g} max {lg.max():.6g}")
    print("argmax per position:", ",".join(str(i) for i in lg.argmax(-1).tolist()))
    top = lg[-1].topk(min(5, lg.shape[-1]))
    print("top 5 at the last position:", ", ".join(f"{i}:{v:.5f}" for v, i in zip(top.values.tolist(), top.indices.tolist())))
    print("first 8 logits at position 0:", " ".join(f"{v:.6f}" for v in lg[0, :8].tolist()))
    if a.out:
        np.save(a.out, lg.numpy().astype(np.float32))
        print(f"wrote {a.out}")


def cmd_generate(a):
    m, ids = _load(a), _tokens(a.tokens)
    toks = generate_greedy(m, ids, a.new, a.eos)[0].tolist()
    print(f"prompt {ids[0].tolist()}, {len(toks)} new tokens (greedy, KV cache):")
    print(",".join(str(t) for t in toks))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("random", help="write a Hugging Face checkpoint with random weights")
    s.add_argument("--out", required=True)
    s.add_argument("--dim", type=int, default=128)
    s.add_argument("--layers", type=int, default=4)
    s.add_argument("--heads", type=int, default=4)
    s.add_argument("--kv-heads", type=int, default=None, help="default: --heads")
    s.add_argument("--hidden", type=int, default=None, help="MLP width (default: 8·dim/3 rounded up to a multiple of 8)")
    s.add_argument("--vocab", type=int, default=512)
    s.add_argument("--head-dim", type=int, default=None, help="default: dim/heads")
    s.add_argument("--max-pos", type=int, default=2048)
    s.add_argument("--eps", type=float, default=1e-5)
    s.add_argument("--rope-theta", type=float, default=10000.0)
    s.add_argument("--llama3-rope", metavar="F,LO,HI,ORIG", help="llama3 rope_scaling, e.g. 8,1,4,8192")
    s.add_argument("--linear-rope", type=float, metavar="F", help="linear rope_scaling factor")
    s.add_argument("--tie", action="store_true", help="tie_word_embeddings (no lm_head.weight)")
    s.add_argument("--dtype", default="F32", choices=["F32", "BF16", "F16"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--std", type=float, default=0.02, help="std of the matrices")
    s.add_argument("--norm-std", type=float, default=0.1, help="norm weights are 1 + N(0, norm-std²); 0: all ones")
    s.add_argument("--shard-bytes", type=int, default=0, help="shard into files of at most this many tensor bytes")
    s.add_argument("--lora-out", help="also write a PEFT LoRA adapter (all seven modules, B non-zero) here")
    s.add_argument("--lora-r", type=int, default=8)
    s.add_argument("--lora-alpha", type=float, default=16)

    s = sub.add_parser("logits", help="print a summary of the logits of a token list; --out saves them [T, vocab] as .npy")
    s.add_argument("--model", required=True)
    s.add_argument("--tokens", required=True, help="comma-separated token ids")
    s.add_argument("--adapter", help="a PEFT LoRA adapter directory to apply")
    s.add_argument("--out", help="write the float32 logits [T, vocab] to this .npy")
    s.add_argument("--threads", type=int, default=0)

    s = sub.add_parser("generate", help="greedy continuation with the KV cache; the last line is the new ids")
    s.add_argument("--model", required=True)
    s.add_argument("--tokens", required=True)
    s.add_argument("--new", type=int, default=32)
    s.add_argument("--adapter")
    s.add_argument("--eos", type=int)

    sub.add_parser("selftest", help="check the cache, RoPE, safetensors, checkpoints, LoRA, O-LoRA and training")

    s = sub.add_parser("bench", help="time training steps (fft, lora) and greedy generation, one subprocess per case")
    s.add_argument("--configs", default="2,1", help="comma list of T[:B[:wait]]: torch/OpenMP threads, OpenBLAS "
                                                     "threads (default T), OMP_WAIT_POLICY (default passive)")
    s.add_argument("--quick", action="store_true", help="1 warm-up and 3 timed steps (default 2 and ≥7, ≥3 s)")
    s.add_argument("--steps", type=int, help="timed steps per case")
    s.add_argument("--only", help="comma list of case-id parts: fft-d128-b8, lora-s15m, gen-d128, smol ...")
    s.add_argument("--json", help="also write the results to this JSON file")

    s = sub.add_parser("_bench_case", help=argparse.SUPPRESS)
    s.add_argument("case")

    a = ap.parse_args(argv)
    if a.cmd == "random":
        cmd_random(a)
    elif a.cmd == "logits":
        cmd_logits(a)
    elif a.cmd == "generate":
        cmd_generate(a)
    elif a.cmd == "selftest":
        selftest()
    elif a.cmd == "bench":
        bench(a.configs.split(","), a.quick, a.json, a.only.split(",") if a.only else None, a.steps)
    elif a.cmd == "_bench_case":
        print(json.dumps(run_case(json.loads(a.case))))


if __name__ == "__main__":
    main()
