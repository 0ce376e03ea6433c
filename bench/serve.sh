#!/bin/bash
# HTTP load on `cairn serve` (apps/server) with wrk: the search and answer routes at 64 and 256
# connections, authenticated with a principal's API key, on a knowledge base of this
# repository's docs/. Reports requests per second, p50/p99 latency, non-2xx responses and
# socket errors per run, and the server's resident memory before and after each run (a leak
# or unbounded growth shows as a rising RSS).
#
#   bench/serve.sh [--duration SECONDS] [--conns 64,256] [--threads N]
#
# wrk is a Debian package (apt-get install wrk). JSON lines go to bench/out/serve/results.jsonl.
set -eu
cd "$(dirname "$0")/.."
DURATION=60
CONNS=64,256
THREADS=4
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift 2 ;;
	--conns) CONNS=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	*) echo "usage: bench/serve.sh [--duration SECONDS] [--conns 64,256] [--threads N]" >&2; exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "bench/serve.sh needs wrk (apt-get install wrk)"; exit 1; }
make -s all >/dev/null
CAIRN=$PWD/build/cairn
OUT=bench/out/serve
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/cairn-bench-serve-XXXXXX)
trap 'kill $SRV 2>/dev/null; rm -rf "$WORK"' EXIT
KB=$WORK/kb
"$CAIRN" --kb "$KB" ingest docs/ -q
"$CAIRN" --kb "$KB" principal add bench --groups staff >/dev/null
KEY=$("$CAIRN" --kb "$KB" principal key bench)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
# Connection limits sized for the run: the point is the engine under load, not refusals.
"$CAIRN" --kb "$KB" serve --listen "127.0.0.1:$PORT" --threads "$THREADS" --max-connections 1024 \
	--per-ip 0 --rate 1000000/s --burst 1000000 2>"$WORK/server.log" &
SRV=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$SRV/status"; }
# One Lua script per route: POST a JSON body with the key, cycling through a few questions.
for route in search answer; do
	cat >"$WORK/$route.lua" <<LUA
local qs = {"how are documents chunked", "what BM25 parameters does cairn use",
            "how do access groups work", "what happens if the process is killed during ingest",
            "which stemmer does a new knowledge base use"}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
request = function()
  i = i % #qs + 1
  local body
  if "$route" == "search" then
    body = '{"query":"' .. qs[i] .. '","k":10}'
  else
    body = '{"question":"' .. qs[i] .. '"}'
  end
  return wrk.format(nil, "/v1/$route", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d %.1f %.1f %.1f\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, summary.bytes, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6)))
end
LUA
done
echo "route   conns  req/s    p50 ms  p99 ms  non-2xx  socket-err  RSS before → after (MB)"
IFS=, read -ra CL <<<"$CONNS"
for route in search answer; do
	for c in "${CL[@]}"; do
		before=$(rss)
		res=$(wrk -t2 -c"$c" -d"${DURATION}s" --timeout 30s -s "$WORK/$route.lua" "http://127.0.0.1:$PORT" | grep '^RESULT')
		after=$(rss)
		read -r _ n non2xx sockerr _ _ p50 p99 rps <<<"$res"
		printf "%-7s %5d  %7.0f  %6.1f  %6.1f  %7d  %10d  %.1f → %.1f\n" "$route" "$c" "$rps" "$p50" "$p99" \
			"$non2xx" "$sockerr" "$(echo "$before / 1024" | bc -l)" "$(echo "$after / 1024" | bc -l)"
		printf '{"route":"%s","connections":%d,"duration_s":%d,"requests":%d,"rps":%.1f,"p50_ms":%.1f,"p99_ms":%.1f,"non_2xx":%d,"socket_errors":%d,"rss_kb_before":%d,"rss_kb_after":%d,"server_threads":%d}\n' \
			"$route" "$c" "$DURATION" "$n" "$rps" "$p50" "$p99" "$non2xx" "$sockerr" "$before" "$after" "$THREADS" \
			>>"$OUT/results.jsonl"
	done
done
kill -TERM $SRV
wait $SRV && echo "server exited cleanly after the runs"
