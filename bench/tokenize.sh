#!/bin/bash
# Tokenizer throughput, one thread, on ~3.7 MB of mixed text (bench/gen_mixed.py): every
# tokenizer family cairn reads, and for SentencePiece models python3-sentencepiece (C++)
# on the same paragraphs in the same run, with the ids of both compared.
#
#   bench/tokenize.sh [--passes N]
#
# Prints a table (MB/s, tokens, ratio to SentencePiece, identical ids yes/no) and writes
# the JSON lines to bench/out/tokenize/results.jsonl. Goal (issue 3): ≥ 2× SentencePiece
# with identical output.
set -eu
cd "$(dirname "$0")/.."
PASSES=3
[ "${1:-}" = --passes ] && PASSES=$2
SHARED=${CAIRN_SHARED:-../shared}
[ -d "$SHARED/models" ] || { echo "bench/tokenize.sh needs ../shared/models"; exit 1; }
make -s all >/dev/null
OUT=bench/out/tokenize
mkdir -p "$OUT"
PKGS="sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl"
cc -std=c17 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude bench/bench_tokenize.c build/libcairn.a $(pkg-config --libs $PKGS) -lstemmer -lm -lpthread \
	-o "$OUT/bench_tokenize"
TEXT=$OUT/mixed.txt
[ -s "$TEXT" ] || /usr/bin/python3 bench/gen_mixed.py "$SHARED" . "$TEXT" >/dev/null
M=$SHARED/models
have_sp=0
/usr/bin/python3 -c 'import sentencepiece' 2>/dev/null && have_sp=1
: >"$OUT/results.jsonl"
printf '%-28s %-5s %10s %10s %10s %8s %s\n' model kind MB/s tokens "sp MB/s" ratio identical
row() { # name kind file [spm] [--pre X]
	local name=$1 kind=$2 file=$3 sp=${4:-}
	shift 4 || shift $#
	[ -f "$file" ] || { printf '%-28s %-5s (missing %s)\n' "$name" "$kind" "$file"; return; }
	local j
	j=$("$OUT/bench_tokenize" "$file" "$TEXT" --passes "$PASSES" --ids-out "$OUT/$name.cairn.ids" "$@")
	echo "$j" >>"$OUT/results.jsonl"
	local mbs tok
	mbs=$(echo "$j" | sed 's/.*"mb_per_s":\([0-9.]*\).*/\1/')
	tok=$(echo "$j" | sed 's/.*"tokens":\([0-9]*\).*/\1/')
	if [ "$sp" = spm ] && [ $have_sp = 1 ]; then
		local s smbs same
		s=$(/usr/bin/python3 bench/bench_spm.py "$file" "$TEXT" --passes "$PASSES" --ids-out "$OUT/$name.sp.ids")
		echo "$s" >>"$OUT/results.jsonl"
		smbs=$(echo "$s" | sed 's/.*"mb_per_s": \([0-9.]*\).*/\1/')
		cmp -s "$OUT/$name.cairn.ids" "$OUT/$name.sp.ids" && same=yes || same=NO
		printf '%-28s %-5s %10s %10s %10s %7.2fx %s\n' "$name" "$kind" "$mbs" "$tok" "$smbs" \
			"$(awk -v a="$mbs" -v b="$smbs" 'BEGIN{print a/b}')" "$same"
	else
		printf '%-28s %-5s %10s %10s %10s %8s %s\n' "$name" "$kind" "$mbs" "$tok" - - -
	fi
}
row llama2-spm spm "$M/llama2-tokenizer/tokenizer.model" spm
row mistral-v1-spm spm "$M/mistral-tokenizer/tokenizer.model" spm
row mistral-v3-spm spm "$M/mistral-tokenizer/tokenizer.model.v3" spm
for f in tests/data/spm/*.model; do
	n=$(basename "$f" .model)
	case $n in unigram*) k=ugm ;; *) k=spm ;; esac
	row "$n" $k "$f" spm
done
row llama-spm.gguf spm "$M/vocab/ggml-vocab-llama-spm.gguf" -
row gpt2 bpe "$M/gpt2-tokenizer/vocab.json" -
row llama3 bpe "$M/llama3-tokenizer/tokenizer.model" -
row qwen2 bpe "$M/qwen-tokenizer/qwen.tiktoken" -
for v in falcon starcoder deepseek-llm deepseek-coder mpt refact; do
	row "$v.gguf" bpe "$M/vocab/ggml-vocab-$v.gguf" -
done
row bert-wordpiece wpm "$M/bert-wordpiece-tokenizer/vocab.txt" -
row bert-bge.gguf wpm "$M/vocab/ggml-vocab-bert-bge.gguf" -
echo "text: $TEXT ($(wc -c <"$TEXT") bytes, paragraphs at blank lines); best of $PASSES passes; 1 thread"
