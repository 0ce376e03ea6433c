#!/bin/bash
# Dense, hybrid and reranked search end to end with small generated models (random weights:
# the rankings mean nothing, the plumbing is what is checked): chunks get vectors at ingest,
# filters and deletions hold in the vector search, fusion is exactly reciprocal-rank fusion
# of the two lists, reranked results come in the reranker's score order, vectors survive
# merges, a different model is refused until `cairn reembed`, and `check` stays clean.
source "$(dirname "$0")/lib.bash"
set -e
S=${CAIRN_SHARED:-../shared}
VOCAB=$S/models/vocab/ggml-vocab-bert-bge.gguf
[ -f "$VOCAB" ] || skip "no $VOCAB: hybrid search test skipped"
$PY -c 'import numpy' 2>/dev/null || skip "no numpy for /usr/bin/python3: hybrid search test skipped"
GEN="$PY tests/reference/make_encoder_gguf.py model"
SMALL="--layers 2 --hidden 64 --heads 4 --ff 256 --ctx 256"
$GEN "$WORK/emb.gguf" --vocab "$VOCAB" --type F32 $SMALL >/dev/null
$GEN "$WORK/emb2.gguf" --vocab "$VOCAB" --type F32 $SMALL --seed 9 >/dev/null
$GEN "$WORK/rr.gguf" --vocab "$VOCAB" --type F32 $SMALL --pooling rank --labels 1 >/dev/null
KB="$WORK/kb"
mkdir -p "$WORK/a" "$WORK/b"
cp docs/search.md docs/ingest.md "$WORK/a/"
cp docs/faq.md docs/cli.md docs/models.md "$WORK/b/"
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$WORK/a" --tag part=a --embed-model "$WORK/emb.gguf" --json
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$WORK/b" --tag part=b --json   # the recorded model
expect_rc 0 "$CAIRN" --kb "$KB" search "how are chunks split" --mode dense -k 50 --json
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert len(r) >= 20, len(r)   # every chunk has a vector: dense search reaches both folders
assert {h["source"].split("/")[-2] for h in r} == {"a", "b"}, r
assert all(a["score"] >= b["score"] for a, b in zip(r, r[1:]))
PY
# the filter holds inside the vector search
expect_rc 0 "$CAIRN" --kb "$KB" search "how are chunks split" --mode dense -k 50 --filter part=b --json
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert r and all("/b/" in h["source"] for h in r), r
PY
# hybrid: every fused result comes from the BM25 or the dense candidates
expect_rc 0 "$CAIRN" --kb "$KB" search "access groups" --mode bm25 -k 100 --json
cp "$WORK/out" "$WORK/bm25.json"
expect_rc 0 "$CAIRN" --kb "$KB" search "access groups" --mode dense -k 100 --json
cp "$WORK/out" "$WORK/dense.json"
expect_rc 0 "$CAIRN" --kb "$KB" search "access groups" --mode hybrid -k 10 --json
$PY - "$WORK/bm25.json" "$WORK/dense.json" "$WORK/out" <<'PY'
import json, sys
ids = lambda f: [h["chunk_id"] for h in json.load(open(f))["results"]]
b, d, h = ids(sys.argv[1]), ids(sys.argv[2]), ids(sys.argv[3])
assert len(h) == 10 and set(h) <= set(b) | set(d), (h, b[:10], d[:10])
# RRF: the chunk first in both lists (if any) leads; otherwise the top is one list's first
rrf = {}
for lst in (b, d):
    for r, c in enumerate(lst, 1):
        rrf[c] = rrf.get(c, 0) + 1 / (60 + r)
best = sorted(rrf, key=lambda c: -rrf[c])[:10]
assert h == best, (h, best)
PY
# reranking: the reranked top comes in the reranker's score order
expect_rc 0 "$CAIRN" --kb "$KB" search "access groups" --mode bm25 -k 5 --rerank-model "$WORK/rr.gguf" --rerank-top 5 --json
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert len(r) == 5 and all(a["score"] >= b["score"] for a, b in zip(r, r[1:])), r
PY
expect_rc 2 "$CAIRN" --kb "$KB" search x --mode sideways
expect_rc 1 "$CAIRN" --kb "$KB" search x --rerank-model "$WORK/emb.gguf"
contains "$WORK/err" "not a reranker"
# deletions: a deleted document never comes back from the vector search
expect_rc 0 "$CAIRN" --kb "$KB" delete "$WORK/b/faq.md"
expect_rc 0 "$CAIRN" --kb "$KB" search "questions" --mode dense -k 100 --json
grep -q "faq.md" "$WORK/out" && fail "deleted document returned by dense search"
# merges keep the vectors, and the same results
expect_rc 0 "$CAIRN" --kb "$KB" search "chunk overlap" --mode dense -k 10 --json
cp "$WORK/out" "$WORK/before.json"
expect_rc 0 "$CAIRN" --kb "$KB" optimize --max-segments 1
expect_rc 0 "$CAIRN" --kb "$KB" search "chunk overlap" --mode dense -k 10 --json
$PY - "$WORK/before.json" "$WORK/out" <<'PY'
import json, sys
a = [h["doc_id"] + "#" + h["heading"] for h in json.load(open(sys.argv[1]))["results"]]
b = [h["doc_id"] + "#" + h["heading"] for h in json.load(open(sys.argv[2]))["results"]]
assert a == b, (a, b)
PY
expect_rc 0 "$CAIRN" --kb "$KB" check
# ask retrieves hybrid on a knowledge base with vectors (its citations still resolve)
expect_rc 0 "$CAIRN" --kb "$KB" ask "how are chunks split" --json --min-confidence 0 --rerank-model "$WORK/rr.gguf"
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["abstained"] is False and r["citations"], r
assert all(s["supported"] for s in r["sentences"])
PY
expect_rc 2 "$CAIRN" --kb "$KB" ask x --mode sideways
# another model is refused until re-embedded
expect_rc 1 "$CAIRN" --kb "$KB" ingest "$WORK/a" --embed-model "$WORK/emb2.gguf"
contains "$WORK/err" "reembed"
expect_rc 0 "$CAIRN" --kb "$KB" reembed --embed-model "$WORK/emb2.gguf"
expect_rc 0 "$CAIRN" --kb "$KB" search "chunk overlap" --mode dense -k 10 --json
expect_rc 0 "$CAIRN" --kb "$KB" check
# a knowledge base without a model: dense search says how to get one
expect_rc 0 "$CAIRN" --kb "$WORK/plain" ingest "$WORK/a" -q
expect_rc 1 "$CAIRN" --kb "$WORK/plain" search x --mode dense
contains "$WORK/err" "--embed-model"
echo ok
