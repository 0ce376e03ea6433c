#!/bin/bash
# Every classic collection in ../shared/data is read by its adapter and evaluated; the
# figures must equal the ones recorded in docs/results.md (±0.002). Retrieval here is
# deterministic, so any move — down or up — is a behaviour change that must be explained and
# the table updated.
source "$(dirname "$0")/lib.bash"
set -e
DATA="${CAIRN_SHARED:-../shared}/data"
[ -d "$DATA/cacm" ] || skip "skipped: $DATA not present (needs ../shared)"
# collection  documents  judged-queries  min-nDCG@10  min-MAP
while read -r name docs queries ndcg map; do
	expect_rc 0 "$CAIRN" eval retrieval "$DATA/$name" --json
	$PY - "$WORK/out" "$name" "$docs" "$queries" "$ndcg" "$map" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
name, docs, queries, ndcg, mp = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
assert r["documents"] == docs and r["queries"] == queries, (name, r)
assert abs(r["ndcg@10"] - ndcg) <= 0.002 and abs(r["map"] - mp) <= 0.002, (name, r)
print(name, r["ndcg@10"], r["map"])
PY
done <<'LIST'
cacm 3204 52 0.4736 0.3370
cisi 1460 76 0.3644 0.2045
med 1033 30 0.6651 0.5117
adi 82 35 0.4747 0.4016
npl 11429 93 0.4392 0.2873
time 423 83 0.7080 0.6437
lisa 5999 35 0.4312 0.3536
LIST
echo ok
