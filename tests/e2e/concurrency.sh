#!/bin/bash
# Readers never wait for a writer and never see half a commit: while one process ingests
# 1,500 files in 300 small commits, another searches in a loop; every search must succeed,
# the number of matching documents must never go down, and a second writer is turned away
# with "busy". At the end everything is there and `check` passes.
source "$(dirname "$0")/lib.bash"
set -e
D="$WORK/docs"; mkdir -p "$D"
for i in $(seq 1 1500); do
	printf '# Note %d\n\nThe lighthouse log entry %d mentions harbour traffic and tides.\n' "$i" "$i" > "$D/n$i.md"
done
KB="$WORK/kb"
# create the KB so readers can open it; probe.md is what the writer-lock probe below tries to
# delete: it does not match the query, so a probe that gets in between commits (the lock is
# free then) cannot lower the count the reader checks
printf 'An unrelated page about gardening.\n' > "$WORK/probe.md"
"$CAIRN" --kb "$KB" ingest "$D/n1.md" "$WORK/probe.md" -q
# commit every 5 files: hundreds of commits (and merges) while the reader runs
"$CAIRN" --kb "$KB" ingest "$D" --commit-every 5 -q > "$WORK/ingest.out" 2>&1 &
writer=$!
prev=0; searches=0; busy_seen=0
while kill -0 "$writer" 2>/dev/null; do
	n=$("$CAIRN" --kb "$KB" search "lighthouse harbour" -k 5000 --no-snippets --json |
		$PY -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))') || fail "search failed during ingest"
	[ "$n" -ge "$prev" ] || fail "results went down from $prev to $n: a reader saw a partial state"
	prev=$n; searches=$((searches + 1))
	if [ "$busy_seen" -eq 0 ]; then
		set +e; "$CAIRN" --kb "$KB" delete "$WORK/probe.md" > /dev/null 2> "$WORK/busy.err"; rc=$?; set -e
		if [ $rc -ne 0 ] && grep -q "another cairn process" "$WORK/busy.err"; then busy_seen=1; fi
	fi
done
wait "$writer" || { cat "$WORK/ingest.out"; fail "ingest failed"; }
n=$("$CAIRN" --kb "$KB" search "lighthouse harbour" -k 5000 --no-snippets --json |
	$PY -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))')
[ "$n" -eq 1500 ] || fail "expected 1500 documents at the end, found $n"
"$CAIRN" --kb "$KB" check > /dev/null || fail "check failed"
echo "searches during ingest: $searches, final documents: $n, second writer refused: $busy_seen"
echo ok
