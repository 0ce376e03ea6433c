#!/bin/bash
# The web page of `cairn serve` in headless Chromium with playwright-core (tests/node): ask a
# question on a small corpus, the answer streams in, a citation opens the quoted passage;
# search results open; a wrong key shows the error; the page requests nothing outside the
# server. Skips without chromium, node or the npm packages. WEBPAGE_SCREENSHOT=FILE keeps a
# screenshot (docs/.assets/server-page.png was made so; a dot-directory, since ingesting docs/ must skip nothing).
source "$(dirname "$0")/lib.bash"
set -e
[ -n "${TRACE:-}" ] && set -x
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || skip "no chromium: web page test skipped"
command -v node >/dev/null || skip "no node: web page test skipped"
command -v npm >/dev/null || skip "no npm: web page test skipped"
[ -x "$PY" ] || skip "no /usr/bin/python3: web page test skipped"
if [ ! -f tests/node/node_modules/playwright-core/package.json ] || [ ! -f tests/node/node_modules/openai/package.json ]; then
	(cd tests/node && timeout 300 npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) ||
		skip "npm ci in tests/node failed (no registry?): $(tail -1 "$WORK/npm.log")"
fi
mkdir -p "$WORK/handbook"
cat >"$WORK/handbook/travel.md" <<'X'
# Travel expenses

Hotel costs are reimbursed up to 180 euros per night in capital cities. Second-class train travel is the default for journeys under 4 hours.

## Claims

Claims are filed in the expenses portal within 30 days of the trip.
X
cp docs/search.md "$WORK/handbook/"
KB="$WORK/kb"
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$WORK/handbook" -q
expect_rc 0 "$CAIRN" --kb "$KB" principal add carol
expect_rc 0 "$CAIRN" --kb "$KB" principal key carol
KEY=$(head -1 "$WORK/out")
P=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$CAIRN" --kb "$KB" serve --listen "127.0.0.1:$P" --threads 2 2>"$WORK/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
	$PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$P/healthz', timeout=2)" 2>/dev/null && break
	sleep 0.1
done
CHROMIUM="$CHROMIUM" CAIRN_URL="http://127.0.0.1:$P" CAIRN_KEY="$KEY" \
	CAIRN_QUESTION="how much is reimbursed per night for hotels in capital cities" CAIRN_EXPECT="180 euros" \
	CAIRN_SCREENSHOT="${WEBPAGE_SCREENSHOT:-}" timeout 120 node tests/node/webpage.mjs ||
	{ tail -20 "$WORK/server.log"; fail "the web page checks failed"; }
kill -TERM $SRV
set +e; wait $SRV; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "the server exited $rc"
echo ok
