#!/usr/bin/env bash
# bench/vec.sh — cairn's vector index (src/vec) against hnswlib on the same synthetic
# embeddings, same M and efConstruction, printed side by side (tables: bench/vec_report.py).
#
#   bench/vec.sh [--n 100000] [--nq 1000] [--reps 3] [--no-threads] [--no-filters] [--search-only] [--out DIR]
#
# --search-only repeats the search passes on the indexes a previous run left in OUT/vec/work
# (timing on shared machines is noisy: the report keeps the best of all runs' results files,
# OUT/vec/results-*.jsonl, per engine and efSearch).
#
# Steps: generate the data once (bench/gen_vectors.py, fixed seed; ground truth by faiss
# IndexFlatIP, filtered ground truth by numpy), then one process per measurement, one after
# the other: cairn F32 build (1 thread, then 2), cairn INT8 build, hnswlib build (1 thread,
# then 2), then the searches (single-threaded, best of --reps passes per efSearch), the
# filtered searches, and bench/vec_report.py for the tables and the goal verdicts.
set -euo pipefail
cd "$(dirname "$0")/.."
N=100000 NQ=1000 REPS=3 THREADS=1 FILTERS=1 SEARCH_ONLY=0 OUT=bench/out
while [ $# -gt 0 ]; do
	case "$1" in
	--n) N=$2; shift 2 ;;
	--nq) NQ=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--no-threads) THREADS=0; shift ;;
	--no-filters) FILTERS=0; shift ;;
	--search-only) SEARCH_ONLY=1; shift ;;
	--out) OUT=$2; shift 2 ;;
	-h|--help) sed -n 2,16p "$0"; exit 0 ;;
	*) echo "bench/vec.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
PY=/usr/bin/python3
"$PY" -c 'import numpy, hnswlib, faiss' 2>/dev/null || {
	echo "bench/vec.sh: $PY lacks numpy, hnswlib or faiss (apt-get install python3-numpy python3-hnswlib python3-faiss)" >&2; exit 1; }

mkdir -p "$OUT/bin" "$OUT/vec"
make -s build/libcairn.a
CFLAGS="-O2 -g -std=c17 -Wall -Wextra -Werror -Wshadow -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -Iinclude -Isrc"
LIBS="$(pkg-config --libs sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl) -lstemmer -lm -lpthread"
# shellcheck disable=SC2086
cc $CFLAGS bench/bench_vec.c -o "$OUT/bin/bench_vec" build/libcairn.a $LIBS

DATA="$OUT/vec/data-$N-$NQ"
if [ ! -f "$DATA/meta.json" ]; then
	echo "== generating $N + $NQ vectors into $DATA" >&2
	"$PY" bench/gen_vectors.py "$DATA" --n "$N" --nq "$NQ"
fi
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$OUT/vec/results-$STAMP.jsonl"
: >"$RES"
SEG="$OUT/vec/work"
mkdir -p "$SEG"
run() { echo "== $*" >&2; "$@" | tee -a "$RES" >&2; }

if [ "$SEARCH_ONLY" = 0 ] || [ ! -f "$SEG/f32.vec" ] || [ ! -f "$SEG/int8.vec" ] || [ ! -f "$SEG/hnsw.idx" ]; then
	rm -f "$SEG/f32.vec" "$SEG/int8.vec" "$SEG/hnsw.idx"
	run "$OUT/bin/bench_vec" build "$DATA" "$SEG/f32.vec" --storage f32 --threads 1
	run "$OUT/bin/bench_vec" build "$DATA" "$SEG/int8.vec" --storage int8 --threads 1
	run "$PY" bench/bench_hnswlib.py "$DATA" --threads 1 --no-search --index "$SEG/hnsw.idx"
	if [ "$THREADS" = 1 ]; then
		run "$OUT/bin/bench_vec" build "$DATA" "$SEG/f32-2t.vec" --storage f32 --threads 2
		rm -f "$SEG/f32-2t.vec"
		run "$PY" bench/bench_hnswlib.py "$DATA" --threads 2 --no-search
	fi
fi
# searches: the three engines alternate, so a burst of load on the shared machine hits all
FARGS=()
[ "$FILTERS" = 1 ] && FARGS=(--filters --filter-efs 32,64)
run "$OUT/bin/bench_vec" search "$DATA" "$SEG/f32.vec" --reps "$REPS"
run "$PY" bench/bench_hnswlib.py "$DATA" --reps "$REPS" --index "$SEG/hnsw.idx"
run "$OUT/bin/bench_vec" search "$DATA" "$SEG/int8.vec" --reps "$REPS"
if [ "$FILTERS" = 1 ]; then
	run "$OUT/bin/bench_vec" search "$DATA" "$SEG/f32.vec" --reps 1 --efs 64 "${FARGS[@]}"
	run "$OUT/bin/bench_vec" search "$DATA" "$SEG/int8.vec" --reps 1 --efs 64 "${FARGS[@]}"
fi
cp "$RES" "$OUT/vec/results.jsonl"
"$PY" bench/vec_report.py "$OUT"/vec/results-*.jsonl | tee "$OUT/vec/report-$STAMP.txt"
cp "$OUT/vec/report-$STAMP.txt" "$OUT/vec/report.txt"
