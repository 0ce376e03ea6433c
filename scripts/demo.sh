#!/bin/sh
# The demo: index this repository's own user guide (docs/) into a fresh knowledge base and
# search it. Run through `make demo`, which installs packages and builds first.
set -e
cd "$(dirname "$0")/.."
CAIRN=build/cairn
KB=${CAIRN_DEMO_KB:-build/demo.kb}
rm -rf "$KB"
echo "== cairn ingest docs/  (knowledge base: $KB)"
$CAIRN --kb "$KB" ingest docs/
echo
$CAIRN --kb "$KB" stats
for q in "how do I limit a search to one team" \
         "what happens if the process is killed during ingest"; do
	echo
	echo "== cairn search \"$q\" -k 3"
	$CAIRN --kb "$KB" search "$q" -k 3
done
echo "== the same search as JSON (the stable schema of docs/search.md)"
$CAIRN --kb "$KB" search "why was my file skipped invalid UTF-8" -k 1 --json
echo
echo "== cairn ask \"what BM25 parameters does cairn use\"  (an answer with citations; docs/answers.md)"
$CAIRN --kb "$KB" ask "what BM25 parameters does cairn use"
echo
echo "== cairn ask \"which stemmer does a new knowledge base use by default\""
$CAIRN --kb "$KB" ask "which stemmer does a new knowledge base use by default"
echo
echo "== cairn ask \"what is the boiling point of mercury\"  (not in the documents: an abstention)"
$CAIRN --kb "$KB" ask "what is the boiling point of mercury"
