#!/bin/sh
# Installs the Debian packages cairn needs to build, test and benchmark. Idempotent: does
# nothing (and needs no network) when they are already there.
set -e
PKGS="build-essential pkg-config libsqlite3-dev libutf8proc-dev libstemmer-dev libmd4c-dev
libxml2-dev libjansson-dev libcmocka-dev sqlite3 python3-numpy python3-xapian
python3-sentencepiece libpcre2-8-0 libopenblas-dev python3-torch libcurl4-openssl-dev
libpcre2-dev libsodium-dev libmicrohttpd-dev python3-jsonschema python3-jinja2 chromium"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js runs the tests that use real clients (the OpenAI SDK, Playwright): Debian's nodejs
# and npm only when no node is installed at all (a NodeSource nodejs already ships npm, and
# Debian's npm package would conflict with it).
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
