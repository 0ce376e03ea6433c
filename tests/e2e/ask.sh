#!/bin/bash
# `cairn ask` and `cairn eval answers` end to end on the repository's docs/: the human output
# (answer with [n], numbered sources), the JSON schema of docs/answers.md (citation ids
# resolve, quotes are in the cited file's bytes), --explain's stages, abstention, usage errors.
source "$(dirname "$0")/lib.bash"
set -e
KB="$WORK/kb"
expect_rc 2 "$CAIRN" --kb "$KB" ask                        # no question
expect_rc 2 "$CAIRN" --kb "$KB" ask "a" "b"
expect_rc 2 "$CAIRN" --kb "$KB" ask "x" --min-confidence 2
expect_rc 1 "$CAIRN" --kb "$KB" ask "anything"             # no KB yet
expect_rc 0 "$CAIRN" --kb "$KB" ingest docs -q

# (the confidence depends on how many pages of the guide discuss chunk sizes, which changes
# as the guide grows: the answer span is what is checked, with abstention off)
expect_rc 0 "$CAIRN" --kb "$KB" ask "what is the default chunk size" --min-confidence 0
grep -qE "^512( tokens)? \[1\]" "$WORK/out" || { cat "$WORK/out"; fail "the span 512 with its citation"; }
contains "$WORK/out" "Sources:"
contains "$WORK/out" "[1] "

# JSON: the schema, ids resolve, each quote lies in the cited file inside [start, end)
for q in "what is the default chunk size" "what happens if the process is killed during ingest" \
         "how do I hide restricted documents from people outside a group"; do
	expect_rc 0 "$CAIRN" --kb "$KB" ask "$q" --json --min-confidence 0
	$PY - "$WORK/out" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
assert set(r) == {"question", "mode", "answer", "answer_type", "abstained", "confidence", "sentences", "citations",
                  "verification", "guard", "took_ms"}, sorted(r)
assert r["mode"] == "extractive" and r["abstained"] is False and 0 <= r["confidence"] <= 1
assert r["sentences"] and len(r["sentences"]) <= 3
ids = {c["id"] for c in r["citations"]}
assert ids == set(range(1, len(r["citations"]) + 1))
for s in r["sentences"]:
    assert isinstance(s["text"], str) and s["text"] and s["supported"] is True
    assert s["citations"] and all(i in ids for i in s["citations"])
for c in r["citations"]:
    assert set(c) == {"id", "doc_id", "chunk_id", "title", "source", "heading", "start", "end", "quote",
                      "quote_offset", "rank", "score"}, sorted(c)
    data = open(c["source"], "rb").read()
    assert 0 <= c["start"] < c["end"] <= len(data), (c["start"], c["end"], len(data))
    # Markdown is rendered to text: the quote's words appear in order inside the cited bytes
    span = data[c["start"]:c["end"]].decode("utf-8", "replace")
    # (word characters only: rendering drops Markdown's backticks, asterisks and pipes)
    words = re.findall(r"\w+", c["quote"])
    pos = 0
    for w in words:
        if not w:
            continue
        k = span.find(w, pos)
        assert k >= 0, (w, c["quote"], c["source"])
        pos = k + len(w)
    sentence_texts = [s["text"] for s in r["sentences"]]
    assert any(t in c["quote"] or c["quote"] in t for t in sentence_texts)
assert r["verification"]["support_rate"] == 1 and r["verification"]["citation_precision"] == 1
PY
done

# --explain: the stages, in text and in JSON
expect_rc 0 "$CAIRN" --kb "$KB" ask "what is the default chunk size" --explain -k 12 --context-tokens 600 --min-confidence 0
for stage in "1. question" "2. retrieval and context" "cut: over the budget" "3. candidate sentences" \
             "4. raw answer" "5. confidence" "6. verifier" "supported"; do
	contains "$WORK/out" "$stage"
done
expect_rc 0 "$CAIRN" --kb "$KB" ask "what is the default chunk size" --json --explain -k 12 --context-tokens 600 --min-confidence 0
$PY - "$WORK/out" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["explain"]
assert len(e["retrieved"]) == 12
assert any(not x["in_context"] and x["cut"] for x in e["retrieved"])   # the budget cut something
assert all(x["in_context"] for x in e["retrieved"][:1])
assert e["candidates"] and e["terms"] and e["verifier"] and e["raw_answer"]
PY

# abstention: nothing in docs/ about this
expect_rc 0 "$CAIRN" --kb "$KB" ask "what is the boiling point of mercury"
contains "$WORK/out" "The documents do not say"
expect_rc 0 "$CAIRN" --kb "$KB" ask "what is the boiling point of mercury" --json
$PY -c "import json; r=json.load(open('$WORK/out')); assert r['abstained'] is True and r['sentences'] == [], r"

# filters and groups pass through to retrieval
expect_rc 0 "$CAIRN" --kb "$KB" ask "what is the default chunk size" --json --filter 'doc="docs/cli.md"' --min-confidence 0
$PY -c "import json; r=json.load(open('$WORK/out')); assert all(c['doc_id']=='docs/cli.md' for c in r['citations']), r"
expect_rc 1 "$CAIRN" --kb "$KB" ask "x" --filter 'team=('

# eval answers: usage and a bad dataset
expect_rc 2 "$CAIRN" eval answers
expect_rc 1 "$CAIRN" eval answers "$WORK"
contains "$WORK/err" "SciFact"
echo ok
