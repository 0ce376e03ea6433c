#!/bin/bash
# Builds every tests/fuzz/fuzz_*.c as a libFuzzer binary (clang, -fsanitize=fuzzer,address,
# undefined, -DCAIRN_LIBFUZZER) against the library sources compiled into build-fuzz/, then
# runs each target in turn for SECONDS (default 60) starting from its seed corpus.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      e.g. tests/fuzz/run.sh 300 segment filter
# New interesting inputs go to build-fuzz/corpus/<name>/ (the seed directory in the repo is
# only read); crashes, leaks and timeouts go to build-fuzz/findings/<name>/; each run's log is
# build-fuzz/logs/<name>.log and its final stats are printed. Exits non-zero if any target
# found something. FUZZ_JOBS=N builds with N parallel compiles (default 2).
set -eu
cd "$(dirname "$0")/../.."
SECONDS_PER=${1:-60}
shift || true
OUT=build-fuzz
JOBS=${FUZZ_JOBS:-2}

if ! command -v clang >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
	clang -x c -fsanitize=fuzzer - -o /tmp/cairn-fuzz-probe.$$ 2>/dev/null; then
	echo "installing clang and libFuzzer (clang, libclang-rt-14-dev)..."
	SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get install -y clang libclang-rt-14-dev || { $SUDO apt-get update && $SUDO apt-get install -y clang libclang-rt-14-dev; }
fi
rm -f /tmp/cairn-fuzz-probe.$$

PKGS="sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl libpcre2-8 libsodium"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c17 -O1 -g -Wall -Wextra -Wno-unused-parameter $SAN -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -Iinclude -Isrc $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lstemmer -lm -lpthread"

# the library, instrumented for coverage (fuzzer-no-link) — rebuilt only when a source changed
mkdir -p "$OUT/obj" "$OUT/bin"
objs=()
pids=()
for src in src/*/*.c; do
	obj="$OUT/obj/${src//\//_}.o"
	objs+=("$obj")
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find "$(dirname "$src")" -name '*.h' -newer "$obj" | head -1)" ] ||
		[ -n "$(find src/base include -name '*.h' -newer "$obj" | head -1)" ]; then
		clang $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
		pids+=($!)
		if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
	fi
done
for p in "${pids[@]}"; do wait "$p"; done
rm -f "$OUT/libcairn-fuzz.a"
ar rcs "$OUT/libcairn-fuzz.a" "${objs[@]}"

if [ $# -gt 0 ]; then targets=("$@"); else
	targets=()
	for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
fi
for t in "${targets[@]}"; do
	clang $CFLAGS -DCAIRN_LIBFUZZER -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "$OUT/libcairn-fuzz.a" $LIBS -o "$OUT/bin/fuzz_$t"
done

status=0
mkdir -p "$OUT/logs"
for t in "${targets[@]}"; do
	mkdir -p "$OUT/corpus/$t" "$OUT/findings/$t"
	seeds=tests/fuzz/corpus/$t
	[ -d "$seeds" ] || seeds=
	maxlen=16384
	[ "$t" = segment ] && maxlen=1537
	[ "$t" = vec ] && maxlen=1537
	echo "== $t: ${SECONDS_PER}s"
	set +e
	ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
		"$OUT/bin/fuzz_$t" -max_total_time="$SECONDS_PER" -max_len=$maxlen -rss_limit_mb=2048 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$OUT/findings/$t/" "$OUT/corpus/$t" $seeds >"$OUT/logs/$t.log" 2>&1
	rc=$?
	set -e
	grep -E '^#[0-9]+.*(DONE|pulse|NEW)' "$OUT/logs/$t.log" | tail -1
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$OUT/logs/$t.log" | tr '\n' ' '
	echo
	if [ $rc -ne 0 ]; then
		status=1
		echo "!! $t: libFuzzer exit $rc — see $OUT/logs/$t.log and $OUT/findings/$t/"
		grep -E 'ERROR|invariant failed|SUMMARY' "$OUT/logs/$t.log" | head -5
	fi
done
exit $status
