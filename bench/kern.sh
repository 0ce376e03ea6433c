#!/bin/bash
# CPU kernel throughput (src/kern): measured F32 peak, GEMM GFLOP/s on MiniLM-encoder shapes
# for our AVX2 GEMM, OpenBLAS and cn_matmul over F32/F16/Q8_0/Q4_0/Q4_K weights at 1 and 2
# threads (with % of peak and the path cn_sgemm picks), and M = 1 matvec GB/s per type.
#
#   bench/kern.sh [--threads 1,2] [--ms 150] [--only SUBSTR]
#
# Raw JSON lines go to bench/out/kern/results.jsonl; see bench/README-kern.md.
set -eu -o pipefail
cd "$(dirname "$0")/.."
THREADS=1,2
MS=150
ONLY=
while [ $# -gt 0 ]; do
	case $1 in
	--threads) THREADS=$2; shift 2 ;;
	--ms) MS=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	*) echo "usage: bench/kern.sh [--threads 1,2] [--ms 150] [--only SUBSTR]" >&2; exit 2 ;;
	esac
done
make -s all >/dev/null
OUT=bench/out/kern
mkdir -p "$OUT"
PKGS="sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl"
cc -std=c17 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc $(pkg-config --cflags openblas) \
	bench/bench_kern.c build/libcairn.a $(pkg-config --libs $PKGS) -lstemmer -lm -lpthread -o "$OUT/bench_kern"
cc -std=c17 -O2 -D_GNU_SOURCE -mavx2 -mfma -Wall -Wextra -Werror bench/peak_flops.c -lpthread -o "$OUT/peak_flops"

: >"$OUT/results.jsonl"
declare -A PEAK
echo "== measured peak F32 (AVX2 FMA, register-resident)"
for t in ${THREADS//,/ }; do
	j=$("$OUT/peak_flops" --threads "$t")
	echo "$j" | tee -a "$OUT/results.jsonl"
	PEAK[$t]=$(echo "$j" | sed 's/.*"gflops":\([0-9.]*\).*/\1/')
done
peaks=""
for t in "${!PEAK[@]}"; do peaks="$peaks $t=${PEAK[$t]}"; done

echo
echo "== GEMM: GFLOP/s (% of measured peak at that thread count); C[M×N] = X[M×K]·Wᵀ"
args=(--threads "$THREADS" --ms "$MS")
[ -n "$ONLY" ] && args+=(--only "$ONLY")
"$OUT/bench_kern" gemm "${args[@]}" | tee -a "$OUT/results.jsonl" >"$OUT/gemm.jsonl"
/usr/bin/python3 - "$OUT/gemm.jsonl" $peaks <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
peak = {int(a.split("=")[0]): float(a.split("=")[1]) for a in sys.argv[2:]}
impls = []
for r in rows:
    if r["impl"] not in impls:
        impls.append(r["impl"])
keys = []
for r in rows:
    k = (r["K"], r["N"], r["M"], r["threads"])
    if k not in keys:
        keys.append(k)
by = {(r["K"], r["N"], r["M"], r["threads"], r["impl"]): r for r in rows}
print(f"{'K→N':>10} {'M':>5} {'thr':>3} {'auto':>8} " + " ".join(f"{i:>17}" for i in impls))
for k in keys:
    K, N, M, t = k
    cells = []
    auto = "-"
    for i in impls:
        r = by.get(k + (i,))
        if not r:
            cells.append(f"{'-':>17}")
            continue
        auto = r["auto_path"]
        pct = 100 * r["gflops"] / peak[t] if t in peak else 0
        cells.append(f"{r['gflops']:8.1f} ({pct:4.0f}%) ")
    print(f"{K:>4}→{N:<5} {M:>5} {t:>3} {auto:>8} " + " ".join(cells))
PY

echo
echo "== M = 1 (matvec, fused dequantize-dot): weight GB/s"
"$OUT/bench_kern" matvec --threads "$THREADS" --ms "$MS" | tee -a "$OUT/results.jsonl" >"$OUT/matvec.jsonl"
/usr/bin/python3 - "$OUT/matvec.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'N×K':>11} {'type':>6} {'thr':>3} {'GB/s':>7} {'GFLOP/s':>8} {'µs':>9}")
for r in rows:
    print(f"{r['N']:>5}×{r['K']:<5} {r['type']:>6} {r['threads']:>3} {r['gbps']:7.2f} {r['gflops']:8.2f} {r['us']:9.1f}")
PY
echo "raw: $OUT/results.jsonl"
