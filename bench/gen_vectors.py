#!/usr/bin/python3
"""Deterministic synthetic embeddings for bench/vec.sh (numpy + faiss, fixed seed).

    gen_vectors.py OUTDIR [--n 100000] [--nq 1000] [--dim 384] [--latent 32] [--comps 50]

Vectors come from a latent Gaussian mixture: a component c (uniform over --comps) with a
mean drawn N(0, I) in --latent dimensions, a point mean_c + 0.35·N(0, I), mapped to --dim
dimensions by one fixed N(0, 1/latent) matrix, plus 0.02·N(0, I) noise, then L2-normalised
(what a sentence-embedding model gives: clustered, low intrinsic dimension, unit length).
Queries are fresh draws from the same mixture.

Writes (little-endian, no headers):
  base.f32    n × dim float32          query.f32   nq × dim float32
  labels.u8   n bytes: bit 0 set with probability 0.5, bit 1 0.1, bit 2 0.01, bit 3 0.001
              (independent; the bench's filters tag:p50/p10/p1/p01=yes select on them)
  gt.i32      nq × 100 int32: exact top 100 by inner product (faiss IndexFlatIP)
  gt_fB.i32   nq × 100 int32 for each bit B of labels.u8: exact top 100 among vectors with
              that bit (-1 padded), by numpy matrix products
  meta.json   the parameters
"""
import argparse
import json
import os
import sys

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--n", type=int, default=100000)
ap.add_argument("--nq", type=int, default=1000)
ap.add_argument("--dim", type=int, default=384)
ap.add_argument("--latent", type=int, default=32)
ap.add_argument("--comps", type=int, default=50)
ap.add_argument("--seed", type=int, default=20240611)
ap.add_argument("--no-faiss", action="store_true", help="ground truth by numpy only")
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)

rng = np.random.default_rng(a.seed)
means = rng.standard_normal((a.comps, a.latent))
W = rng.standard_normal((a.latent, a.dim)) / np.sqrt(a.latent)


def draw(n):
    c = rng.integers(0, a.comps, n)
    z = means[c] + 0.35 * rng.standard_normal((n, a.latent))
    x = z @ W + 0.02 * rng.standard_normal((n, a.dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


base = draw(a.n)
query = draw(a.nq)
labels = np.zeros(a.n, dtype=np.uint8)
for bit, p in enumerate([0.5, 0.1, 0.01, 0.001]):
    labels |= (rng.random(a.n) < p).astype(np.uint8) << bit
base.tofile(os.path.join(a.out, "base.f32"))
query.tofile(os.path.join(a.out, "query.f32"))
labels.tofile(os.path.join(a.out, "labels.u8"))

K = 100
if a.no_faiss:
    s = query @ base.T
    gt = np.argsort(-s, axis=1, kind="stable")[:, :K].astype(np.int32)
else:
    import faiss
    faiss.omp_set_num_threads(2)
    idx = faiss.IndexFlatIP(a.dim)
    idx.add(base)
    _, gt = idx.search(query, K)
    gt = gt.astype(np.int32)
gt.tofile(os.path.join(a.out, "gt.i32"))

for bit in range(4):
    sel = np.nonzero(labels >> bit & 1)[0]
    out = np.full((a.nq, K), -1, dtype=np.int32)
    if len(sel):
        s = query @ base[sel].T
        kk = min(K, len(sel))
        top = np.argsort(-s, axis=1, kind="stable")[:, :kk]
        out[:, :kk] = sel[top]
    out.tofile(os.path.join(a.out, "gt_f%d.i32" % bit))
    print("filter bit %d: %d vectors (%.3f%%)" % (bit, len(sel), 100.0 * len(sel) / a.n), file=sys.stderr)

json.dump(vars(a), open(os.path.join(a.out, "meta.json"), "w"))
print("wrote %s: %d base, %d queries, dim %d" % (a.out, a.n, a.nq, a.dim), file=sys.stderr)
