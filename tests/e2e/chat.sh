#!/bin/bash
# `cairn chat --model` (plain chat with a local model, no documents) on stories260K with the
# llama2 template: two piped turns give two replies; --show-prompt prints each formatted
# prompt on stderr, and the second one holds the first exchange (the user's turn and the
# model's reply, between Llama 2's [INST] markers); greedy decoding (--temp 0) makes the
# replies reproducible; usage errors exit 2 and a missing model 1.
source "$(dirname "$0")/lib.bash"
set -e
S=${CAIRN_SHARED:-../shared}
M=$S/models/stories260K
[ -f "$M/stories260K.bin" ] && [ -f "$M/tok512.bin" ] || skip "no $M: plain chat test skipped"
C=("$CAIRN" chat --model "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --chat-template llama2 -n 8 --threads 1)

expect_rc 2 "${C[@]}" --bogus </dev/null
expect_rc 2 "${C[@]}" --temp hot </dev/null
expect_rc 1 "$CAIRN" chat --model "$WORK/none.bin" --chat-template llama2 </dev/null
contains "$WORK/err" "none.bin"
expect_rc 1 "${C[@]}" --chat-template no-such-template </dev/null
contains "$WORK/err" "llama2"   # the message lists the names cairn knows

printf 'Hello there\nTell me a story\n' | expect_rc 0 "${C[@]}" --temp 0 --show-prompt
cp "$WORK/out" "$WORK/out1"
$PY - "$WORK/out" "$WORK/err" <<'PY'
import sys
out = open(sys.argv[1]).read()
err = open(sys.argv[2]).read()
prompts = [p.split("\n--- end ---")[0] for p in err.split("--- prompt ---\n")[1:]]
assert len(prompts) == 2, err
assert prompts[0] == "[INST] Hello there [/INST]", prompts[0]
p2 = prompts[1]
assert p2.startswith("[INST] Hello there [/INST] ") and p2.endswith("</s><s>[INST] Tell me a story [/INST]"), p2
# the first reply, as printed, is the assistant turn between the two [INST] blocks
first = p2[len("[INST] Hello there [/INST] "):-len(" </s><s>[INST] Tell me a story [/INST]")]
assert first.strip() and out.startswith(first.strip()), (first, out)
# two replies, each ended by a newline
second = out[len(first.strip()):]
assert second.startswith("\n") and second.strip() and out.endswith("\n"), repr(out)
PY
# greedy: the same conversation gives the same replies
printf 'Hello there\nTell me a story\n' | expect_rc 0 "${C[@]}" --temp 0
cmp -s "$WORK/out" "$WORK/out1" || fail "greedy replies differ between runs"
[ ! -s "$WORK/err" ] || fail "stderr without --show-prompt: $(cat "$WORK/err")"
echo ok
