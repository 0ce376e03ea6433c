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
# report_renders FILE: headless Chromium loads an eval report (file under $WORK) with no console
# error and its script marks it rendered; the DOM is left in $WORK/dom.html. Needs $CHROMIUM.
report_renders() {
	timeout 120 "$CHROMIUM" --headless --disable-gpu --no-sandbox --enable-logging=stderr --v=0 \
		--user-data-dir="$WORK/chrome" --dump-dom "file://$WORK/$1" >"$WORK/dom.html" 2>"$WORK/chrome.log" ||
		fail "chromium failed on $1"
	contains "$WORK/dom.html" 'id="cairn-status" style="color:#999">rendered<'
	if grep -E 'CONSOLE|Uncaught|SyntaxError|TypeError|ReferenceError' "$WORK/chrome.log"; then
		fail "console errors in $1"
	fi
}
