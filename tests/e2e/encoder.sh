#!/bin/bash
# `cairn embed` and `cairn rerank` end to end on small random models (written by
# tests/reference/make_encoder_gguf.py with the bert-bge vocabulary): one JSON line per input
# line in order, raw f32 rows equal to the JSON values, batch and thread settings that change
# nothing, prefixes, rerank output in input order / sorted / JSON, and exit codes (1 for a
# bad or wrong-kind model naming it, 2 for usage errors). Numerical parity with PyTorch is
# tests/unit/test_encoder.c's job.
source "$(dirname "$0")/lib.bash"
set -e
S=${CAIRN_SHARED:-../shared}
V=$S/models/vocab/ggml-vocab-bert-bge.gguf
[ -f "$V" ] || skip "no $V: encoder CLI test skipped"
$PY -c 'import numpy' 2>/dev/null || skip "python3-numpy missing: encoder CLI test skipped"
GEN=tests/reference/make_encoder_gguf.py
small="--layers 2 --hidden 64 --heads 4 --ff 256 --ctx 64 --type F16"
$PY $GEN model "$WORK/emb.gguf" --vocab "$V" $small
$PY $GEN model "$WORK/rank.gguf" --vocab "$V" $small --pooling rank
$PY $GEN model "$WORK/nomic.gguf" --vocab "$V" $small --arch nomic-bert
$PY $GEN model "$WORK/bad.gguf" --vocab "$V" $small --break shape

printf 'What is BRCA1?\n\nMicroglia are the resident macrophages of the brain.\r\nhello\n' >"$WORK/texts"

# usage errors
expect_rc 2 "$CAIRN" embed
contains "$WORK/err" "--model"
expect_rc 2 "$CAIRN" embed --model "$WORK/emb.gguf" --format xml
expect_rc 2 "$CAIRN" embed --model "$WORK/emb.gguf" --threads lots
expect_rc 2 "$CAIRN" embed --model "$WORK/emb.gguf" some text
expect_rc 2 "$CAIRN" rerank --model "$WORK/rank.gguf"
contains "$WORK/err" "QUERY"
expect_rc 2 "$CAIRN" rerank --model "$WORK/rank.gguf" q1 q2
expect_rc 2 "$CAIRN" rerank --model "$WORK/rank.gguf" --bogus q

# bad and wrong-kind models: exit 1 naming the file and the problem
expect_rc 1 "$CAIRN" embed --model "$WORK/bad.gguf" <"$WORK/texts"
contains "$WORK/err" "bad.gguf: tensor 'blk.0.attn_q.weight' has shape [64, 60], expected [64, 64]"
expect_rc 1 "$CAIRN" embed --model "$WORK/missing.gguf" <"$WORK/texts"
contains "$WORK/err" "missing.gguf"
expect_rc 1 "$CAIRN" embed --model "$V" <"$WORK/texts"
contains "$WORK/err" "token_embd.weight' is missing"
expect_rc 1 "$CAIRN" embed --model "$WORK/rank.gguf" <"$WORK/texts"
contains "$WORK/err" "reranker"
expect_rc 1 "$CAIRN" rerank --model "$WORK/emb.gguf" q <"$WORK/texts"
contains "$WORK/err" "embedding model"

# embed: one line per input line, in order, unit length; f32 rows equal the JSON
expect_rc 0 "$CAIRN" embed --model "$WORK/emb.gguf" <"$WORK/texts"
cp "$WORK/out" "$WORK/e.jsonl"
expect_rc 0 "$CAIRN" embed --model "$WORK/emb.gguf" --format f32 <"$WORK/texts"
cp "$WORK/out" "$WORK/e.f32"
expect_rc 0 "$CAIRN" embed --model "$WORK/emb.gguf" --batch 1 --threads 2 <"$WORK/texts"
cmp -s "$WORK/out" "$WORK/e.jsonl" || fail "--batch 1 --threads 2 changed the embeddings"
expect_rc 0 "$CAIRN" embed --model "$WORK/emb.gguf" --no-normalize <"$WORK/texts"
cp "$WORK/out" "$WORK/raw.jsonl"
expect_rc 0 "$CAIRN" embed --model "$WORK/emb.gguf" --query <"$WORK/texts"
cmp -s "$WORK/out" "$WORK/e.jsonl" || fail "bert has no query prefix: --query changed the embeddings"
expect_rc 0 "$CAIRN" embed --model "$WORK/emb.gguf" --query --prefix "query: " <"$WORK/texts"
cp "$WORK/out" "$WORK/pq.jsonl"
# prefix by hand equals --prefix
sed 's/^/query: /' "$WORK/texts" | "$CAIRN" embed --model "$WORK/emb.gguf" >"$WORK/hand.jsonl"
cmp -s "$WORK/hand.jsonl" "$WORK/pq.jsonl" || fail "--prefix differs from the prefix typed in"
# nomic-bert: search_query: / search_document: by default
"$CAIRN" embed --model "$WORK/nomic.gguf" --query <"$WORK/texts" >"$WORK/nq.jsonl"
sed 's/^/search_query: /' "$WORK/texts" | "$CAIRN" embed --model "$WORK/nomic.gguf" --prefix "" >"$WORK/nq2.jsonl"
cmp -s "$WORK/nq.jsonl" "$WORK/nq2.jsonl" || fail "nomic-bert query prefix"
$PY - "$WORK/e.jsonl" "$WORK/e.f32" "$WORK/raw.jsonl" "$WORK/pq.jsonl" <<'PY'
import json, math, struct, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == [0, 1, 2, 3], rows
assert all(len(r["embedding"]) == 64 for r in rows)
for r in rows:
    n = math.sqrt(sum(x * x for x in r["embedding"]))
    assert abs(n - 1) < 1e-5, n
raw = open(sys.argv[2], "rb").read()
assert len(raw) == 4 * 64 * 4, len(raw)
f = struct.unpack("<%df" % (64 * 4), raw)
for i, r in enumerate(rows):
    for k in range(64):
        # 9 significant digits identify a float: the JSON value rounds back to the f32 bits
        assert struct.unpack("<f", struct.pack("<f", r["embedding"][k]))[0] == f[i * 64 + k], (i, k)
un = [json.loads(l)["embedding"] for l in open(sys.argv[3])]
for r, u in zip(rows, un):
    n = math.sqrt(sum(x * x for x in u))
    assert n > 1.5 and all(abs(a - b / n) < 1e-6 for a, b in zip(r["embedding"], u))
pq = [json.loads(l)["embedding"] for l in open(sys.argv[4])]
assert pq[0] != rows[0]["embedding"]
PY
# empty input: no output, success
expect_rc 0 "$CAIRN" embed --model "$WORK/emb.gguf" </dev/null
[ ! -s "$WORK/out" ] || fail "embed of no lines printed something"

# rerank: input order, --sort, --json
printf 'Paris is the capital of France.\nBananas are yellow.\n\nThe capital of France is Paris, on the Seine.\n' >"$WORK/pass"
expect_rc 0 "$CAIRN" rerank --model "$WORK/rank.gguf" "capital of France?" <"$WORK/pass"
cp "$WORK/out" "$WORK/r.tsv"
[ "$(wc -l <"$WORK/r.tsv")" -eq 4 ] || fail "rerank: 4 lines expected"
cut -f2- "$WORK/r.tsv" | cmp -s - "$WORK/pass" || fail "rerank: passages not in input order"
expect_rc 0 "$CAIRN" rerank --model "$WORK/rank.gguf" --sort "capital of France?" <"$WORK/pass"
sort -t"$(printf '\t')" -k1,1gr -s "$WORK/r.tsv" | cmp -s - "$WORK/out" || fail "rerank --sort order"
expect_rc 0 "$CAIRN" rerank --model "$WORK/rank.gguf" --json --batch 1 "capital of \"France\"?" <"$WORK/pass"
$PY - "$WORK/out" "$WORK/r.tsv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["query"] == 'capital of "France"?'
tsv = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2])]
assert [r["index"] for r in d["results"]] == [0, 1, 2, 3]
for r, (s, p) in zip(d["results"], tsv):
    assert r["passage"] == p
    # the query differs only in quotes, which WordPiece splits off either way
PY
echo ok
