#!/usr/bin/python3
"""report.py — turns the benchmark's JSON lines into the tables bench/run.sh prints.

Ratios are baseline time / cairn time, so a ratio above 1 means cairn is faster. The
goals come from the issue: build ≥ 5× FTS5 and ≥ 20× Xapian, query p50 (k=10) ≥ 20× FTS5
and ≥ 4× Xapian. The top-10 agreement (mean overlap of the top-10 document sets) is a
sanity check that the engines answer the same question; it is not 100% because the
analysers (Porter vs Snowball English, stop words) and FTS5's fixed k1/b differ.

Usage: report.py RESULTS.jsonl [TOP10_DIR]
"""
import json
import os
import platform
import sys

GOALS = {("build", "fts5"): 5.0, ("build", "xapian"): 20.0,
         ("p50", "fts5"): 20.0, ("p50", "xapian"): 4.0}
ENGINES = ["cairn", "cairn-1t", "fts5", "xapian"]


def load_top10(path):
    res = {}
    if not os.path.exists(path):
        return None
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3:
            res.setdefault(parts[0], set()).add(parts[2])
    return res


def overlap(a, b):
    if a is None or b is None:
        return None
    qs = [q for q in a if q in b and a[q] and b[q]]
    if not qs:
        return None
    return sum(len(a[q] & b[q]) / max(len(a[q]), len(b[q])) for q in qs) / len(qs)


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import sqlite3
        sq = sqlite3.sqlite_version
    except Exception:  # noqa: BLE001
        sq = "?"
    try:
        import xapian
        xv = xapian.version_string()
    except Exception:  # noqa: BLE001
        xv = "?"
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.0f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    return "%s, %d cores, %s RAM, %s; SQLite %s, Xapian %s" % (
        cpu, os.cpu_count() or 0, mem, platform.platform(), sq, xv)


def fmt(v, w=9, d=1):
    if v is None:
        return "-".rjust(w)
    return ("%.*f" % (d, v)).rjust(w)


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    topdir = sys.argv[2] if len(sys.argv) > 2 else None
    corpora = []
    by = {}
    for r in rows:
        if r["corpus"] not in corpora:
            corpora.append(r["corpus"])
        by[(r["corpus"], r["engine"])] = r
    print("machine: " + machine())
    print("build_s = engine time to index and commit (JSON parsing excluded, reported as load_s);")
    print("latencies in microseconds, in-process, nearest-rank percentiles over 3 timed passes (1 if a warm-up pass took > 10 s);")
    print("ratio = baseline time / cairn time (> 1: cairn faster)\n")
    verdicts = []
    for c in corpora:
        any_r = next(by[(c, e)] for e in ENGINES if (c, e) in by)
        print("## %s — %d documents, %d queries" % (c, any_r["docs"], any_r["queries"]))
        print("engine     build_s    docs/s  p50@10  p95@10 p50@1000 p95@1000  peakRSS_MB index_MB")
        for e in ENGINES:
            r = by.get((c, e))
            if not r:
                if e != "cairn-1t":
                    print("%-8s  (not run)" % e)
                continue
            print("%-8s%9.3f %9.0f %7.0f %7.0f %8.0f %8.0f %11.1f %8.1f" % (
                e, r["build_s"], r["docs_per_s"], r["p50_us_k10"], r["p95_us_k10"],
                r["p50_us_k1000"], r["p95_us_k1000"], r["peak_rss_mb"], r["index_mb"]))
        cr = by.get((c, "cairn"))
        if cr:
            for e in ("fts5", "xapian"):
                r = by.get((c, e))
                if not r:
                    continue
                rb = r["build_s"] / cr["build_s"] if cr["build_s"] > 0 else None
                rp = r["p50_us_k10"] / cr["p50_us_k10"] if cr["p50_us_k10"] > 0 else None
                rp1k = r["p50_us_k1000"] / cr["p50_us_k1000"] if cr["p50_us_k1000"] > 0 else None
                gb, gp = GOALS[("build", e)], GOALS[("p50", e)]
                mb = rb is not None and rb >= gb
                mp = rp is not None and rp >= gp
                print("cairn vs %-6s build %6.2fx (goal %2.0fx: %s)   p50@10 %6.2fx (goal %2.0fx: %s)"
                      "   p50@1000 %6.2fx" % (e, rb or 0, gb, "MET" if mb else "not met",
                                             rp or 0, gp, "MET" if mp else "not met", rp1k or 0))
                verdicts.append((c, e, rb, mb, rp, mp))
        c1 = by.get((c, "cairn-1t"))
        if c1:
            parts = []
            for e in ("fts5", "xapian"):
                r = by.get((c, e))
                if r and c1["build_s"] > 0:
                    parts.append("vs %s %.2fx" % (e, r["build_s"] / c1["build_s"]))
            if parts:
                print("cairn single-threaded build (CAIRN_THREADS=1): " + ", ".join(parts))
        if topdir:
            t = {e: load_top10(os.path.join(topdir, "%s.%s.tsv" % (c, e))) for e in ENGINES}
            parts = []
            for a, b in (("cairn", "fts5"), ("cairn", "xapian"), ("fts5", "xapian")):
                o = overlap(t[a], t[b])
                if o is not None:
                    parts.append("%s/%s %.2f" % (a, b, o))
            if parts:
                print("top-10 agreement (mean overlap): " + ", ".join(parts))
        print()

    zipf = sorted([c for c in corpora if c.startswith("zipf-")], key=lambda s: int(s[5:]))
    if zipf:
        print("## growth (synthetic Zipf corpora)")
        hdr = "engine   metric      " + "".join("%12s" % c[5:] for c in zipf)
        print(hdr)
        for e in ENGINES:
            for key, label, d in (("build_s", "build_s", 2), ("docs_per_s", "docs/s", 0),
                                  ("p50_us_k10", "p50@10 us", 0), ("p50_us_k1000", "p50@1k us", 0),
                                  ("peak_rss_mb", "peakRSS MB", 0), ("index_mb", "index MB", 1)):
                vals = [by.get((c, e), {}).get(key) for c in zipf]
                if all(v is None for v in vals):
                    continue
                print("%-8s %-11s " % (e, label) + "".join(fmt(v, 12, d) for v in vals))
        print()
    print("## goals")
    for c, e, rb, mb, rp, mp in verdicts:
        print("%-14s vs %-6s build %6.2fx %-8s p50@10 %6.2fx %s" % (
            c, e, rb or 0, "MET" if mb else "not met", rp or 0, "MET" if mp else "not met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
