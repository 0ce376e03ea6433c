#!/bin/bash
# A client nobody here wrote: the official OpenAI Node SDK (npm package `openai`, pinned in
# tests/node/package-lock.json) against `cairn serve` — chat completions plain and streamed,
# embeddings with a tiny generated embedding model, model listing, a bad key. The package
# is installed once into tests/node/node_modules (ignored by git); without node, npm or the
# registry the test skips with the reason.
source "$(dirname "$0")/lib.bash"
set -e
[ -n "${TRACE:-}" ] && set -x
ROOT=$PWD
command -v node >/dev/null || skip "no node: OpenAI SDK test skipped"
command -v npm >/dev/null || skip "no npm: OpenAI SDK test skipped"
[ -x "$PY" ] || skip "no /usr/bin/python3: OpenAI SDK test skipped"
S=${CAIRN_SHARED:-../shared}
VOCAB=$S/models/vocab/ggml-vocab-bert-bge.gguf
[ -f "$VOCAB" ] || skip "no $VOCAB (for the embedding model): OpenAI SDK test skipped"
$PY -c 'import numpy' 2>/dev/null || skip "no numpy for /usr/bin/python3: OpenAI SDK test skipped"
if [ ! -f tests/node/node_modules/openai/package.json ]; then
	(cd tests/node && timeout 300 npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1) ||
		skip "npm ci of the openai package failed (no registry?): $(tail -1 "$WORK/npm.log")"
fi

$PY tests/reference/make_encoder_gguf.py model "$WORK/tiny-embed.gguf" --vocab "$VOCAB" --type F32 \
	--layers 2 --hidden 64 --heads 4 --ff 256 --ctx 256 >/dev/null
KB="$WORK/kb"
mkdir -p "$WORK/eng"
cat >"$WORK/eng/reactor.md" <<'X'
# Reactor notes

The plutoniumwombat reactor runs at 340 degrees during the night shift. Its cooling loop is inspected weekly.
X
expect_rc 0 "$CAIRN" --kb "$KB" ingest docs/search.md docs/answers.md -q --embed-model "$WORK/tiny-embed.gguf"
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$WORK/eng" --acl eng -q
expect_rc 0 "$CAIRN" --kb "$KB" principal add bob --groups eng
expect_rc 0 "$CAIRN" --kb "$KB" principal key bob
KEY=$(head -1 "$WORK/out")

P=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$CAIRN" --kb "$KB" serve --listen "127.0.0.1:$P" --threads 2 2>"$WORK/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
	$PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$P/healthz', timeout=2)" 2>/dev/null && break
	sleep 0.1
done
DIM=64 # --hidden above
CAIRN_URL="http://127.0.0.1:$P" CAIRN_KEY="$KEY" CAIRN_EMBED_NAME=tiny-embed CAIRN_EMBED_DIM="$DIM" \
	node tests/node/openai_sdk.mjs || { tail -20 "$WORK/server.log"; fail "the OpenAI SDK checks failed"; }
kill -TERM $SRV
set +e; wait $SRV; rc=$?; set -e
[ "$rc" -eq 0 ] || { tail -20 "$WORK/server.log"; fail "the server exited $rc"; }
grep -q "$KEY" "$WORK/server.log" && fail "the API key appears in the server log"
echo ok
