#!/bin/bash
# Replays the fuzz corpora against the build under test: compiles every tests/fuzz/fuzz_*.c in
# replay mode (no libFuzzer: a main() that runs the target over files and directories) with
# cc and the build's flags — plus ASan/UBSan when the build is build-san — links
# $CAIRN_BUILD/libcairn.a, and runs each target over tests/fuzz/corpus/<name>/ and the
# matching tests/corrupt/ inputs. Every input must run clean: no crash, no sanitizer report,
# no failed invariant. tests/fuzz/pending/ (known, unfixed crashes) is not replayed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${CAIRN_BUILD:-$PWD/build}
LIB="$BUILD/libcairn.a"
[ -f "$LIB" ] || { echo "skip: $LIB not built"; exit 77; }
CC=${CC:-cc}
PKGS="sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl libpcre2-8 libsodium"
CFLAGS="-std=c17 -O1 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter"
CFLAGS+=" -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE -Iinclude -Isrc $(pkg-config --cflags $PKGS)"
case "$(basename "$BUILD")" in
build-san*) CFLAGS+=" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" ;;
esac
LIBS="$(pkg-config --libs $PKGS) -lstemmer -lm -lpthread"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
OUT="$BUILD/fuzz"
mkdir -p "$OUT"

targets=()
for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
[ ${#targets[@]} -gt 0 ] || { echo "no fuzz targets"; exit 1; }

# compile two at a time
pids=() names=()
for t in "${targets[@]}"; do
	$CC $CFLAGS "tests/fuzz/fuzz_$t.c" "$LIB" $LIBS -o "$OUT/fuzz_$t" 2>"$OUT/fuzz_$t.cc.log" &
	pids+=($!) names+=("$t")
	if [ ${#pids[@]} -ge 2 ]; then
		wait "${pids[0]}" || { cat "$OUT/fuzz_${names[0]}.cc.log"; echo "FAIL: fuzz_${names[0]} does not compile"; exit 1; }
		pids=("${pids[@]:1}") names=("${names[@]:1}")
	fi
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { cat "$OUT/fuzz_${names[$i]}.cc.log"; echo "FAIL: fuzz_${names[$i]} does not compile"; exit 1; }
done

bad=0
for t in "${targets[@]}"; do
	inputs=()
	[ -d "tests/fuzz/corpus/$t" ] && inputs+=("tests/fuzz/corpus/$t")
	[ -d "tests/corrupt/$t" ] && inputs+=("tests/corrupt/$t")
	case "$t" in markdown|html|text) [ -d tests/corrupt/docs ] && inputs+=(tests/corrupt/docs) ;; esac
	[ ${#inputs[@]} -gt 0 ] || continue
	if "$OUT/fuzz_$t" "${inputs[@]}" >"$OUT/fuzz_$t.log" 2>&1; then
		echo "ok   fuzz_$t: $(tail -1 "$OUT/fuzz_$t.log")"
	else
		bad=1
		echo "FAIL fuzz_$t (rerun with FUZZ_VERBOSE=1 to see which input)"
		tail -30 "$OUT/fuzz_$t.log"
	fi
done
[ $bad -eq 0 ] || exit 1
echo ok
