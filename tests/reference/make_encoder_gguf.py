#!/usr/bin/python3
"""Writes BERT-family encoder GGUF files with random weights, for cairn's encoder tests and
benchmark (src/model/). Pure Python + numpy; quantized types through ggml_quants.py (beside
this file). Written from the GGUF spec (ggml docs/gguf.md) and llama.cpp's tensor naming
(src/llama-arch.cpp), not from cairn's C code.

The tokenizer (every tokenizer.* key, copied byte for byte) comes from a vocab-only GGUF,
normally ../shared/models/vocab/ggml-vocab-bert-bge.gguf, so token_embd has that vocabulary's
row count. Weights are drawn from a fixed seed *before* they are converted, so the models of
one seed and shape hold the same underlying numbers in every tensor type: a quantized model's
output can be compared with the F32 model's.

Tensor types as llama.cpp's quantize lays them out: 1-D tensors (norms, biases) stay F32;
position_embd and token_types stay F32 in an F32 model and F16 (BF16 in a BF16 model)
otherwise; every other matrix (token_embd included) takes the requested type, except that a
matrix whose rows are not a whole number of blocks falls back as llama.cpp does (Q4_K ->
Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0): with hidden 384, only ffn_down (rows of 1536) is K-quantized.

    make_encoder_gguf.py model OUT.gguf --vocab V.gguf [--type F32] [--arch bert|nomic-bert]
        [--layers 6] [--hidden 384] [--heads 12] [--ff 1536] [--ctx 512]
        [--pooling mean|cls|last|rank] [--labels 1] [--no-pooler] [--seed 1] [--break KIND]
    make_encoder_gguf.py suite DIR --vocab V.gguf [--types F32,F16,...] [--short Q4_1,...]
        [--short-layers 2] [--small]
        writes DIR/<name>.gguf for the parity tests (6 layers; 2 for the --short types,
        nomic-bert and [CLS] pooling, 3 for the rerankers) and the hostile files, and
        DIR/manifest.json describing them

--break KIND makes a hostile file (for the loader's validation tests):
    missing   drops blk.1.attn_k.weight
    shape     blk.0.attn_q.weight is [hidden, hidden - 4]
    meta      feed_forward_length says ff/2 while the tensors have ff
    vocab     token_embd has 100 rows fewer than the tokenizer
    arch      general.architecture = "llama"
    iq2       blk.0.ffn_down.weight is IQ2_XXS (needs ff a multiple of 256)
    heads     attention.head_count does not divide embedding_length
    pos       position_embd has ctx/2 rows
    nocls     pooling rank without cls.output.weight
    causal    attention.causal = true
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# ggml type ids, elements per block, bytes per block (ggml-common.h block structs)
GGML_TYPES = {
    "F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20),
    "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34), "Q4_K": (12, 256, 144),
    "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210), "IQ2_XXS": (16, 256, 66), "BF16": (30, 1, 2),
}
FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
ALL_TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]

GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_U64 = 4, 5, 6, 7, 8, 9, 10
SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
ALIGN = 32


# ---- reading the vocabulary's key/values (raw bytes kept) -----------------------------------

def _skip_value(d, p, t):
    if t == GGUF_STRING:
        n = struct.unpack_from("<Q", d, p)[0]
        return p + 8 + n
    if t == GGUF_ARRAY:
        et, n = struct.unpack_from("<IQ", d, p)
        p += 12
        if et in SCALAR_SIZE:
            return p + n * SCALAR_SIZE[et]
        for _ in range(n):
            p = _skip_value(d, p, et)
        return p
    return p + SCALAR_SIZE[t]


def read_kv_raw(path):
    """[(key, raw bytes of the whole key/value entry)] of a GGUF file."""
    with open(path, "rb") as f:
        d = f.read()
    if d[:4] != b"GGUF":
        raise SystemExit("%s: not GGUF" % path)
    _, _, n_kv = struct.unpack_from("<IQQ", d, 4)
    p = 24
    out = []
    for _ in range(n_kv):
        start = p
        n = struct.unpack_from("<Q", d, p)[0]
        key = d[p + 8:p + 8 + n].decode()
        p += 8 + n
        t = struct.unpack_from("<I", d, p)[0]
        p = _skip_value(d, p + 4, t)
        out.append((key, d[start:p]))
    return out


def vocab_size(raw_kvs):
    for key, raw in raw_kvs:
        if key == "tokenizer.ggml.tokens":
            n = struct.unpack_from("<Q", raw, 0)[0]
            return struct.unpack_from("<Q", raw, 8 + n + 4 + 4)[0]
    raise SystemExit("no tokenizer.ggml.tokens")


# ---- writing --------------------------------------------------------------------------------

def _str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, t, value):
    b = _str(key) + struct.pack("<I", t)
    if t == GGUF_STRING:
        return b + _str(value)
    fmt = {GGUF_U32: "<I", GGUF_I32: "<i", GGUF_F32: "<f", GGUF_BOOL: "<B", GGUF_U64: "<Q"}[t]
    return b + struct.pack(fmt, value)


def to_bf16(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r


def encode_tensor(x, tname):
    """Bytes of a float32 array (rows = x.shape[0], cols = x.shape[-1]) in type tname."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if tname == "F32":
        return x.tobytes()
    if tname == "F16":
        return x.astype(np.float16).tobytes()
    if tname == "BF16":
        return to_bf16(x).tobytes()
    import ggml_quants  # tests/reference/ggml_quants.py (the kernels' helper)
    rows = x.shape[0] if x.ndim == 2 else 1
    return bytes(ggml_quants.quantize(tname, x.reshape(rows, -1)))


def write_gguf(path, kvs_raw, tensors):
    """tensors: [(name, ne list (ggml order), type name, bytes)]."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs_raw))
    infos = b""
    off = 0
    offsets = []
    for name, ne, tname, data in tensors:
        tid, bs, ts = GGML_TYPES[tname]
        n = 1
        for e in ne:
            n *= e
        assert ne[0] % bs == 0 and len(data) == n // bs * ts, (name, ne, tname, len(data))
        off = (off + ALIGN - 1) // ALIGN * ALIGN
        offsets.append(off)
        infos += _str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", e) for e in ne)
        infos += struct.pack("<IQ", tid, off)
        off += len(data)
    with open(path, "wb") as f:
        f.write(head)
        for raw in kvs_raw:
            f.write(raw)
        f.write(infos)
        pos = f.tell()
        f.write(b"\0" * ((ALIGN - pos % ALIGN) % ALIGN))
        base = f.tell()
        for (name, ne, tname, data), o in zip(tensors, offsets):
            f.write(b"\0" * (base + o - f.tell()))
            f.write(data)


# ---- random models --------------------------------------------------------------------------

# Gain of the projections that write into the residual stream (attention output, FFN down).
# Trained BERTs add modest updates to a dominant residual stream; unit gain there makes a
# random network chaotic, so that any rounding (even F16's) is amplified layer by layer far
# beyond what a real model shows.
BRANCH = float(os.environ.get("CAIRN_ENC_BRANCH", "0.3"))

POOLING = {"none": 0, "mean": 1, "cls": 2, "last": 3, "rank": 4}


def random_weights(cfg, n_vocab):
    """name -> float32 array in PyTorch layout ([out, in] for matrices), from cfg's seed."""
    rng = np.random.default_rng(cfg["seed"])
    E, FF, nl = cfg["hidden"], cfg["ff"], cfg["layers"]
    nomic = cfg["arch"] == "nomic-bert"

    def mat(rows, cols, gain=1.0):
        return (rng.standard_normal((rows, cols)) * (gain / np.sqrt(cols))).astype(np.float32)

    bs = cfg.get("branch", BRANCH)

    def vec(n, center=0.0, scale=0.05):
        return (center + scale * rng.standard_normal(n)).astype(np.float32)

    w = {}
    w["token_embd.weight"] = rng.standard_normal((n_vocab, E)).astype(np.float32)
    w["token_types.weight"] = (0.5 * rng.standard_normal((2, E))).astype(np.float32)
    if not nomic:
        w["position_embd.weight"] = (0.5 * rng.standard_normal((cfg["ctx"], E))).astype(np.float32)
    w["token_embd_norm.weight"] = vec(E, 1.0, 0.1)
    w["token_embd_norm.bias"] = vec(E, 0.0, 0.1)
    for i in range(nl):
        b = "blk.%d." % i
        if nomic:
            w[b + "attn_qkv.weight"] = mat(3 * E, E)
        else:
            for x in "qkv":
                w[b + "attn_%s.weight" % x] = mat(E, E)
                w[b + "attn_%s.bias" % x] = vec(E)
        w[b + "attn_output.weight"] = mat(E, E, bs)
        if not nomic:
            w[b + "attn_output.bias"] = vec(E)
        w[b + "attn_output_norm.weight"] = vec(E, 1.0, 0.1)
        w[b + "attn_output_norm.bias"] = vec(E, 0.0, 0.1)
        w[b + "ffn_up.weight"] = mat(FF, E)
        if nomic:
            w[b + "ffn_gate.weight"] = mat(FF, E)
        else:
            w[b + "ffn_up.bias"] = vec(FF)
        w[b + "ffn_down.weight"] = mat(E, FF, bs)
        if not nomic:
            w[b + "ffn_down.bias"] = vec(E)
        w[b + "layer_output_norm.weight"] = vec(E, 1.0, 0.1)
        w[b + "layer_output_norm.bias"] = vec(E, 0.0, 0.1)
    if cfg["pooling"] == "rank":
        if cfg.get("pooler", True):  # llama.cpp's converter drops a BertForSequenceClassification's pooler
            w["cls.weight"] = mat(E, E)
            w["cls.bias"] = vec(E)
        w["cls.output.weight"] = mat(cfg["labels"], E) * 4.0
        w["cls.output.bias"] = vec(cfg["labels"])
    return w


def tensor_type(name, arr, tname):
    if arr.ndim == 1:
        return "F32"
    if name in ("position_embd.weight", "token_types.weight"):
        return "F32" if tname == "F32" else ("BF16" if tname == "BF16" else "F16")
    bs = GGML_TYPES[tname][1]
    if arr.shape[-1] % bs:
        return FALLBACK.get(tname, "F16")
    return tname


def build(cfg, vocab_path, out_path, weights=None):
    raw = read_kv_raw(vocab_path)
    n_vocab = vocab_size(raw)
    if weights is None:
        weights = random_weights(cfg, n_vocab)
    arch, E, FF, brk = cfg["arch"], cfg["hidden"], cfg["ff"], cfg.get("break")
    a = "llama" if brk == "arch" else arch
    heads = cfg["heads"] if brk != "heads" else cfg["heads"] + 1
    kvs = [kv("general.architecture", GGUF_STRING, a), kv("general.name", GGUF_STRING, "cairn-test-" + arch),
           kv(a + ".context_length", GGUF_U32, cfg["ctx"]), kv(a + ".embedding_length", GGUF_U32, E),
           kv(a + ".feed_forward_length", GGUF_U32, FF // 2 if brk == "meta" else FF),
           kv(a + ".block_count", GGUF_U32, cfg["layers"]), kv(a + ".attention.head_count", GGUF_U32, heads),
           kv(a + ".attention.layer_norm_epsilon", GGUF_F32, 1e-12),
           kv(a + ".attention.causal", GGUF_BOOL, 1 if brk == "causal" else 0),
           kv(a + ".pooling_type", GGUF_U32, POOLING[cfg["pooling"]])]
    if arch == "nomic-bert":
        kvs.append(kv(a + ".rope.freq_base", GGUF_F32, 1000.0))
    kvs += [r for k, r in raw if k.startswith("tokenizer.")]
    tensors = []
    for name, arr in weights.items():
        if name.startswith("blk.") and int(name.split(".")[1]) >= cfg["layers"]:
            continue
        if brk == "missing" and name == "blk.1.attn_k.weight":
            continue
        if brk == "nocls" and name.startswith("cls.output"):
            continue
        if brk == "shape" and name == "blk.0.attn_q.weight":
            arr = arr[:E - 4]
        if brk == "vocab" and name == "token_embd.weight":
            arr = arr[:-100]
        if brk == "pos" and name == "position_embd.weight":
            arr = arr[:cfg["ctx"] // 2]
        ne = list(reversed(arr.shape))
        if brk == "iq2" and name == "blk.0.ffn_down.weight":
            n = arr.size
            data = np.random.default_rng(7).integers(0, 256, n // 256 * 66, dtype=np.uint8).tobytes()
            tensors.append((name, ne, "IQ2_XXS", data))
            continue
        tn = tensor_type(name, arr, cfg["type"])
        tensors.append((name, ne, tn, encode_tensor(arr, tn)))
    write_gguf(out_path, kvs, tensors)
    return weights


def default_cfg(**kw):
    cfg = {"type": "F32", "arch": "bert", "layers": 6, "hidden": 384, "heads": 12, "ff": 1536, "ctx": 512,
           "pooling": "mean", "labels": 1, "seed": 1, "break": None}
    cfg.update({k: v for k, v in kw.items() if v is not None})
    return cfg


def suite(out_dir, vocab, types, short_types, short_layers, small):
    """The parity models and the hostile files. One weight draw per architecture and seed:
    every type of a family holds the same numbers, and a model with fewer layers holds the
    first layers of the deeper one (the draws go layer by layer), so a reference computed from
    the deep F32 file's weights with the shallow file's block_count is the shallow F32 model."""
    os.makedirs(out_dir, exist_ok=True)
    man = {"models": [], "hostile": []}
    shape = dict(layers=6) if not small else dict(layers=2, hidden=128, heads=4, ff=512, ctx=128)
    base = default_cfg(**shape)
    few = short_layers if not small else base["layers"]
    cache = {}

    def make(name, cfg, mode):
        p = os.path.join(out_dir, name + ".gguf")
        key = (cfg["arch"], cfg["seed"], cfg["pooling"])
        if key not in cache or len([k for k in cache[key] if k.endswith("attn_output_norm.weight")]) < cfg["layers"]:
            cache[key] = random_weights(cfg, vocab_size(read_kv_raw(vocab)))
        build(cfg, vocab, p, cache[key])
        man["models"].append({"name": name, "path": p, "type": cfg["type"], "arch": cfg["arch"], "mode": mode,
                              "layers": cfg["layers"]})

    for t in types:  # the deep F32 model first: the others reuse its draw
        make("bert-" + t, dict(base, type=t, layers=few if t in short_types else base["layers"]), "embed")
    make("bert-cls-F16", dict(base, type="F16", pooling="cls", seed=2, layers=few), "embed")
    for t in ["F32", "Q8_0"]:
        if t in types:
            make("nomic-" + t, dict(base, type=t, arch="nomic-bert", seed=3, layers=few), "embed")
            make("rerank-" + t, dict(base, type=t, pooling="rank", seed=4, layers=min(3, base["layers"])), "rerank")
    tiny = default_cfg(type="F16", layers=2, hidden=64, heads=4, ff=256, ctx=64)
    for brk in ["missing", "shape", "meta", "vocab", "arch", "iq2", "heads", "pos", "nocls", "causal"]:
        cfg = dict(tiny, **{"break": brk})
        if brk == "nocls":
            cfg["pooling"] = "rank"
        p = os.path.join(out_dir, "hostile-%s.gguf" % brk)
        build(cfg, vocab, p)
        man["hostile"].append({"break": brk, "path": p})
    build(tiny, vocab, os.path.join(out_dir, "tiny-F16.gguf"))
    build(dict(tiny, pooling="rank"), vocab, os.path.join(out_dir, "tiny-rank-F16.gguf"))
    build(dict(tiny, pooling="rank", pooler=False, seed=5), vocab, os.path.join(out_dir, "tiny-rank-nopool-F16.gguf"))
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["model", "suite"])
    ap.add_argument("out")
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--type")
    ap.add_argument("--types", default=",".join(ALL_TYPES))
    ap.add_argument("--arch")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--ff", type=int)
    ap.add_argument("--ctx", type=int)
    ap.add_argument("--pooling")
    ap.add_argument("--labels", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--break", dest="brk")
    ap.add_argument("--no-pooler", action="store_true", help="rank: classifier only (cls.output), no cls")
    ap.add_argument("--short", default="", help="suite: types written with --short-layers layers")
    ap.add_argument("--short-layers", type=int, default=2)
    ap.add_argument("--small", action="store_true", help="suite: a 2-layer, 128-wide model (sanitizer builds)")
    a = ap.parse_args(argv)
    if a.cmd == "model":
        cfg = default_cfg(type=a.type, arch=a.arch, layers=a.layers, hidden=a.hidden, heads=a.heads, ff=a.ff,
                          ctx=a.ctx, pooling=a.pooling, labels=a.labels, seed=a.seed, **{"break": a.brk})
        cfg["pooler"] = not a.no_pooler
        build(cfg, a.vocab, a.out)
    else:
        suite(a.out, a.vocab, [t for t in a.types.split(",") if t], a.short.split(","), a.short_layers, a.small)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
