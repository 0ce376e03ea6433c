#!/bin/bash
# Access control and the audit trail through the CLI: principals with groups, --as on search,
# ask and show (a refused document looks missing), the closed ACL mode, API keys, and
# `cairn audit verify` catching an edited, deleted or truncated log.
source "$(dirname "$0")/lib.bash"
set -e
KB="$WORK/kb"
mkdir -p "$WORK/d"
printf '# Payroll\n\nThe salary budget for next year is four million euros.\n' > "$WORK/d/hr.md"
printf '# Launch\n\nThe rocket launch is planned for Tuesday.\n' > "$WORK/d/eng.md"
printf '# Canteen\n\nLunch is served at noon in the canteen.\n' > "$WORK/d/pub.md"
cd "$WORK/d"
expect_rc 0 "$CAIRN" --kb "$KB" ingest --acl hr hr.md --quiet
expect_rc 0 "$CAIRN" --kb "$KB" ingest --acl eng eng.md --quiet
expect_rc 0 "$CAIRN" --kb "$KB" ingest pub.md --quiet
expect_rc 0 "$CAIRN" --kb "$KB" audit enable --retention-days 365
expect_rc 0 "$CAIRN" --kb "$KB" principal add alice --groups hr
expect_rc 0 "$CAIRN" --kb "$KB" principal add bob --groups eng,ops
expect_rc 0 "$CAIRN" --kb "$KB" principal add root --perms admin,audit
expect_rc 2 "$CAIRN" --kb "$KB" principal add eve --perms superuser
expect_rc 1 "$CAIRN" --kb "$KB" principal add "bad name"
expect_rc 0 "$CAIRN" --kb "$KB" principal list --json
[ "$(wc -l < "$WORK/out")" -eq 3 ] || fail "three principals expected"
contains "$WORK/out" '{"name":"bob","groups":["eng","ops"],"permissions":""}'
Q="salary budget rocket launch lunch canteen"
expect_rc 0 "$CAIRN" --kb "$KB" search --as alice "$Q" --json
contains "$WORK/out" hr.md; contains "$WORK/out" pub.md
grep -q eng.md "$WORK/out" && fail "alice sees eng.md"
expect_rc 0 "$CAIRN" --kb "$KB" search --as root "$Q" --json
contains "$WORK/out" hr.md; contains "$WORK/out" eng.md
expect_rc 1 "$CAIRN" --kb "$KB" search --as nobody "$Q"
contains "$WORK/err" 'no principal named "nobody"'
expect_rc 2 "$CAIRN" --kb "$KB" search --as alice --groups hr "$Q"
# ask: citations and --explain stay inside the principal's groups
expect_rc 0 "$CAIRN" --kb "$KB" ask --as bob "what is the salary budget" --json --explain --min-confidence 0
grep -q "hr.md\|four million" "$WORK/out" && fail "bob's answer reveals hr.md"
# document fetch: refused looks exactly like missing
expect_rc 1 "$CAIRN" --kb "$KB" show --as bob hr.md
cp "$WORK/err" "$WORK/refused"
expect_rc 1 "$CAIRN" --kb "$KB" show --as bob no-such.md
sed 's/no-such.md/hr.md/' "$WORK/err" | cmp -s - "$WORK/refused" || fail "a refused document is distinguishable from a missing one"
expect_rc 0 "$CAIRN" --kb "$KB" show --as alice hr.md --json
contains "$WORK/out" '"groups":["hr"]'
# closed mode: documents without groups are hidden from non-admins
expect_rc 0 "$CAIRN" --kb "$KB" acl closed
expect_rc 0 "$CAIRN" --kb "$KB" acl status
contains "$WORK/out" closed
expect_rc 0 "$CAIRN" --kb "$KB" search --as alice "$Q" --json
grep -q pub.md "$WORK/out" && fail "closed mode: alice sees a document without groups"
expect_rc 0 "$CAIRN" --kb "$KB" search --as root "$Q" --json
contains "$WORK/out" pub.md
# API keys: printed once, only a hash stored
expect_rc 0 "$CAIRN" --kb "$KB" principal key alice
KEY=$(cat "$WORK/out")
[[ "$KEY" == ck_* ]] || fail "key shape: $KEY"
grep -qF "$KEY" "$KB/catalog.db" && fail "the catalog holds the key"
expect_rc 0 "$CAIRN" --kb "$KB" principal revoke "${KEY:3:12}"
expect_rc 1 "$CAIRN" --kb "$KB" principal revoke "${KEY:3:12}"
# the audit trail: every search, ask, fetch and change above is on it, and it verifies
expect_rc 0 "$CAIRN" --kb "$KB" audit show
for a in search ask document.get principal.set acl.closed principal.key principal.revoke; do
	contains "$WORK/out" "\"action\":\"$a\""
done
grep -qF "$KEY" "$WORK/out" && fail "the audit log holds an API key"
expect_rc 0 "$CAIRN" --kb "$KB" audit verify --json
contains "$WORK/out" '"ok":true'
expect_rc 0 "$CAIRN" --kb "$KB" audit head
HEAD=$(cat "$WORK/out")
expect_rc 0 "$CAIRN" --kb "$KB" audit verify --expect "$HEAD"
command -v sqlite3 >/dev/null || skip "no sqlite3 CLI: tampering checks skipped"
for t in edit delete truncate; do
	rm -rf "$WORK/t"; cp -r "$KB" "$WORK/t"
	case $t in
	edit) sqlite3 "$WORK/t/audit.db" "UPDATE audit SET record = replace(record, 'alice', 'mallory') WHERE record LIKE '%alice%'" ;;
	delete) sqlite3 "$WORK/t/audit.db" "DELETE FROM audit WHERE seq = 3" ;;
	truncate) sqlite3 "$WORK/t/audit.db" "DELETE FROM audit WHERE seq > 5"; printf '5 %064d\n' 0 > "$WORK/t/audit.head" ;;
	esac
	expect_rc 1 "$CAIRN" --kb "$WORK/t" audit verify --expect "$HEAD"
	contains "$WORK/err" "TAMPERING DETECTED"
done
echo ok
