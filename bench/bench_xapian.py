#!/usr/bin/python3
"""bench_xapian.py — the Xapian baseline of the BM25 benchmark (Debian python3-xapian).

Measured exactly as bench_common.h measures the C drivers: the corpus is streamed (JSON
parsing time is kept apart as load_s), the build ends after WritableDatabase.commit()
(which fsyncs), each query is run once to warm up, then timed BENCH_ROUNDS times with a
monotonic clock, and the nearest-rank p50/p95 are reported in microseconds.

Indexing: TermGenerator with Stem("english") and STEM_SOME (Xapian's usual setup: the
unstemmed word plus a Z-prefixed stem), title then text into the same unprefixed field.
Searching: QueryParser with the same stemmer and strategy, default operator OR and flags 0
(no boolean/phrase/love-hate syntax, so punctuation in a query is never syntax), BM25Weight
(k1=0.9, k2=0, k3=1, b=0.4, min_normlen=0.5) — the k1/b cairn uses. The headline latency
times the search call only (Enquire + get_mset + reading the docids), which favours Xapian;
the latency including QueryParser.parse_query is reported too (p50_us_k10_with_parse).

Usage: bench_xapian.py CORPUS.jsonl QUERIES.jsonl WORKDIR NAME [TOP10.tsv]
"""
import json
import math
import os
import resource
import shutil
import sys
import time

import xapian

ROUNDS = 3
SLOW_S = 10.0  # a warm-up pass slower than this: one timed pass only


def now():
    return time.perf_counter()


def pct(v, p):
    v = sorted(v)
    if not v:
        return 0.0
    r = max(1, min(len(v), int(math.ceil(p * len(v)))))
    return v[r - 1]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def du(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            fp = os.path.join(root, f)
            if os.path.isfile(fp) and not os.path.islink(fp):
                total += os.path.getsize(fp)
    return total


def read_docs(path, acc):
    """Yields (id, title, text); acc[0] accumulates the seconds spent reading and parsing."""
    with open(path, "rb") as f:
        while True:
            t0 = now()
            line = f.readline()
            if not line:
                acc[0] += now() - t0
                return
            if len(line) <= 1:
                acc[0] += now() - t0
                continue
            o = json.loads(line)
            did = o.get("_id") or ""
            title = o.get("title") or ""
            text = o.get("text") or ""
            acc[0] += now() - t0
            if not did or not (text or title):
                continue
            yield did, title, text


def main():
    if len(sys.argv) < 5:
        print("usage: bench_xapian.py CORPUS.jsonl QUERIES.jsonl WORKDIR NAME [TOP10.tsv]",
              file=sys.stderr)
        return 2
    corpus, qpath, work, name = sys.argv[1:5]
    recpath = sys.argv[5] if len(sys.argv) > 5 else None
    acc = [0.0]
    queries = [(i, t) for i, _title, t in read_docs(qpath, [0.0])]

    dbdir = os.path.join(work, "xapian.db")
    shutil.rmtree(dbdir, ignore_errors=True)
    os.makedirs(work, exist_ok=True)

    stem = xapian.Stem("english")
    t0 = now()
    db = xapian.WritableDatabase(dbdir, xapian.DB_CREATE_OR_OVERWRITE)
    tg = xapian.TermGenerator()
    tg.set_stemmer(stem)
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    n = 0
    for did, title, text in read_docs(corpus, acc):
        doc = xapian.Document()
        tg.set_document(doc)
        if title:
            tg.index_text(title)
            tg.increase_termpos()
        tg.index_text(text)
        doc.set_data(did)
        db.add_document(doc)
        n += 1
    db.commit()
    total = now() - t0
    build_s = total - acc[0]
    rss_after_build = peak_rss_mb()
    index_bytes = du(dbdir)

    qp = xapian.QueryParser()
    qp.set_stemmer(stem)
    qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    qp.set_default_op(xapian.Query.OP_OR)
    enquire = xapian.Enquire(db)
    enquire.set_weighting_scheme(xapian.BM25Weight(0.9, 0, 1, 0.4, 0.5))
    parsed = [qp.parse_query(t, 0) for _i, t in queries]

    def search(q, k):
        enquire.set_query(q)
        m = enquire.get_mset(0, k)
        return [it.docid for it in m]

    def timed(k):
        w0 = now()
        for q in parsed:  # warm-up
            search(q, k)
        rounds = 1 if now() - w0 > SLOW_S else ROUNDS
        lat, lat_parse, hits = [], [], 0
        for _r in range(rounds):
            for (_qid, text), q in zip(queries, parsed):
                a = now()
                ids = search(q, k)
                lat.append((now() - a) * 1e6)
                hits += len(ids)
                a = now()
                search(qp.parse_query(text, 0), k)
                lat_parse.append((now() - a) * 1e6)
        return lat, lat_parse, hits / max(1, len(lat))

    l10, lp10, hits10 = timed(10)
    l1000, _lp1000, _h = timed(1000)
    peak = peak_rss_mb()

    if recpath:
        with open(recpath, "w") as f:
            for (qid, _t), q in zip(queries, parsed):
                enquire.set_query(q)
                for rank, it in enumerate(enquire.get_mset(0, 10), 1):
                    f.write("%s\t%d\t%s\n" % (qid, rank, it.document.get_data().decode()))

    out = {
        "engine": "xapian", "corpus": name, "docs": n, "queries": len(queries),
        "build_s": round(build_s, 4), "load_s": round(acc[0], 4),
        "docs_per_s": round(n / build_s, 1) if build_s > 0 else 0,
        "p50_us_k10": round(pct(l10, 0.5), 1), "p95_us_k10": round(pct(l10, 0.95), 1),
        "mean_us_k10": round(sum(l10) / max(1, len(l10)), 1),
        "p50_us_k1000": round(pct(l1000, 0.5), 1), "p95_us_k1000": round(pct(l1000, 0.95), 1),
        "mean_us_k1000": round(sum(l1000) / max(1, len(l1000)), 1),
        "p50_us_k10_with_parse": round(pct(lp10, 0.5), 1),
        "mean_hits_k10": round(hits10, 2), "peak_rss_mb": round(peak, 1),
        "rss_after_build_mb": round(rss_after_build, 1),
        "index_mb": round(index_bytes / (1024.0 * 1024.0), 2),
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
