# Independent numpy re-implementation of llama2.c run.c's forward (legacy format, interleaved RoPE).
# Usage: python3 runc_ref.py MODEL.bin 1,2,3,4,5 LOGITS.npy  (prints the max difference to LOGITS.npy)
import sys, numpy as np
buf = open(sys.argv[1], "rb").read()
dim, hid, L, nh, nkv, vocab, seq = np.frombuffer(buf[:28], "<i4")
shared = vocab > 0; vocab = abs(vocab); hs = dim // nh; kvd = nkv * hs
f = np.frombuffer(buf[28:], "<f4").astype(np.float64); o = 0
def take(*shape):
    global o; n = int(np.prod(shape)); a = f[o:o+n].reshape(shape); o += n; return a
emb = take(vocab, dim); rms_att = take(L, dim); wq = take(L, dim, dim); wk = take(L, kvd, dim); wv = take(L, kvd, dim)
wo = take(L, dim, dim); rms_ffn = take(L, dim); w1 = take(L, hid, dim); w2 = take(L, dim, hid); w3 = take(L, hid, dim)
rms_f = take(dim); take(seq, hs // 2); take(seq, hs // 2); wcls = emb if shared else take(vocab, dim)
assert o == f.size
def rmsnorm(x, w): return x / np.sqrt(np.mean(x * x) + 1e-5) * w
kc = np.zeros((L, seq, kvd)); vc = np.zeros((L, seq, kvd)); out = []
for pos, tok in enumerate(int(t) for t in sys.argv[2].split(",")):
    x = emb[tok].copy()
    for l in range(L):
        xb = rmsnorm(x, rms_att[l]); q = wq[l] @ xb; k = wk[l] @ xb; v = wv[l] @ xb
        for i in range(0, dim, 2):
            fr = 1.0 / 10000.0 ** ((i % hs) / hs); c, s = np.cos(pos * fr), np.sin(pos * fr)
            for vec in ([q, k] if i < kvd else [q]):
                a, b = vec[i], vec[i + 1]; vec[i], vec[i + 1] = a * c - b * s, a * s + b * c
        kc[l, pos], vc[l, pos] = k, v
        att_out = np.zeros(dim)
        for h in range(nh):
            kh = h // (nh // nkv)
            sc = kc[l, :pos + 1, kh*hs:(kh+1)*hs] @ q[h*hs:(h+1)*hs] / np.sqrt(hs)
            p = np.exp(sc - sc.max()); p /= p.sum()
            att_out[h*hs:(h+1)*hs] = p @ vc[l, :pos + 1, kh*hs:(kh+1)*hs]
        x = x + wo[l] @ att_out
        xb = rmsnorm(x, rms_ffn[l]); g = w1[l] @ xb
        x = x + w2[l] @ (g / (1 + np.exp(-g)) * (w3[l] @ xb))
    out.append(wcls @ rmsnorm(x, rms_f))
ref = np.load(sys.argv[3]).astype(np.float64)
print("run.c-style numpy vs torch HF logits: max abs diff", np.abs(np.array(out) - ref).max(), "max |logit|", np.abs(ref).max())
