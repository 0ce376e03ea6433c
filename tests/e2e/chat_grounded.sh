#!/bin/bash
# `cairn chat` without --model: a grounded conversation over a small knowledge base written
# here. A follow-up ("How long does it take?") is answered from the right document only
# because it is rewritten with the previous turn's topic: asked bare through `cairn ask`, the
# same words cite another document. Also: the human output (the standalone query, [n] markers,
# sources), one JSON object a line with the "conversation" section, /reset, the budget's
# counts, usage errors, and a generative conversation against the mock OpenAI-compatible
# server (tests/reference/mock_openai.py): the model is sent the standalone query.
source "$(dirname "$0")/lib.bash"
set -e
KB="$WORK/kb"
mkdir -p "$WORK/docs"
cat >"$WORK/docs/leave.md" <<'MD'
# Leave policy

Leave requests are approved by the line manager. A leave request is answered within five
working days. Unused leave expires at the end of March.
MD
cat >"$WORK/docs/laptops.md" <<'MD'
# Laptops

How long does it take to get a laptop? Laptops take two weeks to arrive. Repairs take three
days. It can take longer in December.
MD
cat >"$WORK/docs/budget.md" <<'MD'
# Budget

The salary budget for 2025 is 4.2 million euros. The salary budget for 2026 is 4.6 million
euros. The travel budget is fixed by the board.
MD

expect_rc 1 "$CAIRN" --kb "$KB" chat </dev/null            # no knowledge base yet
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$WORK/docs" -q
expect_rc 2 "$CAIRN" --kb "$KB" chat --bogus </dev/null
expect_rc 2 "$CAIRN" --kb "$KB" chat --llm-model x </dev/null  # needs --endpoint
expect_rc 2 "$CAIRN" --kb "$KB" chat --budget-tokens 0 </dev/null
expect_rc 2 "$CAIRN" --kb "$KB" chat --min-confidence 3 </dev/null
expect_rc 0 "$CAIRN" --kb "$KB" chat </dev/null             # EOF at once: nothing, exit 0
[ ! -s "$WORK/out" ] || fail "output without a question"

# the bare follow-up, asked alone, cites the laptop page
expect_rc 0 "$CAIRN" --kb "$KB" ask "How long does it take?" --json --min-confidence 0
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
docs = {c["source"].rsplit("/", 1)[-1] for c in r["citations"]}
assert r["citations"] and "laptops.md" in docs and "leave.md" not in docs, docs
PY

# in a conversation, it is about leave requests
printf 'Who approves leave requests?\nHow long does it take?\n' |
	expect_rc 0 "$CAIRN" --kb "$KB" chat --json --min-confidence 0
$PY - "$WORK/out" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, lines
t1, t2 = (json.loads(l) for l in lines)
for t in (t1, t2):
    assert {"question", "mode", "answer", "citations", "sentences", "conversation"} <= set(t), sorted(t)
    assert not t["abstained"]
c1, c2 = t1["conversation"], t2["conversation"]
assert c1["rewritten"] is False and c1["standalone_query"] == "Who approves leave requests?", c1
assert c1["turns_verbatim"] == 0 and c1["turns_dropped"] == 0
assert c2["question"] == "How long does it take?" and c2["rewritten"] is True, c2
assert c2["rewrite_reason"] == "pronoun", c2
q = c2["standalone_query"].lower()
assert "leave" in q and "request" in q and "approve" in q and " it " not in q, q
assert c2["turns_verbatim"] == 1 and c2["turns_summarized"] == 0 and c2["turns_dropped"] == 0, c2
assert t2["question"] == c2["standalone_query"]
cited = {s_id for s in t2["sentences"] for s_id in s["citations"]}
by_id = {c["id"]: c for c in t2["citations"]}
assert cited and all(by_id[i]["source"].endswith("leave.md") for i in cited), t2["citations"]
assert any("five" in by_id[i]["quote"] for i in cited)
PY

# the year follow-up keeps "salary budget"; human output shows what was asked
printf 'What is the salary budget for 2025?\nWhat about 2026?\n' |
	expect_rc 0 "$CAIRN" --kb "$KB" chat --min-confidence 0
contains "$WORK/out" "(asked as: What is the salary budget for 2026?)"
contains "$WORK/out" "4.6"
contains "$WORK/out" "Sources:"
contains "$WORK/out" "[1] Budget"
grep -q "4.2" "$WORK/out" || fail "the first answer (4.2)"

# /reset: the follow-up has nothing to refer to any more and is asked as it is
printf 'Who approves leave requests?\n/reset\nHow long does it take?\n' |
	expect_rc 0 "$CAIRN" --kb "$KB" chat --json --min-confidence 0
contains "$WORK/err" "conversation reset"
$PY - "$WORK/out" <<'PY'
import json, sys
t = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert len(t) == 2
c = t[1]["conversation"]
assert c["rewritten"] is False and c["turns_verbatim"] == 0 and c["standalone_query"] == "How long does it take?", c
PY

# the budget: a long conversation keeps the newest turns verbatim, summarizes, drops
for i in 1 2 3 4 5 6 7 8; do echo "Who approves leave requests?"; done |
	expect_rc 0 "$CAIRN" --kb "$KB" chat --json --min-confidence 0 --budget-tokens 120 --verbatim-turns 2 --explain
$PY - "$WORK/out" <<'PY'
import json, sys
t = [json.loads(l)["conversation"] for l in open(sys.argv[1]).read().splitlines()]
assert len(t) == 8
for i, c in enumerate(t):
    assert c["turns_verbatim"] + c["turns_summarized"] + c["turns_dropped"] == i, (i, c)
    assert c["history_tokens"] <= c["budget_tokens"] == 120, c
    assert c["turns_verbatim"] <= 2
last = t[-1]
assert last["turns_verbatim"] == 2 and last["turns_summarized"] >= 1 and last["turns_dropped"] >= 1, last
assert "Earlier, the user asked:" in last["history"] and "User: " in last["history"], last["history"]
PY
# --explain in text: the conversation stage before the answer's
printf 'Who approves leave requests?\nHow long does it take?\n' |
	expect_rc 0 "$CAIRN" --kb "$KB" chat --explain --min-confidence 0
contains "$WORK/out" "0. conversation"
contains "$WORK/out" "rewritten         pronoun \"it\""
contains "$WORK/out" "1 verbatim, 0 summarized, 0 dropped"
contains "$WORK/out" "1. question"

# generative: each turn goes to the endpoint with the standalone query
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
"$PY" tests/reference/mock_openai.py >"$WORK/port" 2>"$WORK/mock.err" &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$WORK/port")
[ -n "$PORT" ] || { cat "$WORK/mock.err"; fail "the mock server did not start"; }
URL="http://127.0.0.1:$PORT"
printf 'Who approves leave requests?\nHow long does it take?\n' |
	expect_rc 0 "$CAIRN" --kb "$KB" chat --json --endpoint "$URL" --llm-model grounded --min-confidence 0
$PY - "$WORK/out" "$URL" <<'PY'
import json, sys, urllib.request as u
t = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert len(t) == 2 and all(x["mode"] == "generative" for x in t), t
assert t[1]["conversation"]["rewritten"] is True
last = json.load(u.urlopen(sys.argv[2] + "/stats"))["last"]
user = next(m["content"] for m in last["messages"] if m["role"] == "user")
assert "How long does approves leave requests take?" in user, user[-300:]
PY
# an endpoint that fails: the turn is reported, the conversation goes on, exit 1
printf 'Who approves leave requests?\nWhat is the salary budget for 2025?\n' |
	expect_rc 1 "$CAIRN" --kb "$KB" chat --json --endpoint "$URL" --llm-model unauthorized --min-confidence 0
contains "$WORK/err" "endpoint $URL"
[ "$(grep -c ': chat: ' "$WORK/err")" -eq 2 ] || fail "both turns reported: $(cat "$WORK/err")"
echo ok
