#!/bin/bash
# Ingest while serving: searches, answers and chat completions from several client threads
# keep succeeding while an admin adds and deletes documents through POST/DELETE
# /v1/documents; each added document is searchable as soon as its 201 arrives, and a
# principal of another group never sees it; the document count moves by exactly what was
# added; the server shuts down cleanly afterwards.
source "$(dirname "$0")/lib.bash"
set -e
[ -n "${TRACE:-}" ] && set -x
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
[ -x "$PY" ] || skip "no /usr/bin/python3: serve ingest test skipped"
KB="$WORK/kb"
expect_rc 0 "$CAIRN" --kb "$KB" ingest docs/search.md docs/answers.md docs/ingest.md -q
expect_rc 0 "$CAIRN" --kb "$KB" principal add root --perms admin
expect_rc 0 "$CAIRN" --kb "$KB" principal add ann --groups ops
expect_rc 0 "$CAIRN" --kb "$KB" principal add ben --groups sales
for p in root ann ben; do
	expect_rc 0 "$CAIRN" --kb "$KB" principal key $p
	head -1 "$WORK/out" >"$WORK/key.$p"
done
P=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$CAIRN" --kb "$KB" serve --listen "127.0.0.1:$P" --threads 4 --rate 0 2>"$WORK/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
	$PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$P/healthz', timeout=2)" 2>/dev/null && break
	sleep 0.1
done
$PY - "http://127.0.0.1:$P" "$WORK" <<'PYEOF' || { tail -20 "$WORK/server.log"; fail "ingest while serving"; }
import json, sys, threading, time, urllib.request, urllib.error, urllib.parse
URL, W = sys.argv[1], sys.argv[2]
KEY = {p: open(f"{W}/key.{p}").read().strip() for p in ("root", "ann", "ben")}
def call(method, path, key, body=None):
    r = urllib.request.Request(URL + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                               headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=60) as resp: return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e: return e.code, json.loads(e.read() or b"null")
stop = False
bad = []
counts = {"search": 0, "answer": 0, "chat": 0}
def reader(kind, who):
    while not stop:
        if kind == "search":
            st, j = call("POST", "/v1/search", KEY[who], {"query": "chunk filter", "k": 5})
        elif kind == "answer":
            st, j = call("POST", "/v1/answer", KEY[who], {"question": "how are documents split into chunks"})
        else:
            st, j = call("POST", "/v1/chat/completions", KEY[who], {"messages": [{"role": "user", "content": "what does a filter do"}]})
        if st != 200: bad.append((kind, st, j))
        counts[kind] += 1
threads = [threading.Thread(target=reader, args=(k, w)) for k, w in
           [("search", "ann"), ("search", "ben"), ("search", "root"), ("answer", "ann"), ("chat", "ben"), ("search", "ann")]]
for t in threads: t.start()
st, j = call("GET", "/readyz", KEY["root"]); before = j["documents"]
N = 20
for i in range(N):
    word = "zorblax%d" % i
    st, j = call("POST", "/v1/documents", KEY["root"], {"doc_id": f"live/{i}.txt", "text": f"The {word} procedure is reviewed by the ops team every quarter.", "groups": ["ops"]})
    if st != 201: bad.append(("ingest", st, j)); continue
    st, j = call("POST", "/v1/search", KEY["ann"], {"query": word})
    if st != 200 or [r["doc_id"] for r in j["results"]] != [f"live/{i}.txt"]: bad.append(("visible", i, st, j))
    st, j = call("POST", "/v1/search", KEY["ben"], {"query": word})
    if st != 200 or j["results"]: bad.append(("hidden", i, st, j))
    if i % 5 == 4:
        st, j = call("DELETE", f"/v1/documents/live%2F{i - 1}.txt", KEY["root"])
        if st != 200: bad.append(("delete", st, j))
time.sleep(0.5)
stop = True
for t in threads: t.join()
st, j = call("GET", "/readyz", KEY["root"])
after = j["documents"]
if after - before != N - N // 5: bad.append(("count", before, after))
print("reads:", counts, "problems:", len(bad), bad[:3], file=sys.stderr)
assert not bad and counts["search"] > 20 and counts["answer"] > 0 and counts["chat"] > 0
PYEOF
kill -TERM $SRV
set +e; wait $SRV; rc=$?; set -e
[ "$rc" -eq 0 ] || { tail -20 "$WORK/server.log"; fail "the server exited $rc"; }
echo ok
