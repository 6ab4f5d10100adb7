#!/bin/sh
# Proxy benchmark: throughput and round-trip latency of a TCP connection
# through zap-proxy against a direct connection, in the same run, on
# loopback.  The server (tests/integration/progs/echosum) runs in a pod
# started with `zap run --proxy --expose` for the proxied case and plain for
# the direct one; the client is tests/integration/progs/streamclient.
#   throughput: --raw, both directions at once for BENCH_PROXY_S seconds
#               (default 3), BENCH_PROXY_REPS runs each (default 5), direct and
#               proxied runs interleaved; medians of up+down MB/s
#   latency:    1-byte ping-pong, BENCH_PROXY_PINGS round trips (default
#               5000), median and p99
# The issue's target: proxied >= 90 % of direct throughput.
#   sh bench/proxy.sh
# Every wait is bounded; whatever it started is killed on exit.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
ZAP=$B/bin/zap PROXY=$B/bin/zap-proxy
SRV=$B/tests/progs/echosum CLI=$B/tests/progs/streamclient
SECS=${BENCH_PROXY_S:-3}
REPS=${BENCH_PROXY_REPS:-5}
PINGS=${BENCH_PROXY_PINGS:-5000}
WORK=/dev/shm/zapproxy.$$
export ZAP_HOME=$WORK/home
for f in "$ZAP" "$PROXY" "$SRV" "$CLI"; do
	[ -x "$f" ] || { echo "bench/proxy: $f is missing: run make" >&2; exit 1; }
done

kill_ours() {
	for p in $(grep -ls "ZAP_HOME=$ZAP_HOME" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null
	done
}
cleanup() {
	trap - EXIT INT TERM HUP
	kill_ours
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
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
head -c 32 /dev/urandom > key
PA=127.0.$(($$ % 200 + 30)).$(($$ % 7 + 40))
CP=$((30000 + $$ % 20000))
P=$((CP + 1)) PE=$((CP + 2)) D=$((CP + 3)) DE=$((CP + 4))
"$PROXY" --listen "$PA:$CP" --key key 2> proxy.log &
wait_grep listening proxy.log 10 || { echo "bench/proxy: zap-proxy did not start" >&2; exit 1; }
"$ZAP" run --pod braw --proxy "$PA:$CP" --key key --expose "$P" -- "$SRV" --raw 127.0.0.1:$P rep.p > p.out 2> p.err &
"$ZAP" run --pod becho --proxy "$PA:$CP" --key key --expose "$PE" -- "$SRV" --echo 127.0.0.1:$PE rep.pe > pe.out 2> pe.err &
"$SRV" --raw 127.0.0.1:$D rep.d > d.out 2> d.err &
"$SRV" --echo 127.0.0.1:$DE rep.de > de.out 2> de.err &
for f in p pe d de; do
	wait_grep listening $f.out 10 || { echo "bench/proxy: a server did not start: $(cat $f.err)" >&2; exit 1; }
done
wait_grep "port $PE open" proxy.log 10 || { echo "bench/proxy: the proxy did not open its ports" >&2; exit 1; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/proxy: $REPS x $SECS s each way, interleaved" >&2
for i in $(seq 1 "$REPS"); do
	for c in direct:127.0.0.1:$D proxy:$PA:$P; do
		r=$(timeout $((SECS + 30)) "$CLI" --raw --seconds "$SECS" "${c#*:}" | tail -1)
		echo "$r" | grep -q ' ok$' || { echo "bench/proxy: ${c%%:*} run $i failed: $r" >&2; continue; }
		echo "$r" | awk '{ print $6 + $8 }' >> "tp.${c%%:*}"
	done
done
for c in direct:127.0.0.1:$DE proxy:$PA:$PE; do
	timeout 120 "$CLI" --pingpong "$PINGS" "${c#*:}" | tail -1 > "lat.${c%%:*}"
done

tpd=$(median < tp.direct) tpp=$(median < tp.proxy)
printf '\nzap-proxy against a direct connection, loopback, %s CPUs, loadavg %s at start, %s at end\n' \
	"$(nproc)" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %14s %14s %12s %10s %10s\n' "" "throughput" "min..max" "of direct" "rtt med" "rtt p99"
printf '%-8s %14s %14s %12s %10s %10s\n' "path" "MB/s (up+down)" "MB/s" "" "us" "us"
for c in direct proxy; do
	tp=$(median < tp.$c)
	rng=$(sort -n tp.$c | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f..%.0f", a, b }')
	pct=$(awk -v a="$tp" -v b="$tpd" 'BEGIN { printf "%.0f %%", 100 * a / b }')
	printf '%-8s %14.0f %14s %12s %10s %10s\n' "$c" "$tp" "$rng" "$pct" \
		"$(awk '{ print $5 }' lat.$c)" "$(awk '{ print $7 }' lat.$c)"
done
awk -v a="$tpp" -v b="$tpd" 'BEGIN { r = 100 * a / b; printf "target: proxied >= 90 %% of direct: %.0f %% %s\n", r, (r >= 90 ? "PASS" : "FAIL") }'
awk -v a="$(awk '{ print $5 }' lat.proxy)" -v b="$(awk '{ print $5 }' lat.direct)" \
	'BEGIN { printf "added round-trip latency (median): %.1f us\n", a - b }'
