#!/bin/bash
# Bad files are each reported once, naming the file and the problem, and skipped; the rest
# of the ingest proceeds and the knowledge base stays consistent. Every file bad → exit 3.
source "$(dirname "$0")/lib.bash"
set -e
D="$WORK/docs"; mkdir -p "$D/sub" "$D/unreadable-dir"
printf '# Good\n\nThe lighthouse keeper logs every ship.\n' > "$D/good.md"
printf 'plain text about harbours\n' > "$D/sub/good.txt"
: > "$D/empty.md"
printf '   \n\n  \n' > "$D/blank.txt"
printf 'caf\xe9 in latin-1\n' > "$D/latin1.md"
head -c 3000 /dev/urandom > "$D/random.txt"
printf '\x89PNG\r\n\x1a\n' > "$D/image.png"
head -c $((2*1024*1024)) /dev/zero | tr '\0' 'a' > "$D/huge.txt"
printf '{"_id":"r1","text":"jsonl record about tides"}\n{bad json\n{"_id":"r2"}\n' > "$D/recs.jsonl"
printf 'secret\n' > "$D/locked.md"; chmod 000 "$D/locked.md"
KB="$WORK/kb"
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$D" --max-file-mb 1
for f in empty.md blank.txt latin1.md random.txt image.png huge.txt recs.jsonl; do
	grep -q "$f" "$WORK/err" || fail "no message for $f"
done
contains "$WORK/err" "invalid UTF-8"
contains "$WORK/err" "over the limit"
contains "$WORK/err" "recs.jsonl:2"
if [ "$(id -u)" -ne 0 ]; then contains "$WORK/err" "locked.md"; fi
[ "$(grep -c 'latin1.md' "$WORK/err")" -eq 1 ] || fail "latin1.md reported more than once"
expect_rc 0 "$CAIRN" --kb "$KB" search "lighthouse harbours tides" --json
/usr/bin/python3 -c "
import json; ids = sorted(h['doc_id'] for h in json.load(open('$WORK/out'))['results'])
assert any(i.endswith('good.md') for i in ids) and any(i.endswith('good.txt') for i in ids) and 'r1' in ids, ids"
expect_rc 0 "$CAIRN" --kb "$KB" check
# a directory of nothing but bad files: exit 3
B="$WORK/allbad"; mkdir -p "$B"; : > "$B/a.md"; printf '\xff\xfe\x00x' > "$B/b.txt"
expect_rc 3 "$CAIRN" --kb "$WORK/kb2" ingest "$B"
# a path that does not exist: reported, exit 3
expect_rc 3 "$CAIRN" --kb "$WORK/kb3" ingest "$WORK/nope"
contains "$WORK/err" "nope"
# a JSON Lines file of 30 records without an id: the first 20 problems are shown, then a count
for i in $(seq 30); do echo "{\"name\": \"d$i\", \"text\": \"t\"}"; done >"$WORK/ids.jsonl"
expect_rc 3 "$CAIRN" --kb "$WORK/kb4" ingest "$WORK/ids.jsonl"
[ "$(grep -c 'missing "_id" (the document id' "$WORK/err")" -eq 20 ] || { cat "$WORK/err"; fail "not 20 lines shown"; }
contains "$WORK/err" "... and 11 more skipped (the first 20 are shown above)"
chmod 644 "$D/locked.md"
echo ok
