#!/bin/bash
# cairn eval answers on a JSON Lines set: a tiny corpus and set written here, scored with
# --corpus (files and a .jsonl of records) and --kb; the summary is recomputed from the
# per-question file, ROUGE-L and BLEU from the answers with tests/reference/answer_metrics.py,
# EM/F1 with tests/reference/squad_eval.py, cost from the price table, the fingerprint with
# an independent CRC-32C; then bad input.
source "$(dirname "$0")/lib.bash"
set -e
C="$WORK/corpus"
mkdir -p "$C"
cat >"$C/eiffel.md" <<'MD'
# The Eiffel Tower

The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was designed by the engineering company of Gustave Eiffel and built between 1887 and 1889. The tower is 330 metres tall.

It was the entrance arch of the 1889 World's Fair.
MD
cat >"$C/honey.md" <<'MD'
# Honey bees

A honey bee colony has one queen. Worker bees are female and live about six weeks in summer. Drones are the male bees; their only role is to mate with a queen.

Bees make honey from flower nectar and store it in wax combs.
MD
cat >"$C/kettle.md" <<'MD'
# Kettles

An electric kettle boils one litre of water in about three minutes. Descale the kettle with vinegar every month in hard-water areas.
MD
SET="$WORK/set.jsonl"
cat >"$SET" <<'JL'
{"id":"t1","question":"How tall is the Eiffel Tower?","answers":["330 metres"],"doc_ids":["eiffel.md"]}
{"id":"t2","question":"Who designed the Eiffel Tower?","answers":["Gustave Eiffel","the engineering company of Gustave Eiffel"],"evidence":[{"doc_id":"eiffel.md","text":"designed by the engineering company of Gustave Eiffel"}]}
{"id":"t3","question":"How long do worker bees live in summer?","answers":["about six weeks"],"evidence":[{"text":"Worker bees are female and live about six weeks in summer"}]}
{"id":"t4","question":"How often should a kettle be descaled?","answers":["every month"],"doc_ids":["kettle.md"]}

{"id":"u1","question":"What is the boiling point of mercury on Mars?","answerable":false}
{"id":"u2","question":"Which football club won the 1974 Uruguayan league?","answerable":false}
JL
echo '{"input_per_1k": 0.5, "output_per_1k": 1.5}' >"$WORK/prices.json"

expect_rc 0 "$CAIRN" eval answers "$SET" --corpus "$C" --json --per-question "$WORK/pq.jsonl" --prices "$WORK/prices.json"
cp "$WORK/out" "$WORK/summary.json"
$PY - "$WORK/summary.json" "$WORK/pq.jsonl" "$SET" "$WORK" <<'PY'
import json, math, os, subprocess, sys
s = json.loads(open(sys.argv[1]).read())
rows = [json.loads(l) for l in open(sys.argv[2])]
gold = {q["id"]: q for q in map(json.loads, filter(str.strip, open(sys.argv[3])))}
work = sys.argv[4]
assert s["format"] == "jsonl" and s["documents"] == 3, s
assert s["questions"] == 4 and s["unanswerable_questions"] == 2 and len(rows) == 6, (s, len(rows))
near = lambda a, b, e=1e-4: abs(a - b) <= e
ans = [r for r in rows if r["answerable"]]
# means over answerable questions with answers, abstention scoring 0
for k in ("em", "f1", "rouge_l", "bleu"):
    name = {"em": "exact_match"}.get(k, k)
    assert near(s[name], sum(r[k] for r in ans) / len(ans)), (k, s[name])
# ROUGE-L and BLEU from the answers, by the independent reference
pairs = [["" if r["abstained"] else r["answer"], gold[r["id"]]["answers"]] for r in ans]
json.dump(pairs, open(os.path.join(work, "pairs.json"), "w"))
ref = json.loads(subprocess.check_output(["/usr/bin/python3", "tests/reference/answer_metrics.py", os.path.join(work, "pairs.json")]))
for r, rl, b in zip(ans, ref["rouge_l"], ref["bleu"]):
    assert near(r["rouge_l"], rl, 1e-9) and near(r["bleu"], b, 1e-9), (r, rl, b)
assert near(s["corpus_bleu"], ref["corpus_bleu"]), (s["corpus_bleu"], ref["corpus_bleu"])
# EM/F1 by the official SQuAD logic, max over the gold answers
flat = [[p, g] for p, gs in pairs for g in gs]
json.dump(flat, open(os.path.join(work, "sq.json"), "w"))
sq = json.loads(subprocess.check_output(["/usr/bin/python3", "tests/reference/squad_eval.py", os.path.join(work, "sq.json")]))
i = 0
for r, (p, gs) in zip(ans, pairs):
    em = max(x[1] for x in sq[i:i + len(gs)]); f1 = max(x[2] for x in sq[i:i + len(gs)]); i += len(gs)
    assert near(r["em"], em, 1e-9) and near(r["f1"], f1, 1e-9), (r, em, f1)
# the set's questions are answerable from the corpus: a sanity floor for the extractive answerer
assert s["f1"] >= 0.3 and s["rouge_l"] >= 0.3, s
print("jsonl summary: em %.4f f1 %.4f rouge_l %.4f bleu %.4f corpus_bleu %.4f cite P %.4f R %.4f abst P %.4f R %.4f" % (s["exact_match"], s["f1"], s["rouge_l"], s["bleu"], s["corpus_bleu"], s["citation_precision_gold"], s["citation_recall_gold"], s["abstention_precision"], s["abstention_recall"]))
# citation recall: mean over questions with evidence; precision over answered ones
assert near(s["citation_recall_gold"], sum(r["citation_recall"] for r in ans) / 4)
cp = [r["citation_precision"] for r in ans if "citation_precision" in r]
assert near(s["citation_precision_gold"], sum(cp) / len(cp) if cp else 0)
assert s["citation_recall_gold"] >= 0.5, s
# abstention P/R: positive = unanswerable
tp = sum(1 for r in rows if r["abstained"] and not r["answerable"])
ab = sum(1 for r in rows if r["abstained"]); un = sum(1 for r in rows if not r["answerable"])
assert near(s["abstention_precision"], tp / ab if ab else 0) and near(s["abstention_recall"], tp / un)
assert s["abstention_recall"] == 1.0, s  # nothing in the corpus answers u1, u2
# latency percentiles (nearest rank) and extractive TTFT = latency
lat = sorted(r["latency_ms"] for r in rows)
rank = lambda p: lat[max(1, math.ceil(p / 100 * len(lat) - 1e-9)) - 1]
for p in (50, 95, 99):
    assert near(s["latency_p%d_ms" % p], rank(p), 1e-3), (p, s["latency_p%d_ms" % p], lat)
assert all(r["ttft_ms"] == r["latency_ms"] for r in rows) and s["tokens"] == "estimated"
# cost from the price table
for r in rows:
    assert near(r["cost"], r["tokens_in"] / 1000 * 0.5 + r["tokens_out"] / 1000 * 1.5, 1e-9), r
assert near(s["cost_per_request"], sum(r["cost"] for r in rows) / 6, 1e-6)
assert near(s["tokens_in_mean"], sum(r["tokens_in"] for r in rows) / 6, 0.05)
# reproducibility: size and CRC-32C (Castagnoli, reflected 0x82F63B78) of the set
data = open(sys.argv[3], "rb").read()
crc = 0xFFFFFFFF
for byte in data:
    crc ^= byte
    for _ in range(8):
        crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
crc ^= 0xFFFFFFFF
rp = s["reproducibility"]
assert rp["dataset_bytes"] == len(data) and rp["dataset_crc32c"] == "%08x" % crc, (rp, "%08x" % crc)
assert rp["cairn_version"] and rp["kb"] == "built" and rp["config"]["k"] == 8, rp
PY

# the same corpus as JSON Lines records, and as an existing KB: the same answers
$PY - "$C" "$WORK/corpus.jsonl" <<'PY'
import json, os, sys
with open(sys.argv[2], "w") as f:
    for n in sorted(os.listdir(sys.argv[1])):
        t = open(os.path.join(sys.argv[1], n)).read()
        f.write(json.dumps({"doc_id": n, "title": t.splitlines()[0][2:], "text": t}) + "\n")
PY
expect_rc 0 "$CAIRN" eval answers "$SET" --corpus "$WORK/corpus.jsonl" --json
cp "$WORK/out" "$WORK/records.json"
expect_rc 0 "$CAIRN" --kb "$WORK/kb" ingest "$C"
expect_rc 0 "$CAIRN" --kb "$WORK/kb" eval answers "$SET" --json --max 4 --seed 7
cp "$WORK/out" "$WORK/kb.json"
$PY - "$WORK/summary.json" "$WORK/records.json" "$WORK/kb.json" <<'PY'
import json, sys
a, b, k = (json.loads(open(p).read()) for p in sys.argv[1:])
assert b["documents"] == 3 and b["questions"] == 4, b
assert abs(a["f1"] - b["f1"]) < 0.35, (a["f1"], b["f1"])  # the records' titles differ a little
assert k["documents"] == 3 and k["reproducibility"]["seed"] == 7 and k["reproducibility"]["kb"].endswith("kb"), k
assert k["questions"] + k["unanswerable_questions"] == 4, k
PY

# the text report names every measure
expect_rc 0 "$CAIRN" eval answers "$SET" --corpus "$C" --prices "$WORK/prices.json"
for w in "ROUGE-L" "BLEU-4" "citations vs gold" "abstention" "time to first token" "tokens per request" "cost" "reproducibility"; do
	contains "$WORK/out" "$w"
done

# a local model: tokens counted by its tokenizer, time to first token before the decoding
GPT2="${CAIRN_SHARED:-../shared}/models/vocab/ggml-vocab-gpt-2.gguf"
if [ -f "$GPT2" ] && "$PY" -c "import numpy" 2>/dev/null; then
	QWEN="$WORK/qwen.gguf"
	"$PY" tests/reference/make_decoder_gguf.py model "$QWEN" --arch qwen2 --vocab "$GPT2" --bpe-size 1000 \
		--layers 1 --hidden 64 --heads 4 --kv-heads 2 --ff 128 --ctx 2048 --seed 7 \
		--chat-template-file tests/reference/chat_templates/chatml-smollm2.jinja >/dev/null ||
		fail "make_decoder_gguf.py failed"
	expect_rc 0 "$CAIRN" eval answers "$SET" --corpus "$C" --local-model "$QWEN" --max-tokens 160 --threads 1 \
		--max 2 --json --per-question "$WORK/local.jsonl"
	$PY - "$WORK/out" "$WORK/local.jsonl" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read())
rows = [json.loads(l) for l in open(sys.argv[2])]
assert s["tokens"] == "counted" and s["reproducibility"]["config"]["mode"] == "local", s
assert len(rows) == 2
for r in rows:
    assert r["tokens_in"] > 100 and r["tokens_out"] > 0, r      # the prompt holds the passages
    assert 0 < r["ttft_ms"] < r["latency_ms"], r
PY
else
	echo "local-model part skipped: no $GPT2 or numpy"
fi

# bad input
expect_rc 1 "$CAIRN" eval answers "$SET"
contains "$WORK/err" "needs its documents"
printf '{"id":"x","question":"q?"}\n{"question": 3}\n' >"$WORK/bad.jsonl"
expect_rc 1 "$CAIRN" eval answers "$WORK/bad.jsonl" --corpus "$C"
contains "$WORK/err" "bad.jsonl:2: no \"question\" string"
printf '{"question":"q?","answers":"not a list"}\n' >"$WORK/bad2.jsonl"
expect_rc 1 "$CAIRN" eval answers "$WORK/bad2.jsonl" --corpus "$C"
contains "$WORK/err" "must be arrays"
printf 'not json\n' >"$WORK/bad3.jsonl"
expect_rc 1 "$CAIRN" eval answers "$WORK/bad3.jsonl" --corpus "$C"
contains "$WORK/err" "bad3.jsonl:1: not a JSON object"
expect_rc 1 "$CAIRN" eval answers "$SET" --corpus "$WORK/missing"
contains "$WORK/err" "no such corpus"
echo '{"input_per_1k": -1}' >"$WORK/badprice.json"
set +e; "$CAIRN" eval answers "$SET" --corpus "$C" --prices "$WORK/badprice.json" >/dev/null 2>"$WORK/err"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "bad price table accepted"
contains "$WORK/err" "input_per_1k"
echo ok
