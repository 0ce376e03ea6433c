#!/usr/bin/python3
"""Tables and goal verdicts of bench/vec.sh from its JSON lines (one or more files; for
repeated runs the best build time and the best QPS per (engine, storage, ef) are kept).

    vec_report.py results.jsonl [more.jsonl ...]
"""
import json
import sys

rows = [json.loads(l) for f in sys.argv[1:] for l in open(f) if l.strip().startswith("{")]
build, search, filt, mem = {}, {}, {}, {}
for r in rows:
    key = (r["engine"], r["storage"])
    if r["phase"] == "build":
        k = key + (r["threads"],)
        if k not in build or r["build_s"] < build[k]["build_s"]:
            build[k] = r
    elif r["phase"] == "search":
        k = key + (r["ef"],)
        if k not in search or r["qps"] > search[k]["qps"]:
            search[k] = r
    elif r["phase"] == "filter":
        k = key + (r["filter"], r["mode"], r["ef"])
        if k not in filt or r["qps"] > filt[k]["qps"]:
            filt[k] = r
    elif r["phase"] == "memory":
        mem[key] = r


def curve(engine, storage):
    pts = sorted((k[2], v["recall10"], v["qps"]) for k, v in search.items() if k[:2] == (engine, storage))
    return pts


def qps_at(engine, storage, target=0.95):
    """QPS at recall target, interpolated linearly in recall between the two efSearch points
    around it (the curve is monotone in ef); None when the target is never reached."""
    pts = curve(engine, storage)
    for (e0, r0, q0), (e1, r1, q1) in zip(pts, pts[1:]):
        if r0 < target <= r1:
            t = (target - r0) / (r1 - r0)
            return q0 + t * (q1 - q0)
    if pts and pts[0][1] >= target:
        return pts[0][2]
    return None


print("== build (100k x 384 unless stated; seconds, lower is better)")
print("%-8s %-5s %7s %9s %12s %12s %8s" % ("engine", "stor", "threads", "build_s", "file MB", "search MB", "RSS MB"))
for k in sorted(build):
    r = build[k]
    print("%-8s %-5s %7d %9.2f %12.1f %12.1f %8.1f" % (k[0], k[1], k[2], r["build_s"], r["bytes"] / 2**20,
                                                   r["search_bytes"] / 2**20, r.get("rss_mb", 0)))
print()
print("== recall@10 and QPS (1 thread) by efSearch")
engines = [("cairn", "f32"), ("cairn", "int8"), ("hnswlib", "f32")]
efs = sorted({k[2] for k in search})
print("%5s" % "ef" + "".join(" | %-6s %-4s rec    QPS" % e for e in engines))
for ef in efs:
    line = "%5d" % ef
    for e in engines:
        r = search.get(e + (ef,))
        line += " | %6.4f %8.0f    " % (r["recall10"], r["qps"]) if r else " |" + " " * 21
    print(line)
print()
qc, qi, qh = qps_at("cairn", "f32"), qps_at("cairn", "int8"), qps_at("hnswlib", "f32")
fmt = lambda q: "%.0f" % q if q else "n/a"
print("QPS at recall@10 = 0.95 (interpolated): cairn f32 %s, cairn int8 %s, hnswlib %s" % (fmt(qc), fmt(qi), fmt(qh)))
if qc and qh:
    print("ratio cairn f32 / hnswlib: %.2f" % (qc / qh))
if qi and qh:
    print("ratio cairn int8 / hnswlib: %.2f" % (qi / qh))
print()
if ("cairn", "f32") in mem and ("cairn", "int8") in mem:
    f, i = mem[("cairn", "f32")], mem[("cairn", "int8")]
    print("== memory: search structure (links + levels + codes/scales or float vectors), file, RSS after all queries")
    for n, r in (("f32", f), ("int8", i)):
        print("cairn %-4s search %.1f MB, file %.1f MB, RSS %.1f MB" % (n, r["search_bytes"] / 2**20, r["file_bytes"] / 2**20, r["rss_mb"]))
    print("int8 / f32 search structure: %.1f%%   RSS: %.1f%%" % (100.0 * i["search_bytes"] / f["search_bytes"],
                                                             100.0 * i["rss_mb"] / f["rss_mb"]))
    ib = max((v["recall10"] for k, v in search.items() if k[:2] == ("cairn", "int8")), default=0)
    print("int8 best recall@10 (after exact rescoring): %.4f" % ib)
print()
if filt:
    print("== filtered top-10 (1 thread): recall@10 vs exact filtered search; outside = results the filter rejects")
    print("%-8s %-5s %-6s %4s %8s %9s %8s" % ("filter", "stor", "mode", "ef", "recall", "QPS", "outside"))
    for k in sorted(filt, key=lambda k: (k[1], -float(k[2].split("=")[0][1:].replace("01", "0.1")), k[3], k[4])):
        r = filt[k]
        print("%-8s %-5s %-6s %4d %8.4f %9.0f %8d" % (k[2], k[1], k[3], k[4], r["recall10"], r["qps"], r["outside"]))
    print()
print("== goals")
b1c, b1h = build.get(("cairn", "f32", 1)), build.get(("hnswlib", "f32", 1))
if b1c and b1h:
    print("build (1 thread) no slower than hnswlib: cairn %.1f s vs hnswlib %.1f s -> %s" %
          (b1c["build_s"], b1h["build_s"], "MET" if b1c["build_s"] <= b1h["build_s"] else "NOT MET"))
b2c, b2h = build.get(("cairn", "f32", 2)), build.get(("hnswlib", "f32", 2))
if b2c and b2h:
    print("build (2 threads): cairn %.1f s vs hnswlib %.1f s -> %s" %
          (b2c["build_s"], b2h["build_s"], "MET" if b2c["build_s"] <= b2h["build_s"] else "NOT MET"))
if qc and qh:
    print("QPS at recall 0.95 >= hnswlib: %.0f vs %.0f -> %s" % (qc, qh, "MET" if qc >= qh else "NOT MET"))
if ("cairn", "f32") in mem and ("cairn", "int8") in mem:
    ratio = mem[("cairn", "int8")]["search_bytes"] / mem[("cairn", "f32")]["search_bytes"]
    ib = max((v["recall10"] for k, v in search.items() if k[:2] == ("cairn", "int8")), default=0)
    print("int8 recall >= 0.95 in <= 35%% of F32 memory: recall %.4f, %.1f%% -> %s" %
          (ib, 100 * ratio, "MET" if ib >= 0.95 and ratio <= 0.35 else "NOT MET"))
auto = [v for k, v in filt.items() if k[3] == "auto"]
if auto:
    worst = min(v["recall10"] for v in auto)
    out = sum(v["outside"] for v in auto)
    print("filtered recall (auto) >= 0.95 at 50/10/1/0.1%%: worst %.4f, results outside the filter %d -> %s" %
          (worst, out, "MET" if worst >= 0.95 and out == 0 else "NOT MET"))
