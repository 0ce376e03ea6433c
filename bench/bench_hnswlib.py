#!/usr/bin/python3
"""hnswlib (Debian python3-hnswlib) on the files of bench/gen_vectors.py, measured as
bench_vec.c measures cairn: one build (M, efConstruction, threads as given), then every
query single-threaded (knn_query over the whole batch with num_threads=1, so the loop is in
C++ as cairn's is in C) for each efSearch, best of --reps passes. Prints JSON lines.

    bench_hnswlib.py DATA [--M 16] [--efc 200] [--threads 1] [--efs 10,16,...] [--reps 1]
                          [--no-search] [--dim 384] [--index PATH]
--index PATH: load the index from PATH when it exists (no build line is printed), else build
and save it there, so timing-sensitive search passes can be repeated without rebuilding.
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

import hnswlib
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("data")
ap.add_argument("--M", type=int, default=16)
ap.add_argument("--efc", type=int, default=200)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--efs", default="10,16,24,32,48,64,96,128,192,256")
ap.add_argument("--reps", type=int, default=1)
ap.add_argument("--dim", type=int, default=384)
ap.add_argument("--no-search", action="store_true")
ap.add_argument("--index")
a = ap.parse_args()


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


X = np.fromfile(os.path.join(a.data, "base.f32"), dtype=np.float32).reshape(-1, a.dim)
Q = np.fromfile(os.path.join(a.data, "query.f32"), dtype=np.float32).reshape(-1, a.dim)
gt = np.fromfile(os.path.join(a.data, "gt.i32"), dtype=np.int32).reshape(len(Q), 100)[:, :10]
rss0 = rss_mb()
# cosine on unit vectors: hnswlib's "ip" space (1 - dot), as cairn's COSINE is dot of unit vectors
p = hnswlib.Index(space="ip", dim=a.dim)
if a.index and os.path.exists(a.index):
    p.load_index(a.index, max_elements=len(X))
else:
    p.init_index(max_elements=len(X), M=a.M, ef_construction=a.efc, random_seed=100)
    t0 = time.perf_counter()
    p.add_items(X, np.arange(len(X)), num_threads=a.threads)
    build_s = time.perf_counter() - t0
    with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR", "/tmp"), suffix=".hnsw") as f:
        p.save_index(f.name)
        index_bytes = os.path.getsize(f.name)
    if a.index:
        p.save_index(a.index)
    print(json.dumps({"engine": "hnswlib", "phase": "build", "storage": "f32", "threads": a.threads, "n": len(X),
                      "build_s": round(build_s, 3), "bytes": index_bytes, "search_bytes": index_bytes,
                      "rss_mb": round(rss_mb(), 1), "rss_index_mb": round(rss_mb() - rss0, 1)}), flush=True)
if a.no_search:
    sys.exit(0)
for ef in [int(e) for e in a.efs.split(",")]:
    p.set_ef(ef)
    best = 1e30
    for _ in range(a.reps):
        t0 = time.perf_counter()
        labels, _ = p.knn_query(Q, k=10, num_threads=1)
        best = min(best, time.perf_counter() - t0)
    rec = np.mean([len(np.intersect1d(labels[i], gt[i])) / 10.0 for i in range(len(Q))])
    print(json.dumps({"engine": "hnswlib", "phase": "search", "storage": "f32", "ef": ef,
                      "recall10": round(float(rec), 4), "qps": round(len(Q) / best, 1)}), flush=True)
print(json.dumps({"engine": "hnswlib", "phase": "memory", "storage": "f32", "rss_mb": round(rss_mb(), 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}), flush=True)
