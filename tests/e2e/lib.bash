# Helpers for the end-to-end tests (sourced). CAIRN_BIN points at the cairn binary under test.
set -u
CAIRN=${CAIRN_BIN:-build/cairn}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/cairn-e2e-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
# expect_rc RC CMD...: runs CMD, checks its exit status, keeps stdout/stderr in $WORK/out, $WORK/err
expect_rc() {
	local want=$1; shift
	set +e; "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?; set -e
	[ "$rc" -eq "$want" ] || { cat "$WORK/err" >&2; fail "exit $rc, expected $want: $*"; }
}
contains() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks \"$2\""; }; }
