#!/bin/bash
# cairn scan / redact / rehydrate end to end: the --json schema of `scan` (byte offsets into
# the input, the injection verdict), --types and --min-score, --fail-on-find, usage
# errors, hostile input (NUL bytes, invalid UTF-8, a long line), the three redaction modes,
# the vault round trip, the rehydration permission, a tampered vault, and a quick linearity
# check (a few MB scanned in seconds).
source "$(dirname "$0")/lib.bash"
set -e
IN="$WORK/in.txt"
printf 'Mail alice@example.com, call +1 415 555 2671.\nSSN 536-22-1234, card 4111 1111 1111 1111.\n' >"$IN"

expect_rc 0 "$CAIRN" scan "$IN" --json
$PY - "$WORK/out" "$IN" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
data = open(sys.argv[2], "rb").read()
assert set(r) == {"pii", "injection"}, r
assert set(r["injection"]) == {"score", "flagged", "reasons"} and r["injection"]["flagged"] is False, r["injection"]
types = [f["type"] for f in r["pii"]]
assert types == ["EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD"], types
for f in r["pii"]:
    assert set(f) == {"type", "start", "end", "text", "score"}, f
    assert data[f["start"]:f["end"]].decode() == f["text"], f
    assert 0.5 <= f["score"] <= 1
PY
expect_rc 0 "$CAIRN" scan "$IN" --types US_SSN,CREDIT_CARD
[ "$(cut -f1 "$WORK/out" | tr '\n' ' ')" = "US_SSN CREDIT_CARD " ] || fail "--types: $(cat "$WORK/out")"
expect_rc 0 "$CAIRN" scan - --min-score 0.96 <"$IN"   # e-mail addresses score 0.95
if grep -q EMAIL_ADDRESS "$WORK/out" || ! grep -q US_SSN "$WORK/out"; then fail "--min-score: $(cat "$WORK/out")"; fi
expect_rc 1 "$CAIRN" scan "$IN" --fail-on-find
printf 'nothing here\n' | { expect_rc 0 "$CAIRN" scan - --fail-on-find; }
expect_rc 2 "$CAIRN" scan
expect_rc 2 "$CAIRN" scan "$IN" --types NOPE
contains "$WORK/err" "NOPE"
expect_rc 2 "$CAIRN" scan "$IN" --min-score 2
expect_rc 1 "$CAIRN" scan "$WORK/missing"

# hostile bytes: NULs, invalid UTF-8 around a finding; offsets still index the raw bytes
printf '\xff\x00 bob@example.org \xc3\x28 \x00' >"$WORK/bad.bin"
expect_rc 0 "$CAIRN" scan "$WORK/bad.bin" --json
$PY - "$WORK/out" "$WORK/bad.bin" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
data = open(sys.argv[2], "rb").read()
(f,) = r["pii"]
assert f["type"] == "EMAIL_ADDRESS" and data[f["start"]:f["end"]] == b"bob@example.org", f
PY
$PY -c "import sys; sys.stdout.write('x' * 3000000 + ' +44 20 7946 0958 ' + '9' * 100000)" >"$WORK/long.txt"
expect_rc 0 "$CAIRN" scan "$WORK/long.txt"
contains "$WORK/out" "+44 20 7946 0958"

# a few MB of ordinary text: linear-ish (a generous bound, not a benchmark)
$PY - "$WORK/big.txt" <<'PY'
import sys
para = ("Dear Dr. Maria Garcia, your order 12345 ships to 221 Baker Street, London on 2024-05-01. "
        "Call +44 20 7946 0958 or mail maria.garcia@example.com; card 4111 1111 1111 1111. ")
open(sys.argv[1], "w").write(para * 20000)
PY
start=$(date +%s%N)
expect_rc 0 "$CAIRN" scan "$WORK/big.txt"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "scanned $(wc -c <"$WORK/big.txt") bytes in ${ms} ms"
[ "$ms" -lt 60000 ] || fail "scan of a few MB took ${ms} ms"
[ "$(grep -c EMAIL_ADDRESS "$WORK/out")" -eq 20000 ] || fail "big: wrong e-mail count"

# redaction
expect_rc 0 "$CAIRN" redact "$IN"
[ "$(head -1 "$WORK/out")" = "Mail [EMAIL_ADDRESS], call [PHONE_NUMBER]." ] || fail "mask: $(cat "$WORK/out")"
expect_rc 0 "$CAIRN" redact "$IN" --json
$PY - "$WORK/out" "$IN" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
data = open(sys.argv[2], "rb").read()
out = r["text"].encode()
for x in r["redactions"]:
    assert out[x["out_start"]:x["out_end"]].decode() == "[%s]" % x["type"], x
    assert x["end"] > x["start"]
PY
printf '%s' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$WORK/key"
expect_rc 2 "$CAIRN" redact "$IN" --mode hash
expect_rc 2 "$CAIRN" redact "$IN" --mode bogus
expect_rc 0 "$CAIRN" redact "$IN" --mode hash --key-file "$WORK/key"
contains "$WORK/out" "<EMAIL_ADDRESS:830cb7855b6a8b88>"   # hashlib.blake2b, key bytes 0..31
export PII_TEST_KEY=$(cat "$WORK/key")
expect_rc 0 "$CAIRN" redact "$IN" --mode token --key-env PII_TEST_KEY --vault "$WORK/v"
cp "$WORK/out" "$WORK/red.txt"
if grep -q "alice@\|4111 1111\|536-22-1234\|415 555" "$WORK/red.txt"; then fail "token mode leaked a value"; fi
expect_rc 1 "$CAIRN" rehydrate "$WORK/red.txt" --vault "$WORK/v" --key-env PII_TEST_KEY
contains "$WORK/err" "permission"
expect_rc 0 "$CAIRN" rehydrate "$WORK/red.txt" --vault "$WORK/v" --key-env PII_TEST_KEY --allow
cmp -s "$WORK/out" "$IN" || fail "rehydrate did not restore the input"
if grep -rq "$PII_TEST_KEY" "$WORK/err"; then fail "key in a message"; fi
printf '%s' 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100 >"$WORK/key2"
expect_rc 1 "$CAIRN" rehydrate "$WORK/red.txt" --vault "$WORK/v" --key-file "$WORK/key2" --allow
contains "$WORK/err" "wrong key"
$PY -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-3]^=1; open(p,'wb').write(b)" "$WORK/v"
expect_rc 1 "$CAIRN" rehydrate "$WORK/red.txt" --vault "$WORK/v" --key-env PII_TEST_KEY --allow
contains "$WORK/err" "authentication"
echo ok
