# Regenerates torch_rounding.safetensors with PyTorch (the rounding oracle for BF16 and F16):
#   cd model/safetensors/testdata && python3 gen_torch_rounding.py [DIR_OF_llama_ref.py]
import os, sys
# Default: the project's scripts/torchref (this file is model/safetensors/testdata/); an argument or
# $ACCRETE_TORCHREF (the path of a llama_ref.py) names another. Imported first: without torch in this
# python3, llama_ref reruns this script under /usr/bin/python3.
here = os.path.dirname(os.path.abspath(__file__))
ref = os.environ.get("ACCRETE_TORCHREF")
sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(ref)) if ref
                else os.path.join(here, "..", "..", "..", "scripts", "torchref"))
import llama_ref as L
import numpy as np, torch
g = torch.Generator().manual_seed(1)
# values spanning normal, tie, subnormal (f16 and bf16), overflow and special cases
x = torch.cat([
    torch.randn(200, generator=g),
    torch.randn(100, generator=g) * 1e-6,     # f16 subnormals
    torch.randn(50, generator=g) * 3e4,       # near the f16 max
    torch.randn(50, generator=g) * 1e-39,     # f32 subnormals
    torch.tensor([0.0, -0.0, 1.0, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-11, 1 + 3 * 2**-11, 65504.0, 65519.0, 65520.0,
                  2**-24, 2**-25, 1.5 * 2**-25, 3.4e38, -3.4e38, float("inf"), float("-inf")]),
]).float()
# exact ties for bf16 (low 16 bits = 0x8000) and f16 (low 13 bits = 0x1000)
u = torch.randint(0, 2**31 - 1, (64,), generator=g, dtype=torch.int64)
ties = torch.cat([(u & ~0xFFFF) | 0x8000, (u & ~0x1FFF) | 0x1000]).to(torch.int32).view(torch.float32)
ties = ties[torch.isfinite(ties)]
x = torch.cat([x, ties]).contiguous()
bf = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
hf = x.to(torch.float16).view(torch.int16).numpy().view(np.uint16)
L.write_safetensors("torch_rounding.safetensors", {
    "f32": x, "bf16": ("BF16", bf), "f16": ("F16", hf.view(np.float16)),
    "i64": np.array([[1, -2, 3], [2**40, -2**62, 0]], dtype=np.int64),
    "u8": np.array([0, 255, 7], dtype=np.uint8), "bool": np.array([True, False, True]),
    "i32_scalar": np.array(-7, dtype=np.int32), "empty": np.zeros((0, 3), dtype=np.float32),
    "f64": np.array([0.1, -1e300, 1e-300], dtype=np.float64),
}, {"format": "pt", "source": "torch " + torch.__version__})
print(x.numel())
