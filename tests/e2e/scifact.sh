#!/bin/bash
# Parity with Pyserini/Anserini's published BM25 "flat" run on BEIR SciFact:
# nDCG@10 0.6789, Recall@100 0.9253 (../shared/data/scifact-beir/SOURCE.md) — within 0.005.
source "$(dirname "$0")/lib.bash"
set -e
DATA="${CAIRN_SHARED:-../shared}/data/scifact-beir"
[ -f "$DATA/corpus.jsonl" ] || skip "skipped: $DATA not present (needs ../shared)"
expect_rc 0 "$CAIRN" eval retrieval "$DATA" --json --run "$WORK/run.txt"
cat "$WORK/out"
$PY - "$WORK/out" "$WORK/run.txt" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert r["queries"] == 300 and r["documents"] == 5183, r
assert abs(r["ndcg@10"] - 0.6789) <= 0.005, r["ndcg@10"]
assert abs(r["recall@100"] - 0.9253) <= 0.005, r["recall@100"]
for k in ("mrr@10", "map", "latency_p50_ms", "latency_p95_ms", "index_build_s"):
    assert k in r
# the TREC run file: 300 queries, ranks 1.., scores non-increasing
runs = {}
for line in open(sys.argv[2]):
    q, q0, d, rank, score, tag = line.split()
    runs.setdefault(q, []).append((int(rank), float(score)))
assert len(runs) == 300, len(runs)
for q, rows in runs.items():
    assert [r for r, _ in rows] == list(range(1, len(rows) + 1))
    assert all(a[1] >= b[1] for a, b in zip(rows, rows[1:]))
PY
# BM25 + RM3: pinned to the figures of docs/results.md (a regression guard, not a reference)
expect_rc 0 "$CAIRN" eval retrieval "$DATA" --rm3 --json
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert abs(r["ndcg@10"] - 0.6448) <= 0.005 and abs(r["recall@100"] - 0.9147) <= 0.005, r
PY
echo ok
