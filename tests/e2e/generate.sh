#!/bin/bash
# `cairn generate` end to end with stories260K (llama2.c checkpoint + tok512.bin): greedy
# text equal to the library's published continuation, a seed that reproduces its text, the
# prompt from stdin, stop strings, --verbose timing on stderr, JSON-schema output checked by
# python3-jsonschema (tests/reference/validate_json.py) for each schema in
# tests/data/schemas/, and exit codes (2 for usage errors; 1 naming the problem for an
# unsupported keyword, a budget below the schema's minimum, a missing model).
source "$(dirname "$0")/lib.bash"
set -e
S=${CAIRN_SHARED:-../shared}
M=$S/models/stories260K
[ -f "$M/stories260K.bin" ] || skip "no $M: generate CLI test skipped"
$PY -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema missing: generate CLI test skipped"
G=("$CAIRN" generate --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --threads 1)

# usage errors
expect_rc 2 "$CAIRN" generate "x"
contains "$WORK/err" "--model"
expect_rc 2 "${G[@]}" --temp hot "x"
expect_rc 2 "${G[@]}" --top-p 2 "x"
expect_rc 2 "${G[@]}" --seed -1 "x"
expect_rc 2 "${G[@]}" --bogus "x"
expect_rc 2 "${G[@]}" "a" "b"
expect_rc 1 "$CAIRN" generate --model "$WORK/none.gguf" "x"
contains "$WORK/err" "none.gguf"

# greedy by default: SOURCE.md's continuation of "Once upon a time"
expect_rc 0 "${G[@]}" -n 20 "Once upon a time"
contains "$WORK/out" ", there was a little girl named Lily. She loved to play"
# the prompt from stdin, --verbose on stderr only
echo -n "Once upon a time" >"$WORK/prompt"
set +e; "${G[@]}" -n 20 --verbose <"$WORK/prompt" >"$WORK/out2" 2>"$WORK/err2"; rc=$?; set -e
[ $rc -eq 0 ] || fail "stdin prompt: exit $rc"
cmp -s "$WORK/out" "$WORK/out2" || fail "stdin prompt gave other text"
# weights mapped from the file (CAIRN_MODEL_MMAP) instead of read into memory: the same text
CAIRN_MODEL_MMAP=1 "${G[@]}" -n 20 <"$WORK/prompt" >"$WORK/out3" 2>/dev/null || fail "CAIRN_MODEL_MMAP=1 failed"
cmp -s "$WORK/out" "$WORK/out3" || fail "mapped weights gave other text"
contains "$WORK/err2" "20 generated"
contains "$WORK/err2" "stop: max tokens"
# a seed reproduces its text
expect_rc 0 "${G[@]}" -n 40 --temp 1 --seed 7 "Lily"
cp "$WORK/out" "$WORK/s7"
expect_rc 0 "${G[@]}" -n 40 --temp 1 --seed 7 "Lily"
cmp -s "$WORK/out" "$WORK/s7" || fail "seed 7 twice gave two texts"
expect_rc 0 "${G[@]}" -n 40 --temp 1 --seed 8 "Lily"
cmp -s "$WORK/out" "$WORK/s7" && fail "seeds 7 and 8 gave the same text"
# stop strings: not part of the output
expect_rc 0 "${G[@]}" -n 40 --stop "Lily." --stop "never" "Once upon a time"
[ "$(cat "$WORK/out")" = ", there was a little girl named " ] || fail "stop string: got \"$(cat "$WORK/out")\""

# JSON schemas: every output valid
for s in tests/data/schemas/*.json; do
	name=$(basename "$s" .json)
	: >"$WORK/$name.docs"
	for seed in 1 2 3 4 5; do
		expect_rc 0 "${G[@]}" -n 300 --temp 1 --seed $seed --json-schema "$s" "Once upon a time"
		# the CLI adds a newline when the text lacks one
		head -c -1 "$WORK/out" >"$WORK/doc"
		printf '%d\n' "$(stat -c %s "$WORK/doc")" >>"$WORK/$name.docs"
		cat "$WORK/doc" >>"$WORK/$name.docs"
		echo >>"$WORK/$name.docs"
	done
	$PY tests/reference/validate_json.py "$s" "$WORK/$name.docs" >"$WORK/v" || { cat "$WORK/v" >&2; fail "$name: invalid output"; }
	contains "$WORK/v" "5 valid, 0 invalid"
done
# refused up front, naming the problem
echo '{"type":"object","properties":{"id":{"type":"string","pattern":"^[a-z]+$"}}}' >"$WORK/bad.json"
expect_rc 1 "${G[@]}" --json-schema "$WORK/bad.json" "x"
contains "$WORK/err" 'unsupported keyword "pattern" for type string at /properties/id'
expect_rc 1 "${G[@]}" -n 10 --json-schema tests/data/schemas/answer.json "x"
contains "$WORK/err" "shortest document needs 48 tokens; max_tokens is 10"
expect_rc 1 "${G[@]}" --json-schema "$WORK/missing.json" "x"
contains "$WORK/err" "missing.json"
echo "ok"
