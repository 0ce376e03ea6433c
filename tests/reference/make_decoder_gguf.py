#!/usr/bin/python3
"""Writes Llama- and Qwen2-architecture decoder GGUF files with random weights, for cairn's
decoder tests and benchmark (src/model/decoder*.c). Pure Python + numpy; the GGUF writer and
the tensor encoders are make_encoder_gguf.py's, the quantizers ggml_quants.py's. Written from
the GGUF spec, llama.cpp's tensor naming (src/llama-arch.cpp) and its HF converter
(convert_hf_to_gguf.py), not from cairn's C code.

Weights are drawn in Hugging Face's layout (LlamaForCausalLM / Qwen2ForCausalLM: q_proj
rows are heads of [first half | second half] for rotate_half RoPE) from a fixed seed before
they are converted, so every tensor type of one seed and shape holds the same numbers. For
"llama" the Q and K rows (and biases) are then permuted as llama.cpp's converter does
(LlamaModel.permute: each head's rows reordered so RoPE rotates adjacent pairs), while
"qwen2" files keep Hugging Face's order (llama.cpp runs qwen2 with NeoX RoPE instead). The
reference (decoder_ref.py) undoes the permutation and uses rotate_half, so a decoder that
paired the dimensions wrongly for either architecture fails the comparison.

Tokenizers: llama copies every tokenizer.* key from a vocab-only GGUF (normally
../shared/models/vocab/ggml-vocab-llama-spm.gguf, 32000 SentencePiece tokens; the hostile
and small files use ../shared/models/stories260K/stories260K.gguf's 512); qwen2 gets a small
byte-level BPE vocabulary cut from GPT-2's (ggml-vocab-gpt-2.gguf: the 256 byte tokens, the
merges whose results have ids below --bpe-size, and Qwen's three control tokens), with
tokenizer.ggml.pre = "qwen2".

Tensor types: 1-D tensors stay F32; every matrix (token_embd and output included) takes the
requested type, falling back as llama.cpp does when its rows are not whole blocks.

    make_decoder_gguf.py model OUT.gguf --arch llama|qwen2 --vocab V.gguf [--type F32]
        [--bpe-size 1000] [--pad-vocab N]     (a GPT-2 vocabulary GGUF is cut to --bpe-size
                                               tokens, for either architecture)
        [--layers 2] [--hidden 256] [--heads 8] [--kv-heads 2] [--ff 768] [--ctx 256]
        [--rope-base 10000] [--rope-linear F] [--rope-freqs] [--tied] [--seed 1]
        [--break KIND] [--chat-template-file F]  (F's text becomes tokenizer.chat_template)
    make_decoder_gguf.py suite DIR --llama-vocab SPM.gguf --small-vocab S.gguf
        --bpe-vocab GPT2.gguf [--types F32,F16,Q8_0,Q4_K] [--small]
        writes DIR/<name>.gguf for the parity tests and the hostile files, and
        DIR/manifest.json describing them

--break KIND (a hostile file, for the loader's validation tests):
    missing  drops blk.1.attn_k.weight          shape   blk.0.attn_k.weight has 8 rows too many
    gqa      head_count_kv does not divide      arch    general.architecture = "gpt2"
    yarn     rope.scaling.type = "yarn"         moe     expert_count = 8
    nrot     rope.dimension_count = head/2      nobias  qwen2 without blk.0.attn_q.bias
    vocab    token_embd 10 rows short           output  output.weight has n_embd + 32 columns
    iq2      blk.0.ffn_down.weight is IQ2_XXS   qknorm  an extra blk.0.attn_q_norm.weight
    noeps    no layer_norm_rms_epsilon key
"""
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_encoder_gguf as meg  # noqa: E402  (GGUF writer, tensor encoders)

GGUF_I32, GGUF_STRING, GGUF_ARRAY, GGUF_U32, GGUF_F32, GGUF_BOOL = 5, 8, 9, 4, 6, 7
BRANCH = 0.35  # gain of the projections into the residual stream (see make_encoder_gguf.BRANCH)
OUT_GAIN = 3.0  # logits of a few units: clear top-1 margins, like a trained model's


def kv_arr(key, elem, values):
    b = meg._str(key) + struct.pack("<IIQ", GGUF_ARRAY, elem, len(values))
    if elem == GGUF_STRING:
        return b + b"".join(meg._str(v) for v in values)
    fmt = {GGUF_I32: "<i", GGUF_F32: "<f", GGUF_U32: "<I"}[elem]
    return b + b"".join(struct.pack(fmt, v) for v in values)


# ---- tokenizers --------------------------------------------------------------------------------

def spm_tokenizer(vocab_path):
    raw = meg.read_kv_raw(vocab_path)
    return [r for k, r in raw if k.startswith("tokenizer.")], meg.vocab_size(raw)


def is_bpe(vocab_path):
    for key, raw in meg.read_kv_raw(vocab_path):
        if key == "tokenizer.ggml.model":
            return raw.endswith(b"gpt2")
    return False


def bpe_tokenizer(gpt2_path, size, pad_to=0):
    """A byte-level BPE vocabulary of `size` GPT-2 tokens (size < 50256: GPT-2's own
    <|endoftext|> is the last) plus Qwen's three control tokens, padded with unused "[PADn]"
    tokens up to pad_to as Qwen's converter pads to the embedding's row count."""
    import encoder_ref  # the GGUF reader of the encoder reference
    g = encoder_ref.Gguf(gpt2_path)
    tokens = g.kv["tokenizer.ggml.tokens"][:size]
    keep = set(tokens)
    merges = []
    for m in g.kv["tokenizer.ggml.merges"]:
        a, b = m.split(" ", 1)
        if a in keep and b in keep and a + b in keep:
            merges.append(m)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = tokens + specials
    types = [1] * size + [3] * len(specials)
    while len(tokens) < pad_to:
        tokens.append("[PAD%d]" % len(tokens))
        types.append(5)
    eot = size
    kvs = [meg.kv("tokenizer.ggml.model", GGUF_STRING, "gpt2"), meg.kv("tokenizer.ggml.pre", GGUF_STRING, "qwen2"),
           kv_arr("tokenizer.ggml.tokens", GGUF_STRING, tokens), kv_arr("tokenizer.ggml.token_type", GGUF_I32, types),
           kv_arr("tokenizer.ggml.merges", GGUF_STRING, merges),
           meg.kv("tokenizer.ggml.eos_token_id", GGUF_U32, eot), meg.kv("tokenizer.ggml.bos_token_id", GGUF_U32, eot),
           meg.kv("tokenizer.ggml.padding_token_id", GGUF_U32, eot),
           meg.kv("tokenizer.ggml.add_bos_token", GGUF_BOOL, 0)]
    return kvs, len(tokens)


# ---- weights -------------------------------------------------------------------------------------

def random_weights(cfg, n_vocab):
    """name -> float32 array in Hugging Face layout ([out, in] for matrices)."""
    rng = np.random.default_rng(cfg["seed"])
    E, FF, H, KV = cfg["hidden"], cfg["ff"], cfg["heads"], cfg["kv_heads"]
    hd = cfg.get("head_dim") or E // H

    def normal(shape, scale):  # float32 draws: a 0.5B-parameter model stays a few GB
        x = rng.standard_normal(shape, dtype=np.float32)
        x *= np.float32(scale)
        return x

    def mat(rows, cols, gain=1.0):
        return normal((rows, cols), gain / np.sqrt(cols))

    def vec(n, center=0.0, scale=0.1):
        return (center + normal(n, scale)).astype(np.float32)

    # a tied model's embedding is also its output projection: scaled like one
    emb_scale = OUT_GAIN / np.sqrt(E) if cfg.get("tied") else 1.0
    w = {"token_embd.weight": normal((n_vocab, E), emb_scale)}
    for i in range(cfg["layers"]):
        b = "blk.%d." % i
        w[b + "attn_norm.weight"] = vec(E, 1.0)
        w[b + "attn_q.weight"] = mat(H * hd, E)
        w[b + "attn_k.weight"] = mat(KV * hd, E)
        w[b + "attn_v.weight"] = mat(KV * hd, E)
        if cfg["arch"] == "qwen2" or cfg.get("bias"):
            w[b + "attn_q.bias"] = vec(H * hd, 0.0, 0.3)
            w[b + "attn_k.bias"] = vec(KV * hd, 0.0, 0.3)
            w[b + "attn_v.bias"] = vec(KV * hd, 0.0, 0.3)
        w[b + "attn_output.weight"] = mat(E, H * hd, BRANCH)
        w[b + "ffn_norm.weight"] = vec(E, 1.0)
        w[b + "ffn_gate.weight"] = mat(FF, E)
        w[b + "ffn_up.weight"] = mat(FF, E)
        w[b + "ffn_down.weight"] = mat(E, FF, BRANCH)
    w["output_norm.weight"] = vec(E, 1.0)
    if not cfg.get("tied"):
        w["output.weight"] = mat(n_vocab, E, OUT_GAIN)
    if cfg.get("rope_freqs"):
        # Llama 3.1-style divisors: 1 for high frequencies, up to 8 for low ones
        w["rope_freqs.weight"] = np.geomspace(1.0, 8.0, hd // 2).astype(np.float32)
    return w


def permute(w, n_head):
    """llama.cpp convert_hf_to_gguf LlamaModel.permute: HF rotate_half order -> adjacent pairs."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape))


def build(cfg, out_path, tok_kvs, n_vocab, weights=None):
    if weights is None:
        weights = random_weights(cfg, n_vocab)
    arch, E, brk = cfg["arch"], cfg["hidden"], cfg.get("break")
    H, KV = cfg["heads"], cfg["kv_heads"]
    hd = cfg.get("head_dim") or E // H
    a = "gpt2" if brk == "arch" else arch
    kvs = [meg.kv("general.architecture", GGUF_STRING, a), meg.kv("general.name", GGUF_STRING, "cairn-test-" + arch),
           meg.kv(a + ".context_length", GGUF_U32, cfg["ctx"]), meg.kv(a + ".embedding_length", GGUF_U32, E),
           meg.kv(a + ".feed_forward_length", GGUF_U32, cfg["ff"]), meg.kv(a + ".block_count", GGUF_U32, cfg["layers"]),
           meg.kv(a + ".attention.head_count", GGUF_U32, H),
           meg.kv(a + ".attention.head_count_kv", GGUF_U32, 3 if brk == "gqa" else KV),
           meg.kv(a + ".rope.freq_base", GGUF_F32, cfg["rope_base"]),
           meg.kv(a + ".rope.dimension_count", GGUF_U32, hd // 2 if brk == "nrot" else hd)]
    if brk != "noeps":
        kvs.append(meg.kv(a + ".attention.layer_norm_rms_epsilon", GGUF_F32, cfg["eps"]))
    if cfg.get("head_dim"):
        kvs += [meg.kv(a + ".attention.key_length", GGUF_U32, hd), meg.kv(a + ".attention.value_length", GGUF_U32, hd)]
    if cfg.get("rope_linear"):
        kvs += [meg.kv(a + ".rope.scaling.type", GGUF_STRING, "linear"),
                meg.kv(a + ".rope.scaling.factor", GGUF_F32, cfg["rope_linear"])]
    if brk == "yarn":
        kvs += [meg.kv(a + ".rope.scaling.type", GGUF_STRING, "yarn"), meg.kv(a + ".rope.scaling.factor", GGUF_F32, 4.0)]
    if brk == "moe":
        kvs.append(meg.kv(a + ".expert_count", GGUF_U32, 8))
    kvs += tok_kvs
    tensors = []
    for name, arr in weights.items():
        if name.startswith("blk.") and int(name.split(".")[1]) >= cfg["layers"]:
            continue
        if brk == "missing" and name == "blk.1.attn_k.weight":
            continue
        if brk == "nobias" and name == "blk.0.attn_q.bias":
            continue
        if arch == "llama" and (name.endswith("attn_q.weight") or name.endswith("attn_q.bias")):
            arr = permute(arr, H)
        if arch == "llama" and (name.endswith("attn_k.weight") or name.endswith("attn_k.bias")):
            arr = permute(arr, KV)
        if brk == "shape" and name == "blk.0.attn_k.weight":
            arr = np.concatenate([arr, arr[:8]])
        if brk == "vocab" and name == "token_embd.weight":
            arr = arr[:-10]
        if brk == "output" and name == "output.weight":
            arr = np.concatenate([arr, arr[:, :32]], axis=1)
        ne = list(reversed(arr.shape))
        if brk == "iq2" and name == "blk.0.ffn_down.weight":
            data = np.random.default_rng(7).integers(0, 256, arr.size // 256 * 66, dtype=np.uint8).tobytes()
            tensors.append((name, ne, "IQ2_XXS", data))
            continue
        tn = meg.tensor_type(name, arr, cfg["type"])
        tensors.append((name, ne, tn, meg.encode_tensor(arr, tn)))
    if brk == "qknorm":
        tensors.append(("blk.0.attn_q_norm.weight", [hd], "F32", np.ones(hd, np.float32).tobytes()))
    meg.write_gguf(out_path, kvs, tensors)
    return weights


def default_cfg(**kw):
    cfg = {"type": "F32", "arch": "llama", "layers": 2, "hidden": 256, "heads": 8, "kv_heads": 2, "ff": 768,
           "ctx": 256, "rope_base": 10000.0, "eps": 1e-5, "rope_linear": None, "rope_freqs": False, "tied": False,
           "seed": 1, "break": None}
    cfg.update({k: v for k, v in kw.items() if v is not None})
    return cfg


def suite(out_dir, llama_vocab, small_vocab, bpe_vocab, types, small):
    os.makedirs(out_dir, exist_ok=True)
    man = {"models": [], "hostile": []}
    spm = spm_tokenizer(llama_vocab)
    tiny = spm_tokenizer(small_vocab)
    bpe = bpe_tokenizer(bpe_vocab, 1000)
    layers = 2 if small else 3
    fams = {
        "llama": (default_cfg(arch="llama", layers=layers, heads=8, kv_heads=2), spm),
        "qwen2": (default_cfg(arch="qwen2", layers=layers, heads=4, kv_heads=2, rope_base=1e6, eps=1e-6, tied=True,
                              seed=2), bpe),
    }
    for fam, (cfg, (tok, nv)) in fams.items():
        w = None
        for t in types:
            p = os.path.join(out_dir, "%s-%s.gguf" % (fam, t))
            w = build(dict(cfg, type=t), p, tok, nv, w)
            man["models"].append({"name": "%s-%s" % (fam, t), "path": p, "type": t, "arch": fam})
    # RoPE variants (small vocabulary, F32): linear scaling, Llama 3.1 frequency divisors, a
    # head size that is not n_embd / n_head, and llama with Q/K/V biases
    small_cfg = default_cfg(layers=2, hidden=128, heads=4, kv_heads=2, ff=256, ctx=128, seed=3)
    variants = {"llama-linear": dict(rope_linear=4.0), "llama-freqs": dict(rope_freqs=True),
                "llama-headdim": dict(head_dim=48), "llama-bias": dict(bias=True, tied=True),
                "qwen2-small": dict(arch="qwen2", rope_base=1e6)}
    for name, extra in variants.items():
        p = os.path.join(out_dir, name + "-F32.gguf")
        tk = bpe if extra.get("arch") == "qwen2" else tiny
        build(dict(small_cfg, **extra), p, tk[0], tk[1])
        man["models"].append({"name": name + "-F32", "path": p, "type": "F32", "arch": extra.get("arch", "llama")})
    hostile_cfg = default_cfg(layers=2, hidden=64, heads=4, kv_heads=2, ff=256, ctx=64, seed=4)
    for brk in ["missing", "shape", "gqa", "arch", "yarn", "moe", "nrot", "nobias", "vocab", "output", "iq2",
                "qknorm", "noeps"]:
        cfg = dict(hostile_cfg, **{"break": brk})
        tk = tiny
        if brk == "nobias":
            cfg["arch"] = "qwen2"
            tk = bpe
        p = os.path.join(out_dir, "hostile-%s.gguf" % brk)
        build(cfg, p, tk[0], tk[1])
        man["hostile"].append({"break": brk, "path": p})
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["model", "suite"])
    ap.add_argument("out")
    ap.add_argument("--vocab", help="model: tokenizer source (SPM GGUF for llama, GPT-2 vocab GGUF for qwen2)")
    ap.add_argument("--llama-vocab")
    ap.add_argument("--small-vocab")
    ap.add_argument("--bpe-vocab")
    ap.add_argument("--bpe-size", type=int, default=1000)
    ap.add_argument("--pad-vocab", type=int, default=0, help="qwen2: pad the vocabulary to this many tokens")
    ap.add_argument("--type")
    ap.add_argument("--types", default="F32,F16,Q8_0,Q4_K")
    ap.add_argument("--arch")
    ap.add_argument("--layers", type=int)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--kv-heads", type=int)
    ap.add_argument("--ff", type=int)
    ap.add_argument("--ctx", type=int)
    ap.add_argument("--rope-base", type=float)
    ap.add_argument("--rope-linear", type=float)
    ap.add_argument("--rope-freqs", action="store_true")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--eps", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--break", dest="brk")
    ap.add_argument("--small", action="store_true", help="suite: 2 layers instead of 3 (sanitizer builds)")
    ap.add_argument("--chat-template-file", help="model: store this file's text as tokenizer.chat_template")
    a = ap.parse_args(argv)
    if a.cmd == "model":
        cfg = default_cfg(type=a.type, arch=a.arch, layers=a.layers, hidden=a.hidden, heads=a.heads,
                          kv_heads=a.kv_heads, ff=a.ff, ctx=a.ctx, rope_base=a.rope_base, rope_linear=a.rope_linear,
                          eps=a.eps, seed=a.seed, **{"break": a.brk})
        cfg["rope_freqs"] = a.rope_freqs
        cfg["tied"] = a.tied
        if is_bpe(a.vocab):  # a GPT-2 vocabulary: cut to --bpe-size (any architecture)
            tok, nv = bpe_tokenizer(a.vocab, a.bpe_size, a.pad_vocab)
        else:
            tok, nv = spm_tokenizer(a.vocab)
        if a.chat_template_file:
            with open(a.chat_template_file, encoding="utf-8") as f:
                tmpl = f.read()
            key = b"tokenizer.chat_template"
            old = struct.pack("<Q", len(key)) + key  # a record's key: u64 length, bytes
            tok = [r for r in tok if not r.startswith(old)]
            tok = tok + [meg.kv("tokenizer.chat_template", GGUF_STRING, tmpl)]
        build(cfg, a.out, tok, nv)
    else:
        suite(a.out, a.llama_vocab, a.small_vocab, a.bpe_vocab, [t for t in a.types.split(",") if t], a.small)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
