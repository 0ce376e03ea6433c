#!/bin/bash
# PII policy at ingest: with --redact, personal data is replaced in chunk texts and headings
# before anything is indexed or stored — the catalog, the segments, search results, answers
# and document fetch never hold it; token mode keeps the originals in the encrypted vault,
# and only a principal with the rehydrate permission gets them back. Changing the policy
# re-indexes the document.
source "$(dirname "$0")/lib.bash"
set -e
mkdir -p "$WORK/d"
cat > "$WORK/d/contacts.md" <<'MD'
# Payroll contacts

Reach the payroll officer at jane.miller@example.com or +1 415 555 0134 for salary questions.
The reimbursement card 4111 1111 1111 1111 is kept by finance.
MD
SECRETS=("jane.miller@example.com" "415 555 0134" "4111 1111 1111 1111")
no_secrets() { for s in "${SECRETS[@]}"; do grep -rqF "$s" "$@" && fail "\"$s\" found in $*"; done; return 0; }
KB="$WORK/kb"
expect_rc 0 "$CAIRN" --kb "$KB" ingest --redact mask "$WORK/d" --json
expect_rc 0 "$CAIRN" --kb "$KB" search "payroll officer salary" --json
contains "$WORK/out" "[EMAIL_ADDRESS]"
no_secrets "$WORK/out"
expect_rc 0 "$CAIRN" --kb "$KB" ask "how do I reach the payroll officer" --json --min-confidence 0
no_secrets "$WORK/out"
expect_rc 0 "$CAIRN" --kb "$KB" show "$WORK/d/contacts.md" --json
no_secrets "$WORK/out"
no_secrets "$KB"
# the same file without the policy is re-indexed (the policy is part of the document's identity)
expect_rc 0 "$CAIRN" --kb "$KB" ingest "$WORK/d" --json
contains "$WORK/out" '"updated":1'
expect_rc 0 "$CAIRN" --kb "$KB" search "payroll officer salary" --json
contains "$WORK/out" "jane.miller@example.com"
# token mode: originals in the vault, back only for a principal holding rehydrate
KB2="$WORK/kb2"
export CAIRN_TEST_VAULT_KEY=$(printf '%064x' 123456789)
expect_rc 2 "$CAIRN" --kb "$KB2" ingest --redact token "$WORK/d"
expect_rc 0 "$CAIRN" --kb "$KB2" ingest --redact token --key-env CAIRN_TEST_VAULT_KEY "$WORK/d" -q
[ -s "$KB2/vault/pii.vault" ] || fail "no vault written"
no_secrets "$KB2"
expect_rc 0 "$CAIRN" --kb "$KB2" show "$WORK/d/contacts.md" --text
cp "$WORK/out" "$WORK/redacted.txt"
contains "$WORK/redacted.txt" "<EMAIL_ADDRESS_"
expect_rc 0 "$CAIRN" --kb "$KB2" principal add clerk --groups hr
expect_rc 0 "$CAIRN" --kb "$KB2" principal add dpo --perms rehydrate
expect_rc 1 "$CAIRN" --kb "$KB2" rehydrate "$WORK/redacted.txt" --key-env CAIRN_TEST_VAULT_KEY --as clerk
contains "$WORK/err" "lacks the rehydrate permission"
no_secrets "$WORK/out"
expect_rc 1 "$CAIRN" --kb "$KB2" rehydrate "$WORK/redacted.txt" --key-env CAIRN_TEST_VAULT_KEY
expect_rc 0 "$CAIRN" --kb "$KB2" rehydrate "$WORK/redacted.txt" --key-env CAIRN_TEST_VAULT_KEY --as dpo
contains "$WORK/out" "jane.miller@example.com"
contains "$WORK/out" "4111 1111 1111 1111"
echo ok
