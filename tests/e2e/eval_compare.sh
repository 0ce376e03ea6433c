#!/bin/bash
# The evaluation harness on SciFact (BEIR): BM25 vs BM25+RM3.
#  - the judgements written with --write-qrels (TREC format) score like the BEIR qrels;
#  - every measure of `eval trec` and of the retrieval run's per-query JSON equals the
#    independent Python reference (tests/reference/trec_metrics.py) to 4 decimals, per query
#    and averaged;
#  - `eval compare` (mean difference, randomization p, bootstrap CI, wins/losses) equals
#    tests/reference/eval_compare.py given the same seed, and is the same from TREC run files
#    (+ --qrels) as from the result JSON files;
#  - the regression gate exits 3 beyond a tolerance and 0 within it;
#  - the HTML report loads in headless Chromium with no console error and its script runs
#    (the page writes "rendered" into #cairn-status); skipped without chromium.
source "$(dirname "$0")/lib.bash"
set -e
DATA="${CAIRN_SHARED:-../shared}/data/scifact-beir"
[ -f "$DATA/corpus.jsonl" ] || skip "skipped: $DATA not present (needs ../shared)"
QRELS="$DATA/qrels/test.tsv"
M="map,Rprec,recip_rank,mrr_cut.10,ndcg,ndcg_cut.1,5,10,20,100,P.1,5,10,20,recall.5,10,100,1000,success.1,5,10,num_rel,num_ret,num_rel_ret"

expect_rc 0 "$CAIRN" eval retrieval "$DATA" --measures "$M" --run "$WORK/a.run" --report-json "$WORK/a.json" \
	--report-md "$WORK/a.md" --report-html "$WORK/a.html" --write-qrels "$WORK/qrels.trec"
contains "$WORK/out" "nDCG@10      0.6789"
expect_rc 0 "$CAIRN" eval retrieval "$DATA" --rm3 --measures "$M" --run "$WORK/b.run" --report-json "$WORK/b.json"

# 1. measures against the Python reference, per query and mean
expect_rc 0 "$CAIRN" eval trec "$QRELS" "$WORK/a.run" --measures "$M" --per-query --json
cp "$WORK/out" "$WORK/trec.json"
# the judgements written as TREC qrels score the run the same as the BEIR file
expect_rc 0 "$CAIRN" eval trec "$WORK/qrels.trec" "$WORK/a.run" --measures "$M"
cp "$WORK/out" "$WORK/trec_written.txt"
expect_rc 0 "$CAIRN" eval trec "$QRELS" "$WORK/a.run" --measures "$M"
cmp "$WORK/out" "$WORK/trec_written.txt" || fail "written qrels score differently"
$PY tests/reference/trec_metrics.py -q -m "$M" "$QRELS" "$WORK/a.run" >"$WORK/ref.txt"
$PY - "$WORK/ref.txt" "$WORK/trec.json" "$WORK/a.json" <<'PY'
import json, sys
ref = {}
for line in open(sys.argv[1]):
    name, qid, v = line.split("\t")
    ref[(name, qid)] = float(v)
n = 0
for path in sys.argv[2:]:
    r = json.load(open(path))
    assert r["queries"] == 300, r["queries"]
    assert ref[("num_q", "all")] == 300
    for name, v in r["measures"].items():
        assert round(v, 4) == round(ref[(name, "all")], 4), (path, name, v, ref[(name, "all")])
        n += 1
    for q in r["per_query"]:
        for name, v in q["values"].items():
            assert round(v, 4) == round(ref[(name, q["qid"])], 4), (path, name, q["qid"], v)
            n += 1
print("measures equal to the reference:", n)
# provenance recorded
m = json.load(open(sys.argv[3]))["meta"]
assert m["cairn_version"] and m["config"]["mode"] == "bm25" and m["config"]["rm3"] == 0, m
assert any(f["path"].endswith("corpus.jsonl") and len(f["crc32c"]) == 8 for f in m["dataset"]["files"])
assert m["kb"]["generation"] >= 1 and m["kb"]["documents"] == 5183, m["kb"]
PY

# 2. compare against the Python reference (fewer permutations: Python is slow)
expect_rc 0 "$CAIRN" eval compare "$WORK/a.json" "$WORK/b.json" --permutations 1000 --bootstrap 1000 --seed 7 --json
cp "$WORK/out" "$WORK/cmp.json"
$PY tests/reference/eval_compare.py "$WORK/a.json" "$WORK/b.json" 1000 1000 7 >"$WORK/cmpref.txt"
expect_rc 0 "$CAIRN" eval compare "$WORK/a.run" "$WORK/b.run" --qrels "$QRELS" --measures "$M" \
	--permutations 1000 --bootstrap 1000 --seed 7 --json
cp "$WORK/out" "$WORK/cmp_runs.json"
$PY - "$WORK/cmp.json" "$WORK/cmpref.txt" "$WORK/cmp_runs.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
runs = json.load(open(sys.argv[3]))
assert c["queries"] == 300 and c["seed"] == 7 and c["permutations"] == 1000
n = 0
for line in open(sys.argv[2]):
    ref = json.loads(line)
    got = c["measures"][ref["name"]]
    for k in ("a", "b", "diff", "p"):
        assert abs(got[k] - ref[k]) < 1e-9, (ref["name"], k, got[k], ref[k])
    assert abs(got["ci95"][0] - ref["lo"]) < 1e-9 and abs(got["ci95"][1] - ref["hi"]) < 1e-9, (ref, got)
    assert (got["wins"], got["losses"], got["ties"]) == (ref["wins"], ref["losses"], ref["ties"])
    r = runs["measures"][ref["name"]]  # from the run files: the same numbers
    assert abs(r["diff"] - got["diff"]) < 1e-12 and r["p"] == got["p"] and r["ci95"] == got["ci95"]
    n += 1
assert n >= 20, n
nd = c["measures"]["ndcg_cut_10"]
assert nd["diff"] < 0 and nd["p"] < 0.05, nd  # RM3 hurts nDCG@10 on SciFact, significantly
print("compare equal to the reference on", n, "measures")
PY

# 3. the regression gate
expect_rc 3 "$CAIRN" eval compare --baseline "$WORK/a.json" "$WORK/b.json" --fail-on-regression \
	--tolerance ndcg_cut_10=0.01,default=1
contains "$WORK/out" "REGRESSION"
contains "$WORK/err" "regressed beyond tolerance"
expect_rc 0 "$CAIRN" eval compare --baseline "$WORK/a.json" "$WORK/b.json" --fail-on-regression \
	--tolerance ndcg_cut_10=0.05,default=1
# the same configuration again, gated against itself: nothing moves
expect_rc 0 "$CAIRN" eval retrieval "$DATA" --measures "$M" --baseline "$WORK/a.json" --fail-on-regression \
	--report-md "$WORK/gate.md" --report-html "$WORK/cmp.html"
contains "$WORK/gate.md" "| ndcg_cut_10 | 0.6789 | 0.6789 | +0.0000 |"
expect_rc 2 "$CAIRN" eval compare "$WORK/a.run" "$WORK/b.run" "$WORK/c.run"
expect_rc 1 "$CAIRN" eval compare "$WORK/a.run" "$WORK/b.run"
contains "$WORK/err" "--qrels"
contains "$WORK/a.md" "| ndcg_cut_10 | 0.6789 |"

# 4. the HTML reports in headless Chromium
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then echo "ok (chromium not installed: HTML rendering not checked)"; exit 0; fi
for page in a.html cmp.html; do
	report_renders "$page"
	# every row of the per-query table was built
	rows=$(grep -o '<tr>' "$WORK/dom.html" | wc -l)
	[ "$rows" -gt 300 ] || fail "$page: only $rows table rows"
done
echo ok
