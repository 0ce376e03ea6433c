#!/bin/sh
# Installs the Debian packages cairn needs to build, test and benchmark. Idempotent: does
# nothing (and needs no network) when they are already there.
set -e
PKGS="build-essential pkg-config libsqlite3-dev libutf8proc-dev libstemmer-dev libmd4c-dev
libxml2-dev libjansson-dev libcmocka-dev sqlite3 python3-numpy python3-xapian
python3-sentencepiece libpcre2-8-0 libopenblas-dev python3-torch libcurl4-openssl-dev
libpcre2-dev libsodium-dev libmicrohttpd-dev python3-jsonschema python3-jinja2"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
