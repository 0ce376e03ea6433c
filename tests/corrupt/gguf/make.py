#!/usr/bin/python3
"""Generates the bad model files of tests/corrupt/gguf/ (each a few hundred bytes), their
EXPECT manifest (file, expected status, message fragment) and README.md, plus the small valid
seeds of tests/fuzz/corpus/gguf/. Run from anywhere:

    /usr/bin/python3 tests/corrupt/gguf/make.py

Written from the GGUF spec and llama2.c's export.py, independently of src/gguf. The outputs
are committed; rerunning must reproduce them byte for byte (everything is deterministic).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "..", "..", "fuzz", "corpus", "gguf")

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B",
       U64: "<Q", I64: "<q", F64: "<d"}
F32T, F16T, Q4_0, Q8_0, Q4_K, I8T, MXFP4 = 0, 1, 2, 8, 12, 24, 39
BLOCK = {F32T: (1, 4), F16T: (1, 2), Q4_0: (32, 18), Q8_0: (32, 34), Q4_K: (256, 144), I8T: (1, 1),
         MXFP4: (32, 17)}


def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(b)) + b


def val(t, v):
    """Encodes a value of type t; arrays are (elem_type, [values])."""
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(val(et, x) for x in items)
    return struct.pack(FMT[t], v)


def kv(key, t, v):
    return s(key) + struct.pack("<I", t) + val(t, v)


def tinfo(name, ne, t, off):
    return s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", x) for x in ne) + \
        struct.pack("<IQ", t, off)


def nbytes(ne, t):
    bs, ts = BLOCK.get(t, (1, 0))  # unknown types: no data
    n = 1
    for x in ne:
        n *= x
    return n // bs * ts


def gguf(kvs=(), tensors=(), version=3, align=32, n_kv=None, n_tensors=None, data=None, magic=b"GGUF",
         pack_offsets=True):
    """kvs: encoded kv bytes; tensors: (name, ne, type[, offset]). Offsets default to packed,
    each padded to align. data: the bytes after the padding (default: a byte pattern)."""
    infos = []
    off = 0
    for t in tensors:
        name, ne, ty = t[:3]
        o = t[3] if len(t) > 3 else off
        infos.append(tinfo(name, ne, ty, o))
        off = max(off, (o + nbytes(ne, ty) + align - 1) // align * align)
    head = magic + struct.pack("<IQQ", version,
                               len(tensors) if n_tensors is None else n_tensors,
                               len(kvs) if n_kv is None else n_kv)
    body = head + b"".join(kvs) + b"".join(infos)
    if not tensors and data is None:
        return body
    pad = (-len(body)) % align
    if data is None:
        data = bytes((i * 7 + 3) & 0xFF for i in range(off))
    return body + b"\0" * pad + data


def llama2c(dim, hidden, layers, heads, kv_heads, vocab, seq, extra=0, shared=True, version=0):
    """A llama2.c checkpoint whose float i is i * 0.001 (so tensor data is recognisable)."""
    kv_dim = dim * kv_heads // heads if heads > 0 and kv_heads > 0 else 0
    hs = dim // heads if heads > 0 else 0
    V = abs(vocab)
    if version == 0:
        n = V * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim) + dim + seq * hs
        if vocab < 0:
            n += V * dim
        hdr = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq)
    else:
        n = V * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim) + dim
        if not shared:
            n += V * dim
        hdr = struct.pack("<Ii7iB", 0x616B3432, version, dim, hidden, layers, heads, kv_heads, vocab, seq,
                          1 if shared else 0)
        hdr += b"\0" * (256 - len(hdr))
    n = max(n + extra, 0)
    return hdr + b"".join(struct.pack("<f", i * 0.001) for i in range(n))


def main():
    good_kvs = [kv("general.architecture", STR, "llama"), kv("general.name", STR, "tiny")]
    t1 = [("a.weight", [32, 2], F32T)]
    cases = []  # (file, bytes, status, fragment, what)

    def add(name, data, status, frag, what):
        cases.append((name, data, status, frag, what))

    add("trunc_header.gguf", b"GGUF" + struct.pack("<I", 3) + b"\0" * 6, "EFORMAT",
        "truncated GGUF header", "header cut after 14 of 24 bytes")
    full = gguf(good_kvs, t1)
    cut = 24 + len(good_kvs[0]) + 20
    add("trunc_in_kv.gguf", full[:cut], "EFORMAT", "truncated at byte", "file ends inside the second key")
    long_t = [("blk.0.a_rather_long_tensor_name_for_padding.weight", [32, 2, 2], F32T)]
    full = gguf(good_kvs, long_t)
    cut = 24 + sum(len(k) for k in good_kvs) + 8 + len(long_t[0][0]) + 4 + 12
    add("trunc_in_tensor_info.gguf", full[:cut], "EFORMAT", "truncated at byte",
        "file ends inside a tensor's dimensions")
    add("lying_string_len.gguf",
        gguf([kv("general.architecture", STR, "llama")[:8 + 20 + 4] + struct.pack("<Q", 1 << 40) + b"llama"]),
        "EFORMAT", "has length 1099511627776 but only", "string value claims 2^40 bytes")
    add("lying_array_count.gguf",
        gguf([s("tokenizer.ggml.scores") + struct.pack("<IIQ", ARR, F32, 1 << 62) + b"\0" * 16]),
        "EFORMAT", "claims 4611686018427387904 elements", "f32 array claims 2^62 elements")
    add("lying_string_array_count.gguf",
        gguf([s("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARR, STR, 1 << 40) + s("a") + s("b")]),
        "EFORMAT", "claims 1099511627776 elements of type string", "string array claims 2^40 elements")
    add("lying_kv_count.gguf", gguf(good_kvs, n_kv=1 << 60), "EFORMAT", "kv count 1152921504606846976",
        "kv count 2^60")
    add("lying_tensor_count.gguf", gguf(good_kvs, t1, n_tensors=1 << 60), "EFORMAT",
        "tensor count 1152921504606846976", "tensor count 2^60")
    add("huge_dims.gguf", gguf(good_kvs, [("big", [1 << 32, 1 << 32, 1 << 32], F32T, 0)], data=b"\0" * 64),
        "EFORMAT", "element count overflows", "2^32 x 2^32 x 2^32 elements")
    add("huge_dim_single.gguf", gguf(good_kvs, [("big", [1 << 63], I8T, 0)], data=b"\0" * 64),
        "EFORMAT", "element count overflows", "ne[0] = 2^63 (over INT64_MAX)")
    add("huge_nbytes.gguf", gguf(good_kvs, [("big", [1 << 40, 1 << 20], F32T, 0)], data=b"\0" * 64),
        "EFORMAT", "runs past end of file", "2^60 F32 elements (2^62 bytes) in a small file")
    add("ndims0.gguf", gguf(good_kvs, [("zero", [], F32T, 0)], data=b"\0" * 64), "EFORMAT", "n_dims 0",
        "n_dims 0")
    add("ndims5.gguf", gguf(good_kvs, [("five", [1, 1, 1, 1, 1], F32T, 0)], data=b"\0" * 64), "EFORMAT",
        "n_dims 5", "n_dims 5")
    add("zero_dim.gguf", gguf(good_kvs, [("z", [4, 0], F32T, 0)], data=b"\0" * 64), "EFORMAT", "ne[1] = 0",
        "a zero dimension")
    add("bad_value_type.gguf", gguf([s("general.x") + struct.pack("<II", 13, 7)]), "EFORMAT",
        "unknown value type 13", "value type 13")
    add("bad_array_elem_type.gguf", gguf([s("general.x") + struct.pack("<IIQ", ARR, 99, 1) + b"\0" * 8]),
        "EFORMAT", "unknown array element type 99", "array of element type 99")
    add("bad_tensor_type.gguf", gguf(good_kvs, [("t", [32], 99, 0)], data=b"\0" * 128), "EUNSUPPORTED",
        "unknown ggml type 99", "tensor type 99")
    add("removed_tensor_type.gguf", gguf(good_kvs, [("t", [32], 4, 0)], data=b"\0" * 128), "EUNSUPPORTED",
        "ggml type 4 (Q4_2), which ggml removed", "tensor type 4 (Q4_2)")
    add("removed_tensor_type_q4_0_4_4.gguf", gguf(good_kvs, [("t", [32], 31, 0)], data=b"\0" * 128),
        "EUNSUPPORTED", "(Q4_0_4_4)", "tensor type 31 (Q4_0_4_4)")
    add("block_not_dividing.gguf", gguf(good_kvs, [("q", [33, 2], Q4_0, 0)], data=b"\0" * 128), "EFORMAT",
        "ne[0] = 33 is not a multiple of the block size 32 of type Q4_0", "Q4_0 with ne[0] = 33")
    add("block_not_dividing_k.gguf", gguf(good_kvs, [("q", [128], Q4_K, 0)], data=b"\0" * 256), "EFORMAT",
        "block size 256 of type Q4_K", "Q4_K with ne[0] = 128")
    add("misaligned_offset.gguf", gguf(good_kvs, [("a", [8], F32T, 0), ("b", [8], F32T, 40)],
                                       data=b"\0" * 128), "EFORMAT",
        "data offset 40 is not a multiple of the alignment 32", "offset 40 with alignment 32")
    add("data_past_eof.gguf", gguf(good_kvs, [("a", [64], F32T, 0)], data=b"\0" * 100), "EFORMAT",
        "runs past end of file", "256 bytes of data, 100 present")
    add("offset_past_eof.gguf", gguf(good_kvs, [("a", [8], F32T, 1 << 62)], data=b"\0" * 64), "EFORMAT",
        "runs past end of file", "offset 2^62")
    add("overlapping.gguf", gguf(good_kvs, [("a", [16], F32T, 0), ("b", [16], F32T, 32)], data=b"\0" * 128),
        "EFORMAT", "overlap", "a = [0, 64) and b = [32, 96)")
    add("same_offset.gguf", gguf(good_kvs, [("a", [8], F32T, 0), ("b", [8], F32T, 0)], data=b"\0" * 64),
        "EFORMAT", "overlap", "two tensors at offset 0")
    add("dup_key.gguf", gguf(good_kvs + [kv("general.name", STR, "again")]), "EFORMAT",
        "duplicate key 'general.name'", "general.name twice")
    add("dup_tensor.gguf", gguf(good_kvs, [("a", [8], F32T), ("a", [8], F32T)]), "EFORMAT",
        "duplicate tensor name 'a'", "tensor 'a' twice")
    add("empty_key.gguf", gguf([kv("", U32, 1)]), "EFORMAT", "is empty", "a zero-length key")
    add("key_too_long.gguf", gguf([struct.pack("<Q", 70000) + b"k" * 100]), "EFORMAT",
        "over the limit of 65536", "key length 70000")
    add("align0.gguf", gguf([kv("general.alignment", U32, 0)], t1), "EFORMAT",
        "general.alignment = 0 is not a nonzero power of two", "alignment 0")
    add("align_npot.gguf", gguf([kv("general.alignment", U32, 48)], t1, align=48), "EFORMAT",
        "general.alignment = 48 is not a nonzero power of two", "alignment 48")
    add("align_wrong_type.gguf", gguf([kv("general.alignment", U64, 32)], t1), "EFORMAT",
        "general.alignment has type u64, expected u32", "alignment stored as u64")
    add("align_string.gguf", gguf([kv("general.alignment", STR, "32")], t1), "EFORMAT",
        "general.alignment has type string", "alignment stored as a string")
    bomb = s("general.bomb") + struct.pack("<I", ARR) + struct.pack("<IQ", ARR, 1) * 100 + \
        struct.pack("<IQ", U8, 0)
    add("array_depth_bomb.gguf", gguf([bomb]), "EFORMAT", "nested deeper than 8 levels",
        "arrays nested 101 deep")
    add("version1.gguf", gguf(good_kvs, version=1), "EUNSUPPORTED", "GGUF version 1 is not supported",
        "GGUF v1")
    add("version99.gguf", gguf(good_kvs, version=99), "EUNSUPPORTED", "GGUF version 99 is not supported",
        "GGUF v99")
    add("version0.gguf", gguf(good_kvs, version=0), "EUNSUPPORTED", "GGUF version 0 is not supported",
        "GGUF v0")
    add("big_endian.gguf", b"GGUF" + struct.pack(">IQQ", 3, 0, 1) + s("a")[::-1], "EUNSUPPORTED",
        "big-endian GGUF files are not supported", "version written big-endian (gguf-py's BIG)")
    add("big_endian_magic.gguf", b"FUGG" + struct.pack(">IQQ", 3, 0, 0), "EUNSUPPORTED", "big-endian",
        "magic byte-swapped")
    add("bad_magic.gguf", b"GGUX" + gguf(good_kvs)[4:], "EFORMAT", "not a GGUF file (magic 'GGUX')",
        "magic GGUX")
    add("text.txt", b"Hello, this is a plain text file and not a model at all.\n", "EFORMAT",
        "not a GGUF file (magic 'Hell') nor a llama2.c checkpoint", "a text file")
    add("tiny.bin", b"GG", "EFORMAT", "too small", "2 bytes")
    add("empty.gguf", b"", "EFORMAT", "empty file", "0 bytes")
    # llama2.c
    add("l2c_zero_dim.bin", llama2c(0, 16, 1, 2, 1, 4, 2), "EFORMAT", "dim = 0 is not positive", "dim 0")
    add("l2c_negative_layers.bin", llama2c(8, 16, -2, 2, 1, 4, 2), "EFORMAT", "n_layers = -2 is not positive",
        "n_layers -2")
    add("l2c_negative_heads.bin", llama2c(8, 16, 1, -2, 1, 4, 2), "EFORMAT", "n_heads = -2 is not positive",
        "n_heads -2")
    add("l2c_zero_vocab.bin", llama2c(8, 16, 1, 2, 1, 0, 2), "EFORMAT", "vocab_size = 0 is not positive",
        "vocab 0")
    add("l2c_heads_not_dividing.bin", llama2c(8, 16, 1, 3, 1, 4, 2), "EFORMAT",
        "dim 8 is not a multiple of n_heads 3", "dim 8, 3 heads")
    add("l2c_kv_heads.bin", llama2c(8, 16, 1, 2, 3, 4, 2), "EFORMAT", "not a multiple of n_kv_heads 3",
        "3 kv heads, 2 heads")
    add("l2c_short.bin", llama2c(8, 16, 1, 2, 1, 4, 2, extra=-1), "EFORMAT", "implies",
        "one float missing")
    add("l2c_long.bin", llama2c(8, 16, 1, 2, 1, 4, 2, extra=1), "EFORMAT", "implies", "one float too many")
    add("l2c_unshared_short.bin", llama2c(8, 16, 1, 2, 1, -4, 2, extra=-32), "EFORMAT",
        "vocab_size 4 unshared", "vocab -4 (unshared classifier) but no classifier")
    add("l2c_huge.bin", struct.pack("<7i", 1 << 30, 1 << 30, 1 << 30, 1 << 28, 1 << 28, 1 << 30, 1 << 30),
        "EFORMAT", "sizes overflow", "dims 2^30, 2^28 heads (sizes near 2^92 bytes)")
    add("l2c_odd_head.bin", llama2c(6, 16, 1, 2, 1, 4, 2), "EFORMAT", "head size 3 is odd", "dim 6, 2 heads")
    add("l2c_v2.bin", struct.pack("<Ii", 0x616B3432, 2) + b"\0" * 248, "EUNSUPPORTED",
        "llama2.c export version 2", "ak42 version 2 (int8)")
    add("l2c_v3.bin", struct.pack("<Ii", 0x616B3432, 3) + b"\0" * 248, "EUNSUPPORTED",
        "llama2.c export version 3", "ak42 version 3")
    add("l2c_v1_truncated.bin", llama2c(8, 16, 1, 2, 1, 4, 2, version=1)[:100], "EFORMAT",
        "version 1 header truncated", "ak42 v1 cut at 100 bytes")
    add("l2c_v1_short.bin", llama2c(8, 16, 1, 2, 1, 4, 2, version=1, extra=-1), "EFORMAT", "implies",
        "ak42 v1, one float missing")

    for name in os.listdir(HERE):
        if name not in ("make.py", "README.md", "EXPECT"):
            os.remove(os.path.join(HERE, name))
    lines = ["# file\tstatus\tmessage fragment (generated by make.py)"]
    rows = []
    for name, data, status, frag, what in cases:
        assert "\t" not in frag
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        lines.append("%s\tCAIRN_%s\t%s" % (name, status, frag))
        rows.append("| `%s` | %d | %s | CAIRN_%s | %s |" % (name, len(data), what, status, frag.replace("|", "\\|")))
    with open(os.path.join(HERE, "EXPECT"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write("# Bad model files (GGUF and llama2.c)\n\n"
                "Generated by `make.py` (`/usr/bin/python3 tests/corrupt/gguf/make.py`; also writes the valid\n"
                "seeds in `tests/fuzz/corpus/gguf/`). `EXPECT` holds, per file, the status `cn_gguf_open`\n"
                "must return and a fragment its message must contain; `tests/unit/test_gguf.c` checks every\n"
                "file in this folder against it (a file without a line fails the test), and\n"
                "`tests/e2e/fuzz_replay.sh` replays the folder through `fuzz_gguf`.\n\n"
                "| file | bytes | what is wrong | status | message contains |\n|---|---|---|---|---|\n")
        f.write("\n".join(rows) + "\n")

    # valid seeds for the fuzzer
    os.makedirs(SEEDS, exist_ok=True)
    all_kvs = [
        kv("general.architecture", STR, "llama"), kv("t.u8", U8, 200), kv("t.i8", I8, -100),
        kv("t.u16", U16, 60000), kv("t.i16", I16, -30000), kv("t.u32", U32, 4000000000),
        kv("t.i32", I32, -2000000000), kv("t.f32", F32, 0.5), kv("t.bool", BOOL, 1),
        kv("t.u64", U64, 1 << 63), kv("t.i64", I64, -(1 << 62)), kv("t.f64", F64, -2.25),
        kv("t.arr_i32", ARR, (I32, [1, -2, 3])), kv("t.arr_str", ARR, (STR, ["a", "", "\xff"])),
        kv("t.nested", ARR, (ARR, [(U8, [1, 2]), (STR, ["x"]), (ARR, [(F32, [1.5])])])),
        kv("t.empty", ARR, (F64, [])),
    ]
    seeds = {
        "v3_kv_only.gguf": gguf(good_kvs),
        "v3_all_types.gguf": gguf(all_kvs, [("a", [32, 2], F32T), ("b", [64], Q8_0), ("c", [32, 1, 2], MXFP4)]),
        "v2_align64.gguf": gguf([kv("general.alignment", U32, 64)] + good_kvs,
                                [("x", [256], Q4_K), ("y", [3, 2], F16T), ("z", [5], I8T)], version=2, align=64),
        "v3_gaps.gguf": gguf(good_kvs, [("b", [8], F32T, 64), ("a", [8], F32T, 0)]),
        "l2c_legacy.bin": llama2c(8, 16, 1, 2, 1, 4, 2),
        "l2c_legacy_unshared.bin": llama2c(8, 12, 2, 2, 2, -4, 2),
        "l2c_v1.bin": llama2c(8, 16, 1, 2, 1, 4, 2, version=1),
    }
    for name, data in seeds.items():
        with open(os.path.join(SEEDS, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
