#!/usr/bin/python3
"""Independent PyTorch reference for cairn's encoder (src/model/): the forward pass of a
BERT-family GGUF model written the way Hugging Face transformers computes it, from the
same GGUF tensors, to check cairn's output against.

Written from transformers' BertModel / BertForSequenceClassification (post-LN layers,
exact erf GELU, additive attention mask over a *padded* batch, pooler dense + tanh and
classifier for rerankers), sentence-transformers' pooling (mean over the attention mask,
[CLS] token, last token) and, for nomic-bert, nomic's NomicBertModel (fused Wqkv, rotary
embeddings with non-interleaved halves, SwiGLU fc11 * silu(fc12)). Not from cairn's C code.
Tokens come from tests/reference/bert_tokenize.py (a WordPiece written from Hugging Face
`tokenizers`) over the GGUF's own vocabulary, truncated as Hugging Face does: the text to
context_length - 2 tokens, and for pairs the passage first.

    encoder_ref.py JOBS.json

JOBS.json: [{"model": GGUF, "weights": GGUF (optional: take the weights from this file,
e.g. the F32 model of the same seed, and the metadata from "model"), "mode": "embed" |
"rerank", "texts": [...], "query": "..." (rerank), "prefix": "" , "normalize": true,
"out": FILE}] — each job writes its rows (embed: n x dim, rerank: n scores) to "out" as
little-endian float32.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bert_tokenize  # noqa: E402

TYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
         7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
         14: ("Q6_K", 256, 210), 30: ("BF16", 1, 2)}
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}


class Gguf:
    """Key/values and tensor table of a GGUF v3 file (the subset a writer of encoders uses)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.d = d = f.read()
        assert d[:4] == b"GGUF", path
        _, nt, nkv = struct.unpack_from("<IQQ", d, 4)
        self.p = 24
        self.kv = {}
        for _ in range(nkv):
            k = self.s()
            t = self.u("<I")
            self.kv[k] = self.val(t)
        infos = []
        for _ in range(nt):
            name = self.s()
            nd = self.u("<I")
            ne = [self.u("<Q") for _ in range(nd)]
            t, off = self.u("<I"), self.u("<Q")
            infos.append((name, ne, t, off))
        align = self.kv.get("general.alignment", 32)
        base = (self.p + align - 1) // align * align
        self.tensors = {name: (ne, t, base + off) for name, ne, t, off in infos}

    def u(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def s(self):
        n = self.u("<Q")
        v = self.d[self.p:self.p + n].decode("utf-8", errors="surrogateescape")
        self.p += n
        return v

    def val(self, t):
        if t == 8:
            return self.s()
        if t == 9:
            et, n = self.u("<I"), self.u("<Q")
            return [self.val(et) for _ in range(n)]
        return self.u(SCALAR[t])

    def tensor(self, name):
        """float32 numpy array in PyTorch layout (ne reversed), or None."""
        if name not in self.tensors:
            return None
        ne, t, off = self.tensors[name]
        tname, bs, ts = TYPES[t]
        n = int(np.prod(ne))
        data = self.d[off:off + n // bs * ts]
        shape = tuple(reversed(ne))
        if tname == "F32":
            x = np.frombuffer(data, dtype="<f4")
        elif tname == "F16":
            x = np.frombuffer(data, dtype="<f2").astype(np.float32)
        elif tname == "BF16":
            x = (np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            import ggml_quants  # tests/reference/ggml_quants.py
            rows = n // ne[0]
            x = np.asarray(ggml_quants.dequantize(tname, data, rows, ne[0]), dtype=np.float32)
        return torch.from_numpy(np.array(x, dtype=np.float32).reshape(shape))


def wordpiece_vocab(tokens):
    """llama.cpp's GGUF rewrite of vocab.txt back to vocab.txt form: a U+2581 prefix marks a
    word-initial piece, anything else that is not a [special] is a ## continuation."""
    vocab = {}
    for i, t in enumerate(tokens):
        if t.startswith("\u2581"):
            s = t[1:]
        elif t.startswith("[") and t.endswith("]"):
            s = t
        else:
            s = "##" + t
        vocab.setdefault(s, i)
    return vocab


def padded_batches(seqs):
    """Groups of indices, each run as one padded batch: texts of unequal length share a batch
    (the attention mask at work), but a text over 4x the shortest's length goes to another
    group, so one long text does not make the whole batch 512 tokens wide."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    groups, cur = [], []
    for i in order:
        if cur and len(seqs[i]) > 4 * max(8, len(seqs[cur[0]])):
            groups.append(cur)
            cur = []
        cur.append(i)
    groups.append(cur)
    return groups


class Model:
    def __init__(self, path, weights_path=None):
        g = Gguf(path)
        w = Gguf(weights_path) if weights_path else g
        self.arch = a = g.kv["general.architecture"]
        self.E = g.kv[a + ".embedding_length"]
        self.L = g.kv[a + ".block_count"]
        self.H = g.kv[a + ".attention.head_count"]
        self.ctx = g.kv[a + ".context_length"]
        self.eps = g.kv.get(a + ".attention.layer_norm_epsilon", 1e-12)
        self.pooling = g.kv.get(a + ".pooling_type", 1) or 1
        self.rope_base = g.kv.get(a + ".rope.freq_base", 10000.0)
        self.vocab = wordpiece_vocab(g.kv["tokenizer.ggml.tokens"])
        self.cls = g.kv.get("tokenizer.ggml.cls_token_id", 101)
        self.sep = g.kv.get("tokenizer.ggml.seperator_token_id", 102)
        self.t = {name: w.tensor(name) for name in w.tensors}

    def tok(self, text):
        return bert_tokenize.tokenize(text, self.vocab, True)

    # -- the forward pass over a padded batch, as transformers does it --
    def forward(self, ids_list, types_list):
        t, E, H = self.t, self.E, self.H
        hd = E // H
        B, S = len(ids_list), max(len(x) for x in ids_list)
        ids = torch.zeros(B, S, dtype=torch.long)
        typ = torch.zeros(B, S, dtype=torch.long)
        mask = torch.zeros(B, S)
        for b, (x, y) in enumerate(zip(ids_list, types_list)):
            ids[b, :len(x)] = torch.tensor(x)
            typ[b, :len(y)] = torch.tensor(y)
            mask[b, :len(x)] = 1
        ln = torch.nn.functional.layer_norm
        h = t["token_embd.weight"][ids]
        if t.get("token_types.weight") is not None:
            h = h + t["token_types.weight"][typ]
        if self.arch == "bert":
            h = h + t["position_embd.weight"][:S].unsqueeze(0)
        h = ln(h, (E,), t["token_embd_norm.weight"], t.get("token_embd_norm.bias"), self.eps)
        ext = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
        if self.arch == "nomic-bert":
            inv = 1.0 / (self.rope_base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
            ang = torch.arange(S, dtype=torch.float64)[:, None] * inv[None, :]
            cos, sin = torch.cos(ang).float(), torch.sin(ang).float()

            def rope(x):  # [B, H, S, hd], halves rotated (GPT-NeoX / nomic interleaved=False)
                x1, x2 = x[..., :hd // 2], x[..., hd // 2:]
                return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)

        def lin(x, name):
            y = x @ t[name + ".weight"].T
            b = t.get(name + ".bias")
            return y + b if b is not None else y

        for i in range(self.L):
            p = "blk.%d." % i
            if self.arch == "nomic-bert":
                q, k, v = lin(h, p + "attn_qkv").split(E, dim=-1)
            else:
                q, k, v = lin(h, p + "attn_q"), lin(h, p + "attn_k"), lin(h, p + "attn_v")
            q, k, v = (z.view(B, S, H, hd).transpose(1, 2) for z in (q, k, v))
            if self.arch == "nomic-bert":
                q, k = rope(q), rope(k)
            sc = q @ k.transpose(-1, -2) / np.sqrt(hd) + ext
            a = torch.softmax(sc, dim=-1) @ v
            a = a.transpose(1, 2).reshape(B, S, E)
            h = ln(lin(a, p + "attn_output") + h, (E,), t[p + "attn_output_norm.weight"],
                   t.get(p + "attn_output_norm.bias"), self.eps)
            if self.arch == "nomic-bert":
                f = lin(h, p + "ffn_up") * torch.nn.functional.silu(lin(h, p + "ffn_gate"))
            else:
                f = torch.nn.functional.gelu(lin(h, p + "ffn_up"))  # exact erf form
            h = ln(lin(f, p + "ffn_down") + h, (E,), t[p + "layer_output_norm.weight"],
                   t.get(p + "layer_output_norm.bias"), self.eps)
        return h, mask

    def embed(self, texts, prefix, normalize):
        ids = [[self.cls] + self.tok(prefix + x)[:self.ctx - 2] + [self.sep] for x in texts]
        out = [None] * len(ids)
        for group in padded_batches(ids):
            sub = [ids[i] for i in group]
            h, mask = self.forward(sub, [[0] * len(x) for x in sub])
            if self.pooling == 1:
                e = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            elif self.pooling == 2:
                e = h[:, 0]
            elif self.pooling == 3:
                e = torch.stack([h[b, len(x) - 1] for b, x in enumerate(sub)])
            else:
                raise SystemExit("pooling %d is not an embedding" % self.pooling)
            for k, i in enumerate(group):
                out[i] = e[k]
        e = torch.stack(out)
        if normalize:
            e = torch.nn.functional.normalize(e, dim=-1)
        return e

    def rerank(self, query, passages):
        q = self.tok(query)
        budget = self.ctx - 3
        ids, types = [], []
        for p in passages:
            pt = self.tok(p)
            q_keep = min(len(q), max(budget - len(pt), budget // 2))
            p_keep = min(len(pt), budget - q_keep)
            x = [self.cls] + q[:q_keep] + [self.sep]
            ids.append(x + pt[:p_keep] + [self.sep])
            types.append([0] * len(x) + [1] * (p_keep + 1))
        c = torch.zeros(len(ids), self.E)
        for group in padded_batches(ids):
            h, _ = self.forward([ids[i] for i in group], [types[i] for i in group])
            for k, i in enumerate(group):
                c[i] = h[k, 0]
        t = self.t
        if t.get("cls.weight") is not None:
            c = torch.tanh(c @ t["cls.weight"].T + t["cls.bias"])
        logits = c @ t["cls.output.weight"].T
        if t.get("cls.output.bias") is not None:
            logits = logits + t["cls.output.bias"]
        return logits[:, 0]


def main():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    cache = {}
    with torch.no_grad():
        for j in jobs:
            key = (j["model"], j.get("weights"))
            if key not in cache:
                cache.clear()
                cache[key] = Model(j["model"], j.get("weights"))
            m = cache[key]
            if j["mode"] == "embed":
                r = m.embed(j["texts"], j.get("prefix", ""), j.get("normalize", True))
            else:
                r = m.rerank(j["query"], j["texts"])
            with open(j["out"], "wb") as f:
                f.write(r.numpy().astype("<f4").tobytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
