#!/bin/bash
# Reports, comparisons and the regression gate for answer runs:
#  - `eval answers --report-json/--report-md/--report-html`: the result's measures are the
#    means of the per-question rows over the questions each applies to (recomputed here),
#    and equal the summary's figures; its provenance names the configuration, the set's
#    fingerprint, the knowledge base and the seed; the per-question file loads as a result too;
#  - `eval compare` of two configurations on COVID-QA equals tests/reference/eval_compare.py
#    (means, p, CI, wins/losses with lower-is-better measures, n per measure);
#  - `--baseline FILE --fail-on-regression`: exit 0 against itself, 3 when answers get worse;
#    timings are gated only when named;
#  - the HTML reports load in headless Chromium with no console error (skipped without it).
source "$(dirname "$0")/lib.bash"
set -e
C="$WORK/corpus"
mkdir -p "$C"
cat >"$C/eiffel.md" <<'MD'
# The Eiffel Tower

The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was designed by the engineering company of Gustave Eiffel and built between 1887 and 1889. The tower is 330 metres tall.
MD
cat >"$C/honey.md" <<'MD'
# Honey bees

A honey bee colony has one queen. Worker bees are female and live about six weeks in summer. Bees make honey from flower nectar and store it in wax combs.
MD
SET="$WORK/set.jsonl"
cat >"$SET" <<'JL'
{"id":"t1","question":"When was the Eiffel Tower built?","answers":["between 1887 and 1889"],"doc_ids":["eiffel.md"]}
{"id":"t2","question":"How long do worker bees live in summer?","answers":["about six weeks"],"evidence":[{"text":"live about six weeks in summer"}]}
{"id":"t3","question":"Where do bees store honey?","answers":["in wax combs"],"doc_ids":["honey.md"]}
{"id":"u1","question":"What is the boiling point of mercury on Mars?","answerable":false}
JL

# 1. a run with its reports; the summary printed as JSON beside it
expect_rc 0 "$CAIRN" eval answers "$SET" --corpus "$C" --json --per-question "$WORK/a.jsonl" \
	--report-json "$WORK/a.json" --report-md "$WORK/a.md" --report-html "$WORK/a.html"
cp "$WORK/out" "$WORK/summary.json"
$PY - "$WORK/a.json" "$WORK/a.jsonl" "$WORK/summary.json" "$SET" <<'PY'
import json, sys, zlib
r = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
s = json.load(open(sys.argv[3]))
assert r["kind"] == "cairn-eval-result/1" and r["queries"] == 4, r["queries"]
near = lambda a, b: abs(a - b) < 1e-9
# each measure: the mean over the rows it applies to
def applies(row, m):
    if m == "answered": return row["answerable"]
    if m == "abstained_unanswerable": return not row["answerable"]
    if m == "refused": return True
    return m in row
def value(row, m):
    if m == "answered": return 0.0 if row["abstained"] else 1.0
    if m == "abstained_unanswerable": return 1.0 if row["abstained"] else 0.0
    if m == "refused": return 1.0 if row["refused"] else 0.0
    return row[m]
for m, v in r["measures"].items():
    vals = [value(x, m) for x in rows if applies(x, m)]
    assert vals and near(v, sum(vals) / len(vals)), (m, v, vals)
assert "cost" not in r["measures"]  # no price table
for m in ("em", "f1", "rouge_l", "bleu", "support_rate", "citation_precision", "citation_recall", "answered",
          "abstained_unanswerable", "refused", "ttft_ms", "tokens_in", "tokens_out"):
    assert m in r["measures"], m
# the same figures as the summary (printed to 4 decimals)
near = lambda a, b: abs(a - b) < 6e-5
assert near(r["measures"]["f1"], s["f1"]) and near(r["measures"]["em"], s["exact_match"]), (r["measures"], s)
assert near(r["measures"]["citation_recall"], s["citation_recall_gold"])
assert near(r["measures"]["support_rate"], s["groundedness"])
assert near(r["measures"]["abstained_unanswerable"], s["abstain_unanswerable"])
near = lambda a, b: abs(a - b) < 1e-9
# per question: null where a measure does not apply, the row's detail kept
pq = {q["qid"]: q for q in r["per_query"]}
assert set(pq) == {"t1", "t2", "t3", "u1"}, set(pq)
assert pq["u1"]["values"]["f1"] is None and pq["u1"]["values"]["answered"] is None
assert pq["t1"]["detail"]["question"] == "When was the Eiffel Tower built?"
assert pq["t1"]["detail"]["gold"] == ["between 1887 and 1889"]
if not pq["t1"]["detail"]["abstained"]:
    sent = pq["t1"]["detail"]["sentences"][0]
    assert sent["citations"] and isinstance(sent["supported"], bool), sent
    cite = pq["t1"]["detail"]["citations"][0]
    assert cite["doc_id"].endswith("eiffel.md") and cite["quote"], cite
# provenance: configuration, set fingerprint, knowledge base, seed
m = r["meta"]
data = open(sys.argv[4], "rb").read()
crc = 0xFFFFFFFF
for byte in data:
    crc ^= byte
    for _ in range(8):
        crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
crc ^= 0xFFFFFFFF
assert m["kind"] == "answers" and m["cairn_version"] and m["seed"] == 0, m
assert m["dataset"]["size"] == len(data) and m["dataset"]["crc32c"] == "%08x" % crc, m["dataset"]
assert m["config"]["mode"] == "extractive" and m["config"]["k"] == 8 and m["config"]["max_sentences"] == 3, m
assert m["kb"]["path"] == "built" and m["kb"]["documents"] == 2 and m["kb"]["generation"] >= 1, m["kb"]
PY
contains "$WORK/a.md" "## Answer evaluation"
contains "$WORK/a.md" "| f1 |"
contains "$WORK/a.html" "cairn answer evaluation"

# the per-question rows load as a result; compared with the report: nothing differs
expect_rc 0 "$CAIRN" eval compare "$WORK/a.jsonl" "$WORK/a.json" --json
$PY -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["queries"] == 4, c["queries"]
for name, m in c["measures"].items():
    assert m["diff"] == 0 and m["wins"] == 0 and m["losses"] == 0, (name, m)
' "$WORK/out"

# 2. the gate: the run against itself passes; abstaining from everything regresses
expect_rc 0 "$CAIRN" eval answers "$SET" --corpus "$C" --baseline "$WORK/a.json" --fail-on-regression \
	--tolerance default=0 --report-md "$WORK/self.md"
contains "$WORK/out" "compared with the baseline"
contains "$WORK/self.md" "## Answer comparison"
expect_rc 3 "$CAIRN" eval answers "$SET" --corpus "$C" --min-confidence 0.999 --baseline "$WORK/a.json" \
	--fail-on-regression --report-html "$WORK/worse.html"
contains "$WORK/out" "REGRESSION"
contains "$WORK/err" "regressed beyond tolerance"
grep -E '^answered +1\.0000 +0\.0000 .*REGRESSION' "$WORK/out" >/dev/null || { cat "$WORK/out"; fail "answered did not regress"; }
contains "$WORK/worse.html" "cairn answer comparison"
# usage errors
expect_rc 2 "$CAIRN" eval answers "$SET" --corpus "$C" --fail-on-regression
expect_rc 1 "$CAIRN" eval answers "$SET" --corpus "$C" --baseline "$WORK/nope.json"
printf '{"id":"x","answerable":true,"abstained":false,"f1":7}\n' >"$WORK/bad.jsonl"
expect_rc 1 "$CAIRN" eval compare "$WORK/bad.jsonl" "$WORK/a.json"
contains "$WORK/err" "bad.jsonl:1"

# 3. two configurations on COVID-QA, against the independent reference
COVID="${CAIRN_SHARED:-../shared}/data/covid-qa-prerelease"
if [ -d "$COVID" ]; then
	expect_rc 0 "$CAIRN" eval answers "$COVID" --max 40 --report-json "$WORK/c8.json"
	expect_rc 0 "$CAIRN" eval answers "$COVID" --max 40 -k 3 --report-json "$WORK/c3.json"
	expect_rc 0 "$CAIRN" eval compare "$WORK/c8.json" "$WORK/c3.json" --permutations 500 --bootstrap 500 --seed 7 \
		--json --report-html "$WORK/cmp.html"
	cp "$WORK/out" "$WORK/cmp.json"
	$PY tests/reference/eval_compare.py "$WORK/c8.json" "$WORK/c3.json" 500 500 7 >"$WORK/ref.txt"
	$PY - "$WORK/cmp.json" "$WORK/ref.txt" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["queries"] == 80, c["queries"]  # 40 questions, each also asked without its gold document
n = 0
for line in open(sys.argv[2]):
    ref = json.loads(line)
    got = c["measures"][ref["name"]]
    for k in ("a", "b", "diff", "p"):
        assert abs(got[k] - ref[k]) < 1e-9, (ref["name"], k, got[k], ref[k])
    assert abs(got["ci95"][0] - ref["lo"]) < 1e-9 and abs(got["ci95"][1] - ref["hi"]) < 1e-9, (ref, got)
    assert (got["wins"], got["losses"], got["ties"], got["n"]) == (ref["wins"], ref["losses"], ref["ties"], ref["n"]), (ref, got)
    n += 1
assert n >= 10, n
assert c["measures"]["tokens_in"]["lower_is_better"] and c["measures"]["tokens_in"]["diff"] < 0
assert c["measures"]["tokens_in"]["wins"] > 0  # fewer passages, fewer tokens in: a win
assert c["measures"]["f1"]["n"] == 40 and c["measures"]["abstained_unanswerable"]["n"] == 40
print("covid-qa k=8 vs k=3: f1 %.4f -> %.4f (p %.3f), tokens_in %.0f -> %.0f" % (
    c["measures"]["f1"]["a"], c["measures"]["f1"]["b"], c["measures"]["f1"]["p"],
    c["measures"]["tokens_in"]["a"], c["measures"]["tokens_in"]["b"]))
PY
fi

# 4. the HTML reports in headless Chromium
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then echo "ok (chromium not installed: HTML rendering not checked)"; exit 0; fi
for page in a.html worse.html $([ -f "$WORK/cmp.html" ] && echo cmp.html); do
	report_renders "$page"
done
contains "$WORK/dom.html" "questions</span>"
echo ok
