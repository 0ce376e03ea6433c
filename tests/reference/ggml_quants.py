#!/usr/bin/env python3
"""ggml tensor formats in numpy, written from ggml's documented block layouts
(ggml-common.h block_* structs, ggml-quants.c dequantize_row_*), independently of cairn's C.

API (importable; the model tests reuse it):
    quantize(type_name, x)                 x: float32 (rows, cols) -> bytes (rows concatenated)
    dequantize(type_name, data, rows, cols) -> float32 (rows, cols)
type names: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K.

Dequantization follows ggml's float32 expressions operation by operation (numpy float32
arithmetic rounds each operation, like C without FMA contraction), so it matches ggml
bit for bit. Quantizers: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and F16/BF16 reproduce ggml's
reference quantizers exactly; Q4_K, Q5_K, Q6_K use a simpler scheme than ggml's
(min/max per sub-block instead of the iterative search) that still produces valid blocks.

CLI (used by tests/unit/test_kern.c):
    ggml_quants.py batch JOBS     each line of JOBS: "quantize|dequantize TYPE ROWS COLS IN OUT"
                                  (quantize reads raw float32 IN; dequantize writes raw float32 OUT)
"""
import sys

import numpy as np

F32 = np.float32
QK = 32
QK_K = 256

# (elements per block, bytes per block)
TYPES = {
    "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2),
    "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
    "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
}


def row_bytes(t, cols):
    bs, ts = TYPES[t]
    assert cols % bs == 0, f"{t}: {cols} columns is not a multiple of {bs}"
    return cols // bs * ts


# ---- scalar formats ---------------------------------------------------------------------------

def f16_bits_to_f32(u16):
    return np.asarray(u16, dtype=np.uint16).view(np.float16).astype(F32)


def f32_to_f16_bits(x):
    return np.asarray(x, dtype=F32).astype(np.float16).view(np.uint16)


def bf16_bits_to_f32(u16):
    return (np.asarray(u16, dtype=np.uint16).astype(np.uint32) << 16).view(F32)


def f32_to_bf16_bits(x):
    u = np.asarray(x, dtype=F32).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    r = np.where(nan, ((u >> 16) | 0x40) & 0xFFFF, r)
    return r.astype(np.uint16)


# ---- block views --------------------------------------------------------------------------------

def _blocks(data, rows, cols, t):
    bs, ts = TYPES[t]
    nb = rows * cols // bs
    a = np.frombuffer(data, dtype=np.uint8, count=nb * ts)
    return a.reshape(nb, ts)


def _u16(b, off):
    return b[:, off:off + 2].copy().view(np.uint16)[:, 0]


def _scale_min_k4(sc):
    """sc: (nb, 12) uint8 -> (nb, 8) 6-bit scales and mins (ggml get_scale_min_k4)."""
    sc = sc.astype(np.uint8)
    d = np.empty((sc.shape[0], 8), np.uint8)
    m = np.empty((sc.shape[0], 8), np.uint8)
    for j in range(8):
        if j < 4:
            d[:, j] = sc[:, j] & 63
            m[:, j] = sc[:, j + 4] & 63
        else:
            d[:, j] = (sc[:, j + 4] & 0xF) | ((sc[:, j - 4] >> 6) << 4)
            m[:, j] = (sc[:, j + 4] >> 4) | ((sc[:, j] >> 6) << 4)
    return d, m


# ---- dequantization -----------------------------------------------------------------------------

def dequantize(t, data, rows, cols):
    n = rows * cols
    if t == "F32":
        return np.frombuffer(data, dtype=F32, count=n).reshape(rows, cols).copy()
    if t == "F16":
        return f16_bits_to_f32(np.frombuffer(data, dtype=np.uint16, count=n)).reshape(rows, cols)
    if t == "BF16":
        return bf16_bits_to_f32(np.frombuffer(data, dtype=np.uint16, count=n)).reshape(rows, cols)
    b = _blocks(data, rows, cols, t)
    nb = b.shape[0]
    if t == "Q8_0":
        d = f16_bits_to_f32(_u16(b, 0))[:, None]
        q = b[:, 2:34].view(np.int8).astype(F32)
        y = q * d
    elif t in ("Q4_0", "Q4_1", "Q5_0", "Q5_1"):
        has_m = t in ("Q4_1", "Q5_1")
        d = f16_bits_to_f32(_u16(b, 0))[:, None]
        m = f16_bits_to_f32(_u16(b, 2))[:, None] if has_m else None
        off = 4 if has_m else 2
        if t.startswith("Q5"):
            qh = b[:, off:off + 4].copy().view(np.uint32)[:, 0].astype(np.int64)
            off += 4
        qs = b[:, off:off + 16].astype(np.int64)
        lo, hi = qs & 0x0F, qs >> 4
        if t.startswith("Q5"):
            j = np.arange(16)
            lo = lo | (((qh[:, None] >> j) << 4) & 0x10)
            hi = hi | ((qh[:, None] >> (j + 12)) & 0x10)
        q = np.concatenate([lo, hi], axis=1)
        if t == "Q4_0":
            q = q - 8
        elif t == "Q5_0":
            q = q - 16
        y = q.astype(F32) * d
        if has_m:
            y = y + m
    elif t in ("Q4_K", "Q5_K"):
        five = t == "Q5_K"
        d = f16_bits_to_f32(_u16(b, 0))
        dmin = f16_bits_to_f32(_u16(b, 2))
        sc, mn = _scale_min_k4(b[:, 4:16])
        qh = b[:, 16:48].astype(np.int64) if five else None
        qs = b[:, 48:176] if five else b[:, 16:144]
        y = np.empty((nb, 256), F32)
        for j in range(4):  # 64 elements: sub-blocks 2j (low nibbles) and 2j+1 (high nibbles)
            q = qs[:, 32 * j:32 * j + 32].astype(np.int64)
            lo, hi = q & 0xF, q >> 4
            if five:
                lo = lo + np.where(qh & (1 << (2 * j)), 16, 0)
                hi = hi + np.where(qh & (2 << (2 * j)), 16, 0)
            for h, v in ((0, lo), (1, hi)):
                s = 2 * j + h
                d1 = d * sc[:, s].astype(F32)
                m1 = dmin * mn[:, s].astype(F32)
                y[:, 64 * j + 32 * h:64 * j + 32 * h + 32] = d1[:, None] * v.astype(F32) - m1[:, None]
    elif t == "Q6_K":
        ql = b[:, 0:128].astype(np.int64)
        qh = b[:, 128:192].astype(np.int64)
        sc = b[:, 192:208].view(np.int8).astype(F32)
        d = f16_bits_to_f32(_u16(b, 208))
        y = np.empty((nb, 256), F32)
        for half in range(2):
            l_ = ql[:, 64 * half:64 * half + 64]
            h_ = qh[:, 32 * half:32 * half + 32]
            qv = [
                (l_[:, 0:32] & 0xF) | (((h_ >> 0) & 3) << 4),
                (l_[:, 32:64] & 0xF) | (((h_ >> 2) & 3) << 4),
                (l_[:, 0:32] >> 4) | (((h_ >> 4) & 3) << 4),
                (l_[:, 32:64] >> 4) | (((h_ >> 6) & 3) << 4),
            ]
            for r in range(4):
                q = (qv[r] - 32).astype(F32)
                for part in range(2):  # 16 elements per scale
                    s = 8 * half + 2 * r + part
                    ds = d * sc[:, s]
                    base = 128 * half + 32 * r + 16 * part
                    y[:, base:base + 16] = ds[:, None] * q[:, 16 * part:16 * part + 16]
    else:
        raise ValueError(f"unsupported type {t}")
    return y.astype(F32).reshape(rows, cols)


# ---- quantization -------------------------------------------------------------------------------

def _trunc_i(v):
    """C's (int) cast of a float: toward zero."""
    return np.trunc(v.astype(np.float64)).astype(np.int64)


def _roundf(v):
    """C's roundf: half away from zero (done in float64, where float32 inputs are exact)."""
    v = v.astype(np.float64)
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def _signed_absmax(x):
    """Per row: the value of largest magnitude (first one on ties), as ggml's loops find it."""
    idx = np.argmax(np.abs(x), axis=1)
    return x[np.arange(x.shape[0]), idx]


def _pack_nibbles_32(q):
    """q: (nb, 32) ints 0..15 -> (nb, 16) bytes: element j low, j+16 high."""
    return (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)


def _qh_bits(q):
    """q: (nb, 32) 5-bit values -> uint32 words with bit j = bit 4 of q[j]."""
    bits = ((q >> 4) & 1).astype(np.uint64)
    return (bits << np.arange(32, dtype=np.uint64)).sum(axis=1).astype(np.uint32)


def _f16_col(v):
    return f32_to_f16_bits(v).astype(np.uint16).view(np.uint8).reshape(-1, 2)


def _quant_simple(t, x):
    xb = x.reshape(-1, 32).astype(F32)
    nb = xb.shape[0]
    zero = F32(0)
    if t == "Q8_0":
        amax = np.abs(xb).max(axis=1)
        d = (amax / F32(127)).astype(F32)
        idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), zero).astype(F32)
        q = _roundf(xb * idv[:, None]).astype(np.int8)
        return np.concatenate([_f16_col(d), q.view(np.uint8)], axis=1)
    if t in ("Q4_0", "Q5_0"):
        mx = _signed_absmax(xb)
        div = F32(-8) if t == "Q4_0" else F32(-16)
        d = (mx / div).astype(F32)
        idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), zero).astype(F32)
        v = (xb * idv[:, None]).astype(F32)
        if t == "Q4_0":
            q = np.minimum(15, _trunc_i((v + F32(8.5)).astype(F32)))
            return np.concatenate([_f16_col(d), _pack_nibbles_32(q)], axis=1)
        q = np.minimum(31, _trunc_i((v + F32(16.5)).astype(F32)))
        qh = _qh_bits(q).view(np.uint8).reshape(nb, 4)
        return np.concatenate([_f16_col(d), qh, _pack_nibbles_32(q & 0xF)], axis=1)
    if t in ("Q4_1", "Q5_1"):
        mn = xb.min(axis=1)
        mx = xb.max(axis=1)
        d = ((mx - mn) / (F32(15) if t == "Q4_1" else F32(31))).astype(F32)
        idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), zero).astype(F32)
        v = ((xb - mn[:, None]) * idv[:, None]).astype(F32)
        if t == "Q4_1":
            q = np.minimum(15, _trunc_i((v + F32(0.5)).astype(F32)))
            return np.concatenate([_f16_col(d), _f16_col(mn), _pack_nibbles_32(q)], axis=1)
        q = _trunc_i((v + F32(0.5)).astype(F32)) & 0xFF
        qh = _qh_bits(q).view(np.uint8).reshape(nb, 4)
        return np.concatenate([_f16_col(d), _f16_col(mn), qh, _pack_nibbles_32(q & 0xF)], axis=1)
    raise ValueError(t)


def _pack_k_scales(ls, lm):
    """6-bit scales/mins (nb, 8) -> (nb, 12) bytes, the inverse of get_scale_min_k4."""
    nb = ls.shape[0]
    out = np.zeros((nb, 12), np.uint8)
    for j in range(8):
        if j < 4:
            out[:, j] |= ls[:, j]
            out[:, j + 4] |= lm[:, j]
        else:
            out[:, j + 4] |= (ls[:, j] & 0xF) | ((lm[:, j] & 0xF) << 4)
            out[:, j - 4] |= (ls[:, j] >> 4) << 6
            out[:, j] |= (lm[:, j] >> 4) << 6
    return out


def _quant_k_minmax(x, nmax):
    """Q4_K/Q5_K, simple: per 32-element sub-block scale = (max - min)/nmax, min clamped to ≤ 0."""
    xb = x.reshape(-1, 8, 32).astype(F32)
    nb = xb.shape[0]
    mn = np.minimum(xb.min(axis=2), 0).astype(F32)
    mx = xb.max(axis=2)
    scale = ((mx - mn) / F32(nmax)).astype(F32)
    mins = (-mn).astype(F32)
    max_scale = scale.max(axis=1)
    max_min = mins.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = np.where(max_scale[:, None] > 0, np.rint(F32(63) / max_scale[:, None] * scale), 0)
        lm = np.where(max_min[:, None] > 0, np.rint(F32(63) / max_min[:, None] * mins), 0)
    ls = np.clip(ls, 0, 63).astype(np.uint8)
    lm = np.clip(lm, 0, 63).astype(np.uint8)
    dh = f32_to_f16_bits((max_scale / F32(63)).astype(F32))
    dmh = f32_to_f16_bits((max_min / F32(63)).astype(F32))
    d = f16_bits_to_f32(dh)[:, None] * ls.astype(F32)
    dm = f16_bits_to_f32(dmh)[:, None] * lm.astype(F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        L = np.where(d[:, :, None] != 0, np.rint((xb + dm[:, :, None]) / d[:, :, None]), 0)
    L = np.clip(L, 0, nmax).astype(np.int64).reshape(nb, 256)
    head = np.concatenate([dh.view(np.uint8).reshape(nb, 2), dmh.view(np.uint8).reshape(nb, 2),
                           _pack_k_scales(ls, lm)], axis=1)
    return head, L


def _quant_k(t, x):
    if t == "Q4_K":
        head, L = _quant_k_minmax(x, 15)
        qs = np.concatenate([(L[:, 64 * j:64 * j + 32] | (L[:, 64 * j + 32:64 * j + 64] << 4)) for j in range(4)],
                            axis=1).astype(np.uint8)
        return np.concatenate([head, qs], axis=1)
    if t == "Q5_K":
        head, L = _quant_k_minmax(x, 31)
        nb = L.shape[0]
        qh = np.zeros((nb, 32), np.int64)
        qs = []
        for j in range(4):
            l1 = L[:, 64 * j:64 * j + 32]
            l2 = L[:, 64 * j + 32:64 * j + 64]
            qh |= ((l1 >> 4) & 1) << (2 * j)
            qh |= ((l2 >> 4) & 1) << (2 * j + 1)
            qs.append((l1 & 0xF) | ((l2 & 0xF) << 4))
        return np.concatenate([head[:, :4], head[:, 4:16], qh.astype(np.uint8),
                               np.concatenate(qs, axis=1).astype(np.uint8)], axis=1)
    if t == "Q6_K":
        xb = x.reshape(-1, 16, 16).astype(F32)
        nb = xb.shape[0]
        mxs = np.take_along_axis(xb, np.argmax(np.abs(xb), axis=2)[:, :, None], axis=2)[:, :, 0]
        scale = (mxs / F32(-32)).astype(F32)  # signed: the extreme value maps to level -32
        idx = np.argmax(np.abs(scale), axis=1)
        max_scale = scale[np.arange(nb), idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            iscale = np.where(max_scale != 0, F32(-128) / max_scale, F32(0)).astype(F32)
            dh = f32_to_f16_bits(np.where(iscale != 0, F32(1) / iscale, F32(0)).astype(F32))
        sc = np.minimum(127, np.rint(iscale[:, None] * scale)).astype(np.int64)
        sc = np.clip(sc, -128, 127)
        d = f16_bits_to_f32(dh)[:, None] * sc.astype(F32)
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.where(d[:, :, None] != 0, np.rint(xb / d[:, :, None]), 0)
        L = (np.clip(L, -32, 31) + 32).astype(np.int64).reshape(nb, 256)
        ql = np.zeros((nb, 128), np.int64)
        qh = np.zeros((nb, 64), np.int64)
        for half in range(2):
            base = 128 * half
            for l in range(32):
                q1, q2 = L[:, base + l], L[:, base + l + 32]
                q3, q4 = L[:, base + l + 64], L[:, base + l + 96]
                ql[:, 64 * half + l] = (q1 & 0xF) | ((q3 & 0xF) << 4)
                ql[:, 64 * half + l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4)
                qh[:, 32 * half + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
        return np.concatenate([ql.astype(np.uint8), qh.astype(np.uint8), sc.astype(np.int8).view(np.uint8),
                               dh.view(np.uint8).reshape(nb, 2)], axis=1)
    raise ValueError(t)


def quantize(t, x):
    x = np.ascontiguousarray(np.asarray(x, dtype=F32))
    if x.ndim == 1:
        x = x[None, :]
    rows, cols = x.shape
    row_bytes(t, cols)  # checks the block multiple
    if t == "F32":
        return x.tobytes()
    if t == "F16":
        return f32_to_f16_bits(x).tobytes()
    if t == "BF16":
        return f32_to_bf16_bits(x).tobytes()
    if t in ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"):
        return np.ascontiguousarray(_quant_simple(t, x)).tobytes()
    if t in ("Q4_K", "Q5_K", "Q6_K"):
        return np.ascontiguousarray(_quant_k(t, x)).tobytes()
    raise ValueError(f"unsupported type {t}")


def _main(argv):
    if len(argv) != 3 or argv[1] != "batch":
        sys.stderr.write(__doc__)
        return 2
    for line in open(argv[2]):
        parts = line.split()
        if not parts:
            continue
        op, t, rows, cols, src, dst = parts[0], parts[1], int(parts[2]), int(parts[3]), parts[4], parts[5]
        data = open(src, "rb").read()
        if op == "quantize":
            x = np.frombuffer(data, dtype=F32, count=rows * cols).reshape(rows, cols)
            out = quantize(t, x)
        elif op == "dequantize":
            out = dequantize(t, data, rows, cols).astype(F32).tobytes()
        else:
            raise ValueError(op)
        with open(dst, "wb") as f:
            f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
