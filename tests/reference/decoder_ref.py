#!/usr/bin/python3
"""Independent PyTorch reference for cairn's decoder (src/model/decoder*.c): the forward pass
of a Llama- or Qwen2-architecture model written the way Hugging Face transformers computes
LlamaForCausalLM / Qwen2ForCausalLM, over the weights of a GGUF file or a llama2.c
checkpoint, in float64. Written from transformers' modeling_llama.py / modeling_qwen2.py
(RMSNorm, rotate_half rotary embeddings with inv_freq = base^(-2i/d), linear scaling
dividing the positions, repeat_kv for grouped-query attention, causal softmax attention
scaled by 1/sqrt(head_dim), SiLU-gated MLP, tied or separate lm_head), not from cairn's C.

Weights: GGUF tensors through encoder_ref.Gguf (quantized types dequantized by
ggml_quants.py). For architecture "llama" the Q/K rows (and biases) are in the order
llama.cpp's converter writes (LlamaModel.permute, adjacent RoPE pairs); they are permuted
back to Hugging Face's order here, so rotate_half applies. llama2.c checkpoints store Meta's
original layout, which is the same adjacent-pair order, and are read by a parser of the
checkpoint format (karpathy/llama2.c run.c: 7 int32 header, then the float32 tensors).
rope_freqs.weight (Llama 3.1 scaling as GGUF stores it) divides inv_freq element-wise.

    decoder_ref.py JOBS.json

JOBS.json: [{"model": PATH, "prompts": [[ids...], ...], "n_gen": N, "logits": true,
"out": FILE}]. For each prompt, greedy decoding (argmax, first index on ties) for N tokens;
FILE gets, prompt after prompt, the N generated ids as int32, then when "logits" the float32
logits of every position of prompt + generated[:-1] (each row predicts the next token),
(len(prompt) + N - 1) rows of n_vocab.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import encoder_ref  # noqa: E402  (GGUF reader)

DT = torch.float64


class Model:
    pass


def load_llama2c(path):
    """karpathy/llama2.c legacy checkpoint (run.c's read_checkpoint)."""
    with open(path, "rb") as f:
        d = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", d, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    a = np.frombuffer(d, dtype="<f4", offset=28)
    p = 0
    hs = dim // n_heads

    def take(*shape):
        nonlocal p
        n = int(np.prod(shape))
        x = a[p:p + n].reshape(shape)
        p += n
        return torch.from_numpy(x.astype(np.float64))

    m = Model()
    m.arch = "llama"
    m.E, m.FF, m.L, m.H, m.KV, m.V, m.ctx = dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len
    m.hd = hs
    m.eps, m.base, m.linear, m.freqs = 1e-5, 10000.0, 1.0, None
    emb = take(vocab, dim)
    rms_att = take(n_layers, dim)
    wq = take(n_layers, dim, dim)
    wk = take(n_layers, n_kv * hs, dim)
    wv = take(n_layers, n_kv * hs, dim)
    wo = take(n_layers, dim, dim)
    rms_ffn = take(n_layers, dim)
    w1 = take(n_layers, hidden, dim)
    w2 = take(n_layers, dim, hidden)
    w3 = take(n_layers, hidden, dim)
    rms_final = take(dim)
    take(seq_len, hs // 2)  # freq_cis_real, freq_cis_imag: recomputed from the dimensions
    take(seq_len, hs // 2)
    wcls = emb if shared else take(vocab, dim)
    m.emb, m.out_norm, m.out = emb, rms_final, wcls
    m.layers = []
    for i in range(n_layers):
        m.layers.append(dict(attn_norm=rms_att[i], q=unpermute(wq[i], n_heads), k=unpermute(wk[i], n_kv), v=wv[i],
                             o=wo[i], ffn_norm=rms_ffn[i], gate=w1[i], down=w2[i], up=w3[i],
                             bq=None, bk=None, bv=None, bo=None))
    return m


def unpermute(w, n_head):
    """Inverse of llama.cpp's LlamaModel.permute (adjacent pairs -> rotate_half halves)."""
    if w is None:
        return None
    shape = w.shape
    return w.reshape(n_head, shape[0] // n_head // 2, 2, *shape[1:]).transpose(1, 2).reshape(shape)


def load_gguf(path):
    g = encoder_ref.Gguf(path)
    kv = g.kv
    arch = kv["general.architecture"]
    assert arch in ("llama", "qwen2"), arch
    m = Model()
    m.arch = arch

    def k(name, default=None):
        return kv.get(arch + "." + name, default)

    def t(name):
        x = g.tensor(name)
        return None if x is None else x.to(DT)

    m.E, m.FF, m.L, m.H = k("embedding_length"), k("feed_forward_length"), k("block_count"), k("attention.head_count")
    m.KV = k("attention.head_count_kv", m.H)
    m.hd = k("attention.key_length", m.E // m.H)
    m.eps = k("attention.layer_norm_rms_epsilon")
    m.base = k("rope.freq_base", 10000.0)
    m.linear = k("rope.scaling.factor", 1.0) if k("rope.scaling.type", "linear") == "linear" else 1.0
    m.freqs = t("rope_freqs.weight")
    m.emb = t("token_embd.weight")
    m.V = m.emb.shape[0]
    m.out_norm = t("output_norm.weight")
    m.out = t("output.weight")
    if m.out is None:
        m.out = m.emb  # tie_word_embeddings
    llama = arch == "llama"
    m.layers = []
    for i in range(m.L):
        b = "blk.%d." % i
        q, k_, bq, bk = t(b + "attn_q.weight"), t(b + "attn_k.weight"), t(b + "attn_q.bias"), t(b + "attn_k.bias")
        if llama:
            q, k_, bq, bk = unpermute(q, m.H), unpermute(k_, m.KV), unpermute(bq, m.H), unpermute(bk, m.KV)
        m.layers.append(dict(attn_norm=t(b + "attn_norm.weight"), q=q, k=k_, v=t(b + "attn_v.weight"),
                             o=t(b + "attn_output.weight"), bq=bq, bk=bk, bv=t(b + "attn_v.bias"),
                             bo=t(b + "attn_output.bias"), ffn_norm=t(b + "ffn_norm.weight"),
                             gate=t(b + "ffn_gate.weight"), up=t(b + "ffn_up.weight"), down=t(b + "ffn_down.weight")))
    return m


def load(path):
    with open(path, "rb") as f:
        magic = f.read(4)
    return load_gguf(path) if magic == b"GGUF" else load_llama2c(path)


# ---- Hugging Face's forward pass ----------------------------------------------------------------

def rms_norm(x, w, eps):  # LlamaRMSNorm / Qwen2RMSNorm
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(m, T):
    inv_freq = 1.0 / (m.base ** (torch.arange(0, m.hd, 2, dtype=DT) / m.hd))
    if m.freqs is not None:
        inv_freq = inv_freq / m.freqs
    t = torch.arange(T, dtype=DT) / m.linear  # LlamaLinearScalingRotaryEmbedding
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def forward(m, ids, last_only=False):
    """Logits [T, V] for the token ids (one sequence from position 0); [1, V] for the last
    position only with last_only."""
    T = len(ids)
    x = m.emb[torch.tensor(ids, dtype=torch.long)]
    cos, sin = rope_cos_sin(m, T)
    mask = torch.full((T, T), float("-inf"), dtype=DT).triu(1)
    rep = m.H // m.KV
    for ly in m.layers:
        h = rms_norm(x, ly["attn_norm"], m.eps)
        q = linear(h, ly["q"], ly["bq"]).view(T, m.H, m.hd).transpose(0, 1)
        k = linear(h, ly["k"], ly["bk"]).view(T, m.KV, m.hd).transpose(0, 1)
        v = linear(h, ly["v"], ly["bv"]).view(T, m.KV, m.hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(rep, dim=0)  # repeat_kv
        v = v.repeat_interleave(rep, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / np.sqrt(m.hd) + mask, dim=-1) @ v
        x = x + linear(att.transpose(0, 1).reshape(T, m.H * m.hd), ly["o"], ly["bo"])
        h = rms_norm(x, ly["ffn_norm"], m.eps)
        x = x + linear(torch.nn.functional.silu(linear(h, ly["gate"])) * linear(h, ly["up"]), ly["down"])
    if last_only:
        x = x[-1:]
    return linear(rms_norm(x, m.out_norm, m.eps), m.out)


def greedy(m, prompt, n_gen):
    seq = list(prompt)
    gen = []
    for _ in range(n_gen):
        logits = forward(m, seq, last_only=True)
        nxt = int(torch.argmax(logits[-1]))
        gen.append(nxt)
        seq.append(nxt)
    # the logits of prompt + gen[:-1]: the last forward above covered all but the final token
    full = forward(m, list(prompt) + gen[:-1]) if n_gen else None
    return gen, full


def main(argv):
    with open(argv[0]) as f:
        jobs = json.load(f)
    cache = {}
    for job in jobs:
        path = job["model"]
        if path not in cache:
            cache = {path: load(path)}
        m = cache[path]
        with open(job["out"], "wb") as out:
            for prompt in job["prompts"]:
                gen, full = greedy(m, prompt, job["n_gen"])
                out.write(np.asarray(gen, dtype="<i4").tobytes())
                if job.get("logits", True) and full is not None:
                    out.write(full.numpy().astype("<f4").tobytes())
    return 0


if __name__ == "__main__":
    torch.set_num_threads(2)
    sys.exit(main(sys.argv[1:]))
