#!/usr/bin/python3
"""Independent GGUF reader (pure Python + struct, no gguf package) for cross-checking
src/gguf: prints one JSON document with the version, alignment, every key/value (type, and
for arrays the element type, count and first elements) and the tensor table (name, type
name, ne, absolute data offset, bytes).

    gguf_dump.py FILE [HEAD]      HEAD = array elements shown (default 8, as describe)

Written from the GGUF spec (ggml docs/gguf.md), not from cairn's C code. Strings are decoded
as UTF-8 with U+FFFD for invalid bytes. F32 values are printed with repr() of the float
widened to a double; the C test compares them after narrowing to float.
"""
import json
import struct
import sys

VTYPES = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"]
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}

# ggml type id -> (name, elements per block, bytes per block), from ggml-common.h's block structs
GGML = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 2 + 16), 3: ("Q4_1", 32, 4 + 16),
    6: ("Q5_0", 32, 2 + 4 + 16), 7: ("Q5_1", 32, 4 + 4 + 16), 8: ("Q8_0", 32, 2 + 32),
    9: ("Q8_1", 32, 4 + 32), 10: ("Q2_K", 256, 16 + 64 + 4), 11: ("Q3_K", 256, 32 + 64 + 12 + 2),
    12: ("Q4_K", 256, 4 + 12 + 128), 13: ("Q5_K", 256, 4 + 12 + 32 + 128),
    14: ("Q6_K", 256, 128 + 64 + 16 + 2), 15: ("Q8_K", 256, 4 + 256 + 32),
    16: ("IQ2_XXS", 256, 2 + 64), 17: ("IQ2_XS", 256, 2 + 64 + 8), 18: ("IQ3_XXS", 256, 2 + 96),
    19: ("IQ1_S", 256, 2 + 32 + 16), 20: ("IQ4_NL", 32, 2 + 16), 21: ("IQ3_S", 256, 2 + 64 + 8 + 32 + 4),
    22: ("IQ2_S", 256, 2 + 64 + 8 + 8), 23: ("IQ4_XS", 256, 2 + 2 + 4 + 128), 24: ("I8", 1, 1),
    25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 32 + 16 + 8), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 48 + 4 + 2),
    35: ("TQ2_0", 256, 64 + 2), 39: ("MXFP4", 32, 1 + 16),
}


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise ValueError("truncated at %d" % self.p)
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def u(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        n = self.u("<Q")
        return self.take(n).decode("utf-8", errors="replace")


def fix_float(x):
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    return x


def read_value(r, t, head):
    """Returns the JSON rendering of one value of type t (arrays: an object)."""
    if t == 8:
        return r.string()
    if t == 9:
        et = r.u("<I")
        n = r.u("<Q")
        items = []
        for i in range(n):
            v = read_value(r, et, head)
            if i < head:
                items.append(v)
        return {"elem_type": VTYPES[et], "n": n, "head": items}
    if t not in SCALAR:
        raise ValueError("bad value type %d" % t)
    v = r.u(SCALAR[t])
    if t == 7:
        return bool(v)
    if t in (6, 12):
        return fix_float(v)
    return v


def main():
    path = sys.argv[1]
    head = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    with open(path, "rb") as f:
        data = f.read()
    r = Reader(data)
    if r.take(4) != b"GGUF":
        raise SystemExit("not GGUF")
    version = r.u("<I")
    n_tensors = r.u("<Q")
    n_kv = r.u("<Q")
    kvs = []
    alignment = 32
    for _ in range(n_kv):
        key = r.string()
        t = r.u("<I")
        v = read_value(r, t, head)
        kvs.append({"key": key, "type": VTYPES[t], "value": v})
        if key == "general.alignment" and t == 4:
            alignment = v
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.u("<I")
        ne = [r.u("<Q") for _ in range(nd)]
        t = r.u("<I")
        off = r.u("<Q")
        infos.append((name, ne, t, off))
    start = (r.p + alignment - 1) // alignment * alignment
    tensors = []
    for name, ne, t, off in infos:
        tname, bs, ts = GGML[t]
        n = 1
        for x in ne:
            n *= x
        tensors.append({"name": name, "type": tname, "ne": ne, "offset": start + off,
                        "nbytes": n // bs * ts})
    out = {"format": "gguf", "version": version, "alignment": alignment, "size": len(data),
           "kv": kvs, "tensors": tensors}
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
