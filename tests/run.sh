#!/bin/bash
# Runs the test suite against one build directory: every unit-test binary (cmocka), then
# every end-to-end script in tests/e2e/ (which drive the CLI). Prints a closing line
# "N passed, N failed, N skipped" and exits non-zero if anything failed.
#   tests/run.sh BUILD_DIR [unit|e2e]
set -u
BUILD=${1:-build}
WHAT=${2:-all}
cd "$(dirname "$0")/.."
export CAIRN_BIN="$PWD/$BUILD/cairn"
export CAIRN_BUILD="$PWD/$BUILD"
export CAIRN_SHARED="${CAIRN_SHARED:-$PWD/../shared}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
passed=0 failed=0 skipped=0
failures=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

if [ "$WHAT" != e2e ]; then
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		if "$t" >"$log/$name.out" 2>&1; then rc=0; else rc=$?; fi
		p=$(grep -oE '\[  PASSED  \] [0-9]+' "$log/$name.out" | awk '{s+=$NF} END{print s+0}')
		f=$(grep -oE '\[  FAILED  \] [0-9]+' "$log/$name.out" | awk '{s+=$NF} END{print s+0}')
		s=$(grep -oE '\[  SKIPPED \] [0-9]+' "$log/$name.out" | awk '{s+=$NF} END{print s+0}')
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
		if [ "$f" -ne 0 ]; then
			failures+=("$name")
			echo "FAIL $name"; sed 's/^/    /' "$log/$name.out" | tail -40
		else
			echo "ok   $name ($p passed${s:+, $s skipped})"
		fi
	done
fi

if [ "$WHAT" != unit ]; then
	for t in tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		if bash "$t" >"$log/$name.out" 2>&1; then rc=0; else rc=$?; fi
		if [ "$rc" -eq 0 ]; then
			passed=$((passed + 1)); echo "ok   e2e/$name"
		elif [ "$rc" -eq 77 ]; then
			skipped=$((skipped + 1)); echo "skip e2e/$name: $(tail -1 "$log/$name.out")"
		else
			failed=$((failed + 1)); failures+=("e2e/$name")
			echo "FAIL e2e/$name"; sed 's/^/    /' "$log/$name.out" | tail -40
		fi
	done
fi

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
