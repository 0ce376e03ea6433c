#!/bin/bash
# Holds the module dependency table of docs/ARCHITECTURE.md: every `#include "mod/x.h"` in
# src/<module>/ must name the module itself or one it may use; programs include cairn.h only;
# private headers (*_int.h, *int.h) stay inside their module. apps/cli and apps/server are
# checked alike.
set -u
cd "$(dirname "$0")/../.."
declare -A allowed=(
	[base]=""
	[text]="base"
	[lex]="base text"
	[ingest]="base text lex"
	[store]="base"
	[filter]="base"
	[bm25]="base lex store filter"
	[engine]="base text lex ingest store filter bm25 vocab vec"
	[eval]="base"
	[gguf]="base"
	[vocab]="base text gguf"
	[kern]="base gguf"
	[model]="base gguf kern vocab sample"
	[sample]="base text vocab"
	[guard]="base text lex"
	[vec]="base store filter"
	[answer]="base text lex remote"
	[remote]="base"
	[tools]="base text remote"
)
bad=0
for dir in src/*/; do
	mod=$(basename "$dir")
	if [ -z "${allowed[$mod]+set}" ]; then echo "module $mod is not in the table (tests/e2e/layering.sh)"; bad=1; continue; fi
	while IFS=: read -r file inc; do
		dep=${inc%%/*}
		hdr=${inc#*/}
		[ "$dep" = "$mod" ] && continue
		case " ${allowed[$mod]} " in *" $dep "*) ;; *) echo "$file includes $inc: $mod may not use $dep"; bad=1 ;; esac
		case "$hdr" in *int.h) echo "$file includes private header $inc"; bad=1 ;; esac
	done < <(grep -o '#include "[a-z0-9_]*/[a-z0-9_]*\.h"' "$dir"*.[ch] /dev/null | sed 's/#include "//;s/"$//')
done
if grep -n '#include "' apps/cli/*.[ch] | grep -v '"cairn.h"' | grep -v '"commands.h"'; then echo "apps/cli may include only cairn.h (and its own commands.h)"; bad=1; fi
if grep -n '#include "' apps/server/*.[ch] | grep -v '"cairn.h"' | grep -v '"server.h"' | grep -v '"http_json.h"'; then echo "apps/server may include only cairn.h (and its own server.h, http_json.h)"; bad=1; fi
[ $bad -eq 0 ] && echo ok
exit $bad
