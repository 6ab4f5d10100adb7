#!/bin/sh
# Checks the Debian packages zap needs; with --install (or when run as root
# by `make`), installs the missing ones.  Prints the one command to run
# otherwise.
set -e
need="gcc make musl-tools check libunwind-dev pkg-config python3 bc sqlite3 iproute2 redis-server redis-tools lighttpd curl"
# --bench: also the systems `make bench` compares against, where Debian has
# them (CRIU; DMTCP is not packaged for Debian 12)
[ "${1:-}" = --bench ] && need="$need criu"
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "zap: installing missing Debian packages:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq $missing >/dev/null
	exit 0
fi
echo "zap: missing Debian packages:$missing" >&2
echo "zap: run: sudo apt-get install -y$missing" >&2
exit 1
