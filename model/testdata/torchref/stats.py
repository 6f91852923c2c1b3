# Writes DIR/stats.json: {tensor: [float64 sum, float64 sum of squares, element count]} of the float32
# weights llama_ref.py loads from the checkpoint in DIR. Usage: python3 stats.py llama_ref.py DIR
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
import llama_ref as L
m = L.load_hf_checkpoint(sys.argv[2])
out = {}
for k, v in sorted(m.hf_state_dict().items()):
    a = v.detach().double()
    out[k] = [float(a.sum()), float((a * a).sum()), int(a.numel())]
with open(os.path.join(sys.argv[2], "stats.json"), "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
