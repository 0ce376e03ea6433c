#!/bin/bash
# The CLI end to end on the repository's own docs/: ingest, search (text and the stable JSON
# schema), filters, stats/check/optimize/delete, incremental re-ingest, exit statuses.
source "$(dirname "$0")/lib.bash"
set -e
KB="$WORK/kb"
expect_rc 2 "$CAIRN"                                 # no command: usage
expect_rc 2 "$CAIRN" frobnicate
contains "$WORK/err" "unknown command"
expect_rc 2 "$CAIRN" --kb "$KB" search               # missing query
expect_rc 1 "$CAIRN" --kb "$KB" search hello         # no KB yet: clear error, exit 1
contains "$WORK/err" "no knowledge base"

expect_rc 0 "$CAIRN" --kb "$KB" ingest docs --tag team=docs --json
$PY - "$WORK/out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ok"] is True and s["added"] >= 10 and s["skipped"] == 0 and s["chunks"] >= s["added"], s
PY
# JSON schema of docs/search.md
expect_rc 0 "$CAIRN" --kb "$KB" search "access groups acl" -k 5 --json
$PY - "$WORK/out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
res = r["results"]
assert 1 <= len(res) <= 5, res
for h in res:
    assert set(h) == {"doc_id", "chunk_id", "title", "heading", "source", "score", "snippet"}, h.keys()
    assert h["doc_id"].startswith("docs/") and h["doc_id"] == h["source"]
    assert isinstance(h["chunk_id"], int) and isinstance(h["score"], float)
scores = [h["score"] for h in res]
assert scores == sorted(scores, reverse=True), scores
assert any("**" in h["snippet"] for h in res)
PY
# filters: a tag that matches everything, one that matches nothing, a bad expression
expect_rc 0 "$CAIRN" --kb "$KB" search "knowledge base" --filter 'team=docs AND format=markdown' --json
$PY -c "import json,sys; assert len(json.load(open('$WORK/out'))['results']) > 0"
expect_rc 0 "$CAIRN" --kb "$KB" search "knowledge base" --filter 'team=nobody' --json
$PY -c "import json,sys; assert json.load(open('$WORK/out'))['results'] == []"
expect_rc 1 "$CAIRN" --kb "$KB" search "knowledge base" --filter 'team=(' 
contains "$WORK/err" "filter"
# dates: every file was modified after 2000 and none before 1990
expect_rc 0 "$CAIRN" --kb "$KB" search "knowledge base" --filter 'modified>=2000-01-01' --json
$PY -c "import json,sys; assert len(json.load(open('$WORK/out'))['results']) > 0"
expect_rc 0 "$CAIRN" --kb "$KB" search "knowledge base" --filter 'modified<1990-01-01' --json
$PY -c "import json,sys; assert json.load(open('$WORK/out'))['results'] == []"
# access groups: restricted files are invisible to principals outside the group
mkdir -p "$WORK/hr"; printf '# Salaries\n\nQuokkapay bands are reviewed every April.\n' > "$WORK/hr/pay.md"
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$WORK/hr" --acl hr -q
expect_rc 0 "$CAIRN" --kb "$KB" search "quokkapay" --groups eng --json
$PY -c "import json,sys; assert json.load(open('$WORK/out'))['results'] == []"
expect_rc 0 "$CAIRN" --kb "$KB" search "quokkapay" --groups eng,hr --json
$PY -c "import json,sys; r=json.load(open('$WORK/out'))['results']; assert len(r)==1 and r[0]['doc_id'].endswith('hr/pay.md'), r"
expect_rc 0 "$CAIRN" --kb "$KB" search "quokkapay" --filter 'group=hr' --json
$PY -c "import json,sys; assert len(json.load(open('$WORK/out'))['results']) == 1"
# re-ingest: everything unchanged
expect_rc 0 "$CAIRN" --kb "$KB" ingest docs --tag team=docs --json
$PY -c "import json; s=json.load(open('$WORK/out')); assert s['added']==0 and s['updated']==0 and s['unchanged']>=10, s"
expect_rc 0 "$CAIRN" --kb "$KB" stats --json
$PY -c "import json; s=json.load(open('$WORK/out')); assert s['documents']>=11 and s['segments']>=1 and s['language']=='porter', s"
expect_rc 0 "$CAIRN" --kb "$KB" check
expect_rc 0 "$CAIRN" --kb "$KB" delete docs/faq.md
expect_rc 1 "$CAIRN" --kb "$KB" delete docs/no-such-page.md
contains "$WORK/err" "no such document"
expect_rc 0 "$CAIRN" --kb "$KB" search "frequently asked questions" --filter 'doc=docs/faq.md' --json
$PY -c "import json; assert json.load(open('$WORK/out'))['results'] == []"
expect_rc 0 "$CAIRN" --kb "$KB" optimize
expect_rc 0 "$CAIRN" --kb "$KB" check
# CAIRN_KB selects the knowledge base
CAIRN_KB="$KB" expect_rc 0 "$CAIRN" stats
contains "$WORK/out" "documents"
echo ok
