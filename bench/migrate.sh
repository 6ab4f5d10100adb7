#!/bin/bash
# Migration benchmark: `zap migrate` of a pod of one process with M MiB of
# heap (tests/integration/progs/bigmem: filled with a pattern, then a tick
# every 50 ms) between two "hosts", network namespaces on a bridge with their
# own zapd, ZAP_HOME and PID namespace (tests/integration/hosts.sh), back and forth, for
# M = 64, 256 and 1024.  Prints the medians of the figures `zap migrate
# --json` gives: total time, pause (from the checkpoint's start until zapd
# says the pod runs on the target), and its parts (checkpoint with the
# members held, transfer, restart there); the issue's target is a pause of
# at most 300 ms for 64 MiB with stop-and-copy.  Two ways of moving
# alternate in the same run (split: the restart begins before the pages are
# in, the default; whole: the image whole first, then the restart), each
# beside a native copy of the same bytes between the same two hosts.  Then
# the pause a client sees through zap-proxy on a third host, against the
# same heap sizes.
# Part of `make bench` (bench/run.sh calls it at the end), or alone:
#   bash bench/migrate.sh
# Needs root (network namespaces); says so and exits 0 otherwise.
#
# Everything (both ZAP_HOMEs, every image) lives in /dev/shm; every wait is
# bounded; whatever it started is killed, and its namespaces and directory
# removed, on any exit.  Knobs: BENCH_MIGRATE_SIZES="64 256 1024" (MiB),
# BENCH_MIGRATE_REPS=5 (moves per size and way after one warm-up that is
# not counted), BENCH_STEP_S=60 (bound on each single command or wait).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
ZAP=$B/bin/zap
PROGS=$B/tests/progs
SIZES=${BENCH_MIGRATE_SIZES:-"64 256 1024"}
REPS=${BENCH_MIGRATE_REPS:-5}
STEP_S=${BENCH_STEP_S:-60}
T=/dev/shm/zapmig.$$
ZAP_HOME=$T/home
LOG=$B/bench/migrate.log
RAW=$B/bench/migrate-results.txt

# what tests/integration/hosts.sh expects of lib.sh
cleanup() {
	for p in $(grep -ls "ZAP_HOME=$ZAP_HOME" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
fail() { echo "bench/migrate: $*" >&2; exit 1; }
skip() { echo "Migration: skipped: $*"; exit 0; }
wait_for() {
	local cond=$1 secs=$2 i=0
	while ! eval "$cond" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $((secs * 50)) ] && return 1
		sleep 0.02
	done
}
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

[ -x "$ZAP" ] && [ -x "$B/bin/zapd" ] && [ -x "$PROGS/bigmem" ] || fail "build first (make all)"
mkdir -p "$T/home" "$B/bench" || fail "cannot create $T"
: > "$LOG"
: > "$RAW"
# hosts a and b with a zapd each, and c with zap-proxy on $C:$CP (for the
# client-visible pause; the client runs there too), as the proxy tests have
# them; its log is ./proxy.err
cd "$T" || fail "cannot enter $T"
TOP=$ROOT
. "$ROOT/tests/integration/proxyhosts.sh"
proxy_hosts

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# the native baseline's helper
ZB=$B/bench/zbench
gcc -O2 -Wall -Wextra -o "$ZB" "$ROOT/bench/zbench.c" 2>> "$LOG" || fail "cannot build bench/zbench.c"

# move HERE THERE POD MODE: one zap migrate; its JSON line on stdout.
# MODE whole: every file whole and in order, the restart only after the
# last byte (ZAP_MIGRATE_WHOLE=1, the design before the pages were
# streamed into a running restart); split: the default.
move() {
	local env=
	[ "$4" = whole ] && env=ZAP_MIGRATE_WHOLE=1
	on "$1" env $env timeout "$STEP_S" "$ZAP" migrate --json --key "$HOSTS_KEY" "$3" \
		"$(host_addr "$2"):$HOSTS_PORT" 2>> "$LOG"
}

# netcopy HERE THERE FILE: the native baseline, FILE's bytes over one TCP
# connection from HERE into a new tmpfs file on THERE; its time in ms.
netcopy() {
	local port=$((HOSTS_PORT + 1)) r
	on "$2" "$ZB" netrecv "$(host_addr "$2")" $port "$T/netcopy.out" > "$T/netcopy.res" 2>> "$LOG" &
	local rpid=$!
	on "$1" timeout "$STEP_S" "$ZB" netsend "$(host_addr "$2")" $port "$3" 2>> "$LOG"
	wait $rpid
	r=$(cut -d' ' -f1 < "$T/netcopy.res")
	rm -f "$T/netcopy.out"
	[ -n "$r" ] && awk -v u="$r" 'BEGIN { printf "%.1f\n", u / 1000 }'
}

rows=""
for s in $SIZES; do
	echo "bench/migrate: $s MiB: starting the pod on a" >&2
	out=$T/big-$s.out
	( on a "$ZAP" run --pod mig$s -- "$PROGS/bigmem" "$s" ) > "$out" 2>> "$LOG" &
	if ! wait_for "[ \$(lines $out) -ge 2 ]" "$STEP_S"; then
		rows="$rows$s error: the pod did not start\n"
		continue
	fi
	here=a there=b
	: > "$T/res-$s-split"
	: > "$T/res-$s-whole"
	: > "$T/res-$s-net"
	ok=1
	# move 0 is a warm-up; then split and whole moves alternate, each
	# followed by the native copy of the same bytes the same way
	for i in $(seq 0 "$REPS"); do
		for mode in split whole; do
			[ "$i" = 0 ] && [ $mode = whole ] && continue
			sleep 0.3
			r=$(move $here $there "mig$s" $mode)
			if [ -z "$r" ]; then
				echo "bench/migrate: $s MiB: move $i ($mode, $here -> $there) failed" >&2
				echo "size_mib=$s run=$i mode=$mode error" >> "$RAW"
				ok=0
				break 2
			fi
			echo "size_mib=$s run=$i mode=$mode from=$here $r" >> "$RAW"
			# the pod must run on the new host before the next move
			wait_for "[ -s $T/home-$there/pods/mig$s/pid ]" 10
			if [ "$i" -gt 0 ]; then
				echo "$r" >> "$T/res-$s-$mode"
				[ -s "$T/img-$s" ] || cat "$T/home-$there/pods/mig$s/image/"* > "$T/img-$s"
				n=$(netcopy $here $there "$T/img-$s")
				[ -n "$n" ] && echo "$n" >> "$T/res-$s-net"
			fi
			t=$here here=$there there=$t
		done
	done
	rm -f "$T/img-$s"
	net=$(median < "$T/res-$s-net")
	for mode in split whole; do
		f=$T/res-$s-$mode
		n=$(wc -l < "$f")
		row="$s $mode $n $(field bytes < "$f" | median)"
		for k in total_ms pause_ms checkpoint_ms transfer_ms restart_ms; do
			row="$row $(field $k < "$f" | median)"
		done
		rows="$rows$row $net\n"
	done
	[ $ok = 1 ] || rows="$rows$s error: a move failed (see $LOG)\n"
	kill_pid=$(cat "$T/home-$here/pods/mig$s/pid" 2>/dev/null)
	[ -n "$kill_pid" ] && on "$here" kill -9 "$kill_pid" 2>/dev/null # a pid of that host's namespace
done

echo "zap migrate between two network namespaces (veth pairs on a bridge), stop-and-copy, $(date -u '+%Y-%m-%d %H:%M UTC'),"
echo "kernel $(uname -r), $(nproc) CPUs.  Both hosts' state and images in /dev/shm.  Medians of N moves (a->b, b->a, ...)"
echo "after one warm-up move, in ms.  pause: from the start of the checkpoint until zapd says the pod runs there."
echo "split: the restart begins once all but the page data is in and fills memory while the pages arrive (the default);"
echo "whole: the image whole first, then the restart (ZAP_MIGRATE_WHOLE=1).  The two alternate, in the same run."
echo "netcopy: the native baseline, the same bytes over one TCP connection between the two hosts into a new"
echo "tmpfs file (bench/zbench.c netsend/netrecv), after each move."
echo
printf "%-8s %-5s %2s %9s %9s %9s %11s %9s %9s %9s %9s %14s\n" heap mode N "image MiB" total pause checkpoint transfer restart netcopy "pause/net" "target pause"
printf "$rows" | while read -r s mode n img tot pause ck xf rs net; do
	case $mode in error*) printf "%-8s %s\n" "$s MiB" "$mode $n $img $tot $pause"; continue ;; esac
	mib=$(awk -v b="$img" 'BEGIN { if (b == "-") print "-"; else printf "%.1f", b / 1048576 }')
	ratio=$(awk -v p="$pause" -v n="$net" 'BEGIN { if (p == "-" || n == "-" || n == 0) print "-"; else printf "%.2fx", p / n }')
	tgt=-
	[ "$s" = 64 ] && [ "$mode" = split ] && tgt=$(awk -v p="$pause" 'BEGIN { print (p != "-" && p <= 300) ? "<=300 PASS" : "<=300 FAIL" }')
	printf "%-8s %-5s %2s %9s %9s %9s %11s %9s %9s %9s %9s %14s\n" "$s MiB" "$mode" "$n" "$mib" "$tot" "$pause" "$ck" "$xf" "$rs" "$net" "$ratio" "$tgt"
done

# The pause as a client sees it: a pod of two processes on a, bigmem with M
# MiB and echosum --echo exposed through zap-proxy on c; a client on c
# doing 1-byte round trips through the proxy without pause while the pod
# moves; its longest round trip is the pause it saw.  BENCH_MIGRATE_CLIENT_REPS
# moves per size (default 3).
CREPS=${BENCH_MIGRATE_CLIENT_REPS:-3}
P=7310
crows=""
for s in $SIZES; do
	pod=cv$s P=$((P + 1))
	echo "bench/migrate: $s MiB: the client-visible pause" >&2
	( on a "$ZAP" run --pod $pod --proxy "$C:$CP" --key "$HOSTS_KEY" --expose $P -- sh -c \
		"'$PROGS/bigmem' $s > '$T/cvmem-$s.out' & exec '$PROGS/echosum' --echo 0.0.0.0:$P '$T/cvreport-$s'" ) \
		> "$T/cv-$s.out" 2>> "$LOG" &
	if ! wait_for "grep -q listening $T/cv-$s.out && [ \$(lines $T/cvmem-$s.out) -ge 1 ] &&
			grep -q 'port $P open' $T/proxy.err" "$STEP_S"; then
		crows="$crows$s error: the pod did not start\n"
		continue
	fi
	here=a there=b
	: > "$T/cvres-$s"
	for i in $(seq 1 "$CREPS"); do
		rm -f "$T/stop"
		( on c timeout "$STEP_S" "$PROGS/streamclient" --pingpong 100000000 --stop "$T/stop" "$C:$P" ) \
			> "$T/pp.out" 2>> "$LOG" &
		cl=$!
		wait_for "grep -q local $T/pp.out" 10
		sleep 0.3
		r=$(move $here $there $pod split)
		sleep 0.3
		touch "$T/stop"
		wait $cl
		max=$(sed -n 's/.* max_us \([0-9.]*\).*/\1/p' "$T/pp.out")
		med=$(sed -n 's/.* median_us \([0-9.]*\).*/\1/p' "$T/pp.out")
		echo "size_mib=$s client run=$i from=$here $(tail -1 "$T/pp.out") $r" >> "$RAW"
		if [ -z "$r" ] || [ -z "$max" ]; then
			echo "bench/migrate: $s MiB: client move $i ($here -> $there) failed" >&2
			break
		fi
		echo "$max $(echo "$r" | field pause_ms) $med" >> "$T/cvres-$s"
		wait_for "[ -s $T/home-$there/pods/$pod/pid ]" 10
		t=$here here=$there there=$t
	done
	n=$(wc -l < "$T/cvres-$s")
	crows="$crows$s $n $(cut -d' ' -f1 "$T/cvres-$s" | median) $(cut -d' ' -f2 "$T/cvres-$s" | median) $(cut -d' ' -f3 "$T/cvres-$s" | median)\n"
	kill_pid=$(cat "$T/home-$here/pods/$pod/pid" 2>/dev/null)
	[ -n "$kill_pid" ] && on "$here" kill -9 -- -"$kill_pid" "$kill_pid" 2>/dev/null
done
echo
echo "The pause a client sees: its longest 1-byte round trip through zap-proxy (on a third host) while the"
echo "pod (bigmem with the heap, and echosum --echo) moves; medians of $CREPS moves, ms (round trips in us)."
echo
printf "%-8s %2s %16s %16s %16s\n" heap N "client pause" "pod pause" "rtt median us"
printf "$crows" | while read -r s n cmax cpause cmed; do
	case $n in error*) printf "%-8s %s\n" "$s MiB" "$n $cmax $cpause"; continue ;; esac
	cms=$(awk -v u="$cmax" 'BEGIN { if (u == "-") print "-"; else printf "%.1f", u / 1000 }')
	printf "%-8s %2s %16s %16s %16s\n" "$s MiB" "$n" "$cms" "$cpause" "$cmed"
done
echo "DMTCP and CRIU rows: none (neither migrates to a remote host by itself; see bench/README.md)."
echo "Raw: $RAW; stderr of everything: $LOG."
