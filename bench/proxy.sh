#!/bin/bash
# Proxy benchmark: throughput and round-trip latency of a TCP connection
# through zap-proxy against a direct connection, in the same run, on
# loopback.  The server (tests/integration/progs/echosum) runs in a pod
# started with `zap run --proxy --expose` for the proxied case and plain for
# the direct one; the client is tests/integration/progs/streamclient.
#   throughput: one direction at a time (echosum --sink / --raw), for
#               BENCH_PROXY_S seconds (default 3), BENCH_PROXY_REPS runs each
#               (default 5), direct and proxied runs interleaved; medians
#   latency:    1-byte ping-pong, BENCH_PROXY_PINGS round trips (default
#               5000), median and p99
#   set-up:     BENCH_PROXY_CONNS new connections (default 300), each from
#               connect to its first echoed byte, median and p99
# The issue's target: proxied >= 90 % of direct throughput.
#   bash bench/proxy.sh            all on loopback
#   bash bench/proxy.sh --hosts    client, proxy and pod on three hosts
#                                  (network namespaces, tests/integration/hosts.sh;
#                                  root only, says so otherwise)
# Every wait is bounded; whatever it started is killed on exit.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
ZAP=$B/bin/zap PROXY=$B/bin/zap-proxy
SRV=$B/tests/progs/echosum CLI=$B/tests/progs/streamclient
SECS=${BENCH_PROXY_S:-3}
REPS=${BENCH_PROXY_REPS:-5}
PINGS=${BENCH_PROXY_PINGS:-5000}
CONNS=${BENCH_PROXY_CONNS:-300}
WORK=/dev/shm/zapproxy.$$
export ZAP_HOME=$WORK/home
for f in "$ZAP" "$PROXY" "$SRV" "$CLI"; do
	[ -x "$f" ] || { echo "bench/proxy: $f is missing: run make" >&2; exit 1; }
done

. "$(dirname "$0")/lib.sh"
bench_cleanup_on_exit
trap 'exit 124' INT TERM HUP
wait_grep() { # pattern file seconds
	i=0
	while ! grep -q "$1" "$2" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 20)) ] && return 1
		sleep 0.05
	done
}
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }

mkdir -p "$WORK/home"
cd "$WORK" || exit 1
if [ "${1:-}" = --hosts ]; then
	# what tests/integration/hosts.sh expects of its caller
	T=$WORK
	fail() { echo "bench/proxy: $*" >&2; exit 1; }
	skip() { echo "Proxy between hosts: skipped: $*"; exit 0; }
	wait_for() {
		local i=0
		while ! eval "$1" >/dev/null 2>&1; do
			i=$((i + 1))
			[ $i -ge $(($2 * 50)) ] && return 1
			sleep 0.02
		done
	}
	. "$ROOT/tests/integration/hosts.sh"
	hosts_init
	host_add a 1
	host_add c 3
	host_add d 4
	SA=$(host_addr a) PA=$(host_addr c) KEY=$HOSTS_KEY
	ONP="on a" ONX="on c" ONC="on d"
	WHERE="three hosts (network namespaces on a bridge): client on d, proxy on c, pod on a"
else
	head -c 32 /dev/urandom > key
	SA=127.0.0.1 PA=127.0.$(($$ % 200 + 30)).$(($$ % 7 + 40)) KEY=key
	ONP= ONX= ONC=
	WHERE="loopback"
fi
CP=$((30000 + $$ % 20000))
P=$((CP + 1)) PE=$((CP + 2)) PS=$((CP + 3)) D=$((CP + 4)) DE=$((CP + 5)) DS=$((CP + 6))
$ONX "$PROXY" --listen "$PA:$CP" --key "$KEY" 2> proxy.log &
wait_grep listening proxy.log 10 || { echo "bench/proxy: zap-proxy did not start" >&2; exit 1; }
pod() { # name port args...
	n=$1 p=$2
	shift 2
	$ONP "$ZAP" run --pod "$n" --proxy "$PA:$CP" --key "$KEY" --expose "$p" -- "$SRV" "$@" $SA:$p rep.$n > $n.out 2> $n.err &
}
pod psrc "$P" --raw
pod pecho "$PE" --echo
pod psink "$PS" --sink
$ONP "$SRV" --raw $SA:$D rep.d > dsrc.out 2> dsrc.err &
$ONP "$SRV" --echo $SA:$DE rep.de > decho.out 2> decho.err &
$ONP "$SRV" --sink $SA:$DS rep.ds > dsink.out 2> dsink.err &
for f in psrc pecho psink dsrc decho dsink; do
	wait_grep listening $f.out 10 || { echo "bench/proxy: a server did not start: $(cat $f.err)" >&2; exit 1; }
done
for p in $P $PE $PS; do
	wait_grep "port $p open" proxy.log 10 || { echo "bench/proxy: the proxy did not open port $p" >&2; exit 1; }
done

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/proxy: $REPS x $SECS s each way and path, interleaved" >&2
run() { # path dir addr: one run, MB/s appended to tp.DIR.PATH
	case $2 in up) flag=--raw f=6 ;; *) flag=--down f=8 ;; esac
	r=$($ONC timeout $((SECS + 30)) "$CLI" $flag --seconds "$SECS" "$3" | tail -1)
	echo "$r" | grep -q ' ok$' || { echo "bench/proxy: $1 $2 run failed: $r" >&2; return; }
	echo "$r" | awk -v f=$f '{ print $f }' >> "tp.$2.$1"
}
for i in $(seq 1 "$REPS"); do
	run direct up $SA:$DS
	run proxy up $PA:$PS
	run direct down $SA:$D
	run proxy down $PA:$P
done
for c in direct:$SA:$DE proxy:$PA:$PE; do
	$ONC timeout 120 "$CLI" --pingpong "$PINGS" "${c#*:}" | tail -1 > "lat.${c%%:*}"
	$ONC timeout 120 "$CLI" --connects "$CONNS" "${c#*:}" | tail -1 > "conn.${c%%:*}"
done

printf '\nzap-proxy against a direct connection, %s, %s CPUs, loadavg %s at start, %s at end\n' \
	"$WHERE" "$(nproc)" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-5s %10s %14s %10s   %10s %10s\n' "path" "way" "MB/s" "min..max" "of direct" "rtt med us" "rtt p99 us"
worst=1000
for dir in up down; do
	tpd=$(median < tp.$dir.direct)
	for c in direct proxy; do
		tp=$(median < tp.$dir.$c)
		rng=$(sort -n tp.$dir.$c | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f..%.0f", a, b }')
		pct=$(awk -v a="$tp" -v b="$tpd" 'BEGIN { printf "%.0f", 100 * a / b }')
		[ $c = proxy ] && [ "$pct" -lt "$worst" ] && worst=$pct
		lat1=- lat2=-
		[ $dir = up ] && lat1=$(awk '{ print $5 }' lat.$c) lat2=$(awk '{ print $7 }' lat.$c)
		printf '%-8s %-5s %10.0f %14s %9s %%   %10s %10s\n' "$c" "$dir" "$tp" "$rng" "$pct" "$lat1" "$lat2"
	done
done
echo "up: client to pod (through the replay ring); down: pod to client (spliced)."
echo "target: proxied >= 90 % of direct: worst direction $worst % $( [ "$worst" -ge 90 ] && echo PASS || echo FAIL)"
awk -v a="$(awk '{ print $5 }' lat.proxy)" -v b="$(awk '{ print $5 }' lat.direct)" \
	'BEGIN { printf "added round-trip latency (median): %.1f us\n", a - b }'
for c in direct proxy; do
	printf 'new connection, connect to first echoed byte, %-6s median %8s us, p99 %8s us\n' "$c" \
		"$(awk '{ print $5 }' conn.$c)" "$(awk '{ print $7 }' conn.$c)"
done
awk -v a="$(awk '{ print $5 }' conn.proxy)" -v b="$(awk '{ print $5 }' conn.direct)" \
	'BEGIN { printf "added connection set-up latency (median): %.1f us\n", a - b }'
