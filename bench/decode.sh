#!/bin/bash
# Decoder speed (src/model/decoder*.c): a Qwen2-shaped model of ~0.57B parameters (hidden
# 1024 — Qwen2-0.5B's 896 is not a multiple of Q4_K's 256-element rows —, 24 layers, 16
# heads, 2 KV heads, ffn 4864, a 151936-token vocabulary padded as Qwen's converter does,
# tied output; random weights from tests/reference/make_decoder_gguf.py) in Q8_0 and Q4_K,
# with 1 and 2 threads. Reports prompt tokens/s (a ~128-token prompt, batched), decode
# tokens/s (64 tokens, one at a time), and decode speed as a fraction of the memory-bandwidth
# bound: bandwidth measured in the same run (a streaming read of a 1 GiB buffer with the same
# thread count) divided by the weight bytes each token reads.
#
#   bench/decode.sh [--threads 1,2] [--types Q8_0,Q4_K] [--layers 24] [--prompt 128] [--gen 64] [--reps 3]
#
# Each configuration reports the best of --reps runs and, in parentheses, the worst; the
# load average before and after each configuration is printed with it (the machine may be
# shared, and the spread is the honest error bar).
#
# The models are written once into bench/out/decode/ (~0.6 GB for Q8_0, ~0.35 GB for Q4_K; a
# few minutes of numpy). JSON lines go to bench/out/decode/results.jsonl.
set -eu
cd "$(dirname "$0")/.."
THREADS=1,2
TYPES=Q8_0,Q4_K
LAYERS=24
PROMPT=128
GEN=64
REPS=3
while [ $# -gt 0 ]; do
	case $1 in
	--threads) THREADS=$2; shift 2 ;;
	--types) TYPES=$2; shift 2 ;;
	--layers) LAYERS=$2; shift 2 ;;
	--prompt) PROMPT=$2; shift 2 ;;
	--gen) GEN=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	*) echo "usage: bench/decode.sh [--threads 1,2] [--types Q8_0,Q4_K] [--layers 24] [--prompt 128] [--gen 64] [--reps 3]" >&2
	   exit 2 ;;
	esac
done
SHARED=${CAIRN_SHARED:-../shared}
VOCAB=$SHARED/models/vocab/ggml-vocab-gpt-2.gguf
[ -f "$VOCAB" ] || { echo "bench/decode.sh needs $VOCAB"; exit 1; }
make -s all >/dev/null
OUT=bench/out/decode
mkdir -p "$OUT"
PKGS="sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl"
cc -std=c17 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc bench/bench_decode.c build/libcairn.a \
	$(pkg-config --libs $PKGS) -lstemmer -lm -lpthread -o "$OUT/bench_decode"

for t in ${TYPES//,/ }; do
	m="$OUT/qwen2-0.5b-L$LAYERS-$t.gguf"
	[ -s "$m" ] || /usr/bin/python3 tests/reference/make_decoder_gguf.py model "$m" --arch qwen2 --vocab "$VOCAB" \
		--bpe-size 50000 --pad-vocab 151936 --type "$t" --layers "$LAYERS" --hidden 1024 --heads 16 --kv-heads 2 \
		--ff 4864 --ctx 4096 --rope-base 1000000 --eps 1e-6 --tied
done

: >"$OUT/results.jsonl"
printf '%-5s %7s %18s %18s %9s %7s %9s %8s %6s  %s\n' type threads "prompt t/s" "decode t/s" "MB/token" "GB/s" \
	"bound t/s" "of bound" "PP/TG" "load before → after"
for t in ${TYPES//,/ }; do
	for th in ${THREADS//,/ }; do
		j=$("$OUT/bench_decode" "$OUT/qwen2-0.5b-L$LAYERS-$t.gguf" --threads "$th" --prompt "$PROMPT" --gen "$GEN" \
			--reps "$REPS")
		echo "$j" >>"$OUT/results.jsonl"
		f() { echo "$j" | sed "s/.*\"$1\":\([0-9.]*\).*/\1/"; }
		g() { echo "$j" | sed "s/.*\"$1\":\"\([^\"]*\)\".*/\1/"; }
		printf '%-5s %7s %18s %18s %9s %7s %9s %7.1f%% %6.2f  %s → %s\n' "$t" "$th" \
			"$(f prompt_tok_s) ($(f prompt_tok_s_worst))" "$(f decode_tok_s) ($(f decode_tok_s_worst))" \
			"$(f weight_mb_per_token)" "$(f bandwidth_gbs)" "$(f bound_tok_s)" \
			"$(awk -v a="$(f fraction_of_bound)" 'BEGIN{print 100*a}')" \
			"$(awk -v a="$(f prompt_tok_s)" -v b="$(f decode_tok_s)" 'BEGIN{print a/b}')" "$(g load_before)" "$(g load_after)"
	done
done
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) CPUs online; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
