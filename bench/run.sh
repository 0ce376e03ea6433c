#!/usr/bin/env bash
# bench/run.sh — BM25 index build and query latency of cairn against SQLite FTS5 and Xapian,
# on the same corpora and queries, in one run, printed as ratios (see bench/README.md).
#
#   bench/run.sh [--sizes 10000,100000[,1000000]] [--no-scifact] [--xapian-max N]
#                [--engines cairn,cairn-1t,fts5,xapian] [--out DIR]
#
# Each engine runs in its own process (so its peak RSS is its own), one after the other
# (never concurrently: the machine has few cores), builds its index from scratch in a fresh
# directory and prints one JSON line. bench/report.py turns the lines into the tables.
# Synthetic Zipf corpora are generated once per size (fixed seed) and cached in OUT/data.
set -euo pipefail

cd "$(dirname "$0")/.."
SIZES=10000,100000
SCIFACT=1
XAPIAN_MAX=100000
ENGINES=cairn,cairn-1t,fts5,xapian # cairn-1t: cairn with CAIRN_THREADS=1 (single-threaded ingest)
OUT=bench/out
while [ $# -gt 0 ]; do
	case "$1" in
	--sizes) SIZES=$2; shift 2 ;;
	--no-scifact) SCIFACT=0; shift ;;
	--xapian-max) XAPIAN_MAX=$2; shift 2 ;;
	--engines) ENGINES=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h|--help) sed -n 2,10p "$0"; exit 0 ;;
	*) echo "bench/run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

PY=/usr/bin/python3 # Debian's python: it has numpy and the xapian module
"$PY" -c 'import xapian, numpy' 2>/dev/null || {
	echo "bench/run.sh: $PY lacks xapian or numpy (apt-get install python3-xapian python3-numpy)" >&2; exit 1; }

mkdir -p "$OUT/bin" "$OUT/data" "$OUT/work" "$OUT/top10"

# Build the library (a no-op when `make bench` already did) and the two C drivers.
make -s build/libcairn.a
CFLAGS="-O2 -g -std=c17 -Wall -Wextra -Werror -Wshadow -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -Iinclude"
LIBS="$(pkg-config --libs sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl) -lstemmer -lm -lpthread"
# shellcheck disable=SC2086
cc $CFLAGS bench/bench_cairn.c -o "$OUT/bin/bench_cairn" build/libcairn.a $LIBS
# shellcheck disable=SC2086
cc $CFLAGS bench/bench_fts5.c -o "$OUT/bin/bench_fts5" $LIBS

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS="$OUT/results-$STAMP.jsonl"
: >"$RESULTS"

want() { case ",$ENGINES," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

run_engines() { # name corpus queries ndocs
	local name=$1 corpus=$2 queries=$3 ndocs=$4
	local work="$OUT/work/$name"
	if want cairn; then
		echo "== $name: cairn" >&2
		"$OUT/bin/bench_cairn" "$corpus" "$queries" "$work" "$name" "$OUT/top10/$name.cairn.tsv" | tee -a "$RESULTS" >&2
		rm -rf "$work"
	fi
	if want cairn-1t; then
		echo "== $name: cairn-1t (CAIRN_THREADS=1)" >&2
		CAIRN_THREADS=1 "$OUT/bin/bench_cairn" "$corpus" "$queries" "$work" "$name" | tee -a "$RESULTS" >&2
		rm -rf "$work"
	fi
	if want fts5; then
		echo "== $name: fts5" >&2
		"$OUT/bin/bench_fts5" "$corpus" "$queries" "$work" "$name" "$OUT/top10/$name.fts5.tsv" | tee -a "$RESULTS" >&2
		rm -rf "$work"
	fi
	if want xapian && [ "$ndocs" -le "$XAPIAN_MAX" ]; then
		echo "== $name: xapian" >&2
		"$PY" bench/bench_xapian.py "$corpus" "$queries" "$work" "$name" "$OUT/top10/$name.xapian.tsv" | tee -a "$RESULTS" >&2
		rm -rf "$work"
	elif want xapian; then
		echo "== $name: xapian skipped ($ndocs documents > --xapian-max $XAPIAN_MAX)" >&2
	fi
}

if [ "$SCIFACT" = 1 ]; then
	SF=../shared/data/scifact-beir
	if [ -f "$SF/corpus.jsonl" ] && [ -f "$SF/qrels/test.tsv" ]; then
		# The 300 judged test queries: _id and text only (never metadata).
		"$PY" - "$SF" "$OUT/data/scifact-queries.jsonl" <<'EOF'
import json, sys
sf, out = sys.argv[1], sys.argv[2]
ids = {l.split("\t")[0] for l in open(sf + "/qrels/test.tsv") if l.strip() and not l.startswith("query-id")}
with open(out, "w") as f:
    for l in open(sf + "/queries.jsonl"):
        o = json.loads(l)
        if o["_id"] in ids:
            f.write(json.dumps({"_id": o["_id"], "text": o["text"]}) + "\n")
EOF
		run_engines scifact "$SF/corpus.jsonl" "$OUT/data/scifact-queries.jsonl" 5183
	else
		echo "bench/run.sh: $SF not found; skipping SciFact" >&2
	fi
fi

for n in ${SIZES//,/ }; do
	c="$OUT/data/zipf-$n.jsonl"
	q="$OUT/data/zipf-$n.queries.jsonl"
	if [ ! -s "$c" ] || [ ! -s "$q" ]; then
		echo "== generating $c" >&2
		"$PY" bench/gen_zipf.py --docs "$n" --corpus "$c.tmp" --queries "$q"
		mv "$c.tmp" "$c"
	fi
	run_engines "zipf-$n" "$c" "$q" "$n"
done

"$PY" bench/report.py "$RESULTS" "$OUT/top10" | tee "$OUT/report-$STAMP.txt"
cp "$RESULTS" "$OUT/results.jsonl"
cp "$OUT/report-$STAMP.txt" "$OUT/report.txt"
echo "raw results: $RESULTS; table: $OUT/report-$STAMP.txt" >&2
