#!/bin/bash
# Proxy benchmark: throughput and round-trip latency of a TCP connection
# through zap-proxy against a direct connection, in the same run and the
# same layout.  The server (tests/integration/progs/echosum) runs in a pod
# started with `zap run --proxy --expose` for the proxied case and plain for
# the direct one; the client is tests/integration/progs/streamclient, the
# same programs, buffers and duration for both.
#   throughput: one direction at a time (echosum --sink / --raw), for
#               BENCH_PROXY_S seconds (default 3), BENCH_PROXY_REPS runs each
#               (default 5), direct and proxied runs interleaved; medians,
#               and the proxy's CPU time per GB moved (user + system)
#   latency:    1-byte ping-pong, BENCH_PROXY_PINGS round trips (default
#               5000), median and p99
#   set-up:     BENCH_PROXY_CONNS new connections (default 300), each from
#               connect to its first echoed byte, median and p99
# The issue's target: proxied >= 90 % of direct throughput, per row.
#   bash bench/proxy.sh [LAYOUT...]     default: loopback link
#     loopback  client, proxy and pod on this machine's loopback: all of them
#               share its CPUs (the worst case for the proxy)
#     hosts     client, proxy and pod on three hosts (network namespaces on a
#               bridge, tests/integration/hosts.sh; root only)
#     link      the same three hosts, each one's link limited to
#               BENCH_PROXY_RATE (default 1gbit) with BENCH_PROXY_DELAY
#               (default 100us) each way (tc netem; tbf, at the rate with
#               no delay, where the kernel has no netem): hosts on a network
#     --hosts   the same as hosts
# A layout that cannot run here says why in its rows.  Every wait is
# bounded; whatever it started is killed and its namespaces deleted on exit.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
ZAP=$B/bin/zap PROXY=$B/bin/zap-proxy
SRV=$B/tests/progs/echosum CLI=$B/tests/progs/streamclient
SECS=${BENCH_PROXY_S:-3}
REPS=${BENCH_PROXY_REPS:-5}
PINGS=${BENCH_PROXY_PINGS:-5000}
CONNS=${BENCH_PROXY_CONNS:-300}
RATE=${BENCH_PROXY_RATE:-1gbit}
DELAY=${BENCH_PROXY_DELAY:-100us}
WORK=/dev/shm/zapproxy.$$
export ZAP_HOME=$WORK/home
for f in "$ZAP" "$PROXY" "$SRV" "$CLI"; do
	[ -x "$f" ] || { echo "bench/proxy: $f is missing: run make" >&2; exit 1; }
done
LAYOUTS=${*:-loopback link}
LAYOUTS=${LAYOUTS//--hosts/hosts}

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
head -c 32 /dev/urandom > lkey # (hosts.sh makes $WORK/key)

# ---- the hosts (network namespaces), made once for hosts and link ----
HOSTS_UP=
hosts_up() { # 0 when the three hosts are there; else why not in $WHYNOT
	[ -n "$HOSTS_UP" ] && return "$HOSTS_UP"
	HOSTS_UP=1
	if [ "$(id -u)" != 0 ]; then WHYNOT="needs root (network namespaces)"; return 1; fi
	if ! command -v ip > /dev/null || ! command -v tc > /dev/null; then
		WHYNOT="needs ip and tc (iproute2: deps.sh)"
		return 1
	fi
	# what tests/integration/hosts.sh expects of its caller
	T=$WORK
	fail() { echo "bench/proxy: $*" >&2; exit 1; }
	skip() { echo "bench/proxy: $*" >&2; exit 1; }
	cleanup() { bench_cleanup; }
	wait_for() {
		local i=0
		while ! eval "$1" >/dev/null 2>&1; do
			i=$((i + 1))
			[ $i -ge $(($2 * 50)) ] && return 1
			sleep 0.02
		done
	}
	. "$ROOT/tests/integration/hosts.sh"
	if ! ip netns add "$HOSTS_ID-probe" 2> /dev/null; then WHYNOT="ip netns does not work here"; return 1; fi
	ip netns del "$HOSTS_ID-probe"
	# the hosts' own processes (their PID namespaces' init) under a
	# ZAP_HOME of their own, so that ending a layout spares them
	export ZAP_HOME=$WORK/hosts
	hosts_init # its trap deletes the namespaces on exit
	trap 'exit 124' INT TERM HUP
	host_add a 1
	host_add c 3
	host_add d 4
	export ZAP_HOME=$WORK/home
	HOSTS_UP=0
}
# link RATE DELAY | link off: every host's eth0 sends at RATE after DELAY
# (netem); where the kernel has no netem, at RATE without a delay (tbf, with
# a burst above the 64 KiB of a GSO packet).  LINK says which.
link() {
	local h
	for h in a c d; do
		ip netns exec "$HOSTS_ID-$h" tc qdisc del dev eth0 root 2> /dev/null
		[ "$1" = off ] && continue
		if ip netns exec "$HOSTS_ID-$h" tc qdisc add dev eth0 root netem delay "$2" rate "$1" limit 100000 2> /dev/null; then
			LINK="$1, $2 each way (tc netem)"
		elif ip netns exec "$HOSTS_ID-$h" tc qdisc add dev eth0 root tbf rate "$1" burst 256kb latency 20ms; then
			LINK="$1 (tc tbf; no netem in this kernel: no added delay)"
		else
			return 1
		fi
	done
}

# ---- one layout: servers, proxy, interleaved runs; results in $L.* ----
CPUS=$(nproc)
proxy_cpu() { # the proxy's user + system time, in clock ticks
	if [ -n "$PXPID" ]; then awk '{ print $14 + $15 }' "/proc/$PXPID/stat" 2> /dev/null || echo 0; else echo 0; fi
}
# the processes of this layout: those with ZAP_HOME $WORK/home (loopback),
# or $WORK/home-HOST (hosts.sh's `on`)
ours() {
	if [ "$L" = loopback ]; then
		grep -lsaxz "ZAP_HOME=$WORK/home" /proc/[0-9]*/environ
	else
		grep -lsaz "^ZAP_HOME=$WORK/home-" /proc/[0-9]*/environ
	fi | cut -d/ -f3 | grep -vx "$$"
}
measure() { # layout
	L=$1
	case $L in
	loopback)
		SA=127.0.0.1 PA=127.0.$(($$ % 200 + 30)).$(($$ % 7 + 40)) KEY=$WORK/lkey
		ONP= ONX= ONC=
		WHERE="loopback: client, proxy and pod on this machine ($CPUS CPUs)"
		;;
	hosts | link)
		hosts_up || { echo "$WHYNOT" > "$L.skip"; return; }
		link off
		if [ "$L" = link ] && ! link "$RATE" "$DELAY"; then
			echo "tc cannot limit the links here" > "$L.skip"
			return
		fi
		SA=$(host_addr a) PA=$(host_addr c) KEY=$HOSTS_KEY
		ONP="on a" ONX="on c" ONC="on d"
		WHERE="three hosts (network namespaces on a bridge): client on d, proxy on c, pod on a"
		[ "$L" = link ] && WHERE="$WHERE; each host's link: $LINK"
		;;
	esac
	echo "$WHERE" > "$L.where"
	mkdir -p "$WORK/$L"
	cd "$WORK/$L" || return
	CP=$((30000 + ($$ * 7 + ${#L} * 101) % 20000))
	P=$((CP + 1)) PE=$((CP + 2)) PS=$((CP + 3)) D=$((CP + 4)) DE=$((CP + 5)) DS=$((CP + 6))
	$ONX "$PROXY" --listen "$PA:$CP" --key "$KEY" 2> proxy.log &
	wait_grep listening proxy.log 10 || { echo "zap-proxy did not start" > "../$L.skip"; cd ..; return; }
	PXPID=
	for p in $(ours); do
		[ "$(cat "/proc/$p/comm" 2> /dev/null)" = zap-proxy ] && PXPID=$p
	done
	pod() { # name port args...
		n=$1 p=$2
		shift 2
		$ONP "$ZAP" run --pod "$L$n" --proxy "$PA:$CP" --key "$KEY" --expose "$p" -- "$SRV" "$@" $SA:$p rep.$n > $n.out 2> $n.err &
	}
	pod psrc "$P" --raw
	pod pecho "$PE" --echo
	pod psink "$PS" --sink
	$ONP "$SRV" --raw $SA:$D rep.d > dsrc.out 2> dsrc.err &
	$ONP "$SRV" --echo $SA:$DE rep.de > decho.out 2> decho.err &
	$ONP "$SRV" --sink $SA:$DS rep.ds > dsink.out 2> dsink.err &
	for f in psrc pecho psink dsrc decho dsink; do
		wait_grep listening $f.out 10 || { echo "a server did not start: $(cat $f.err)" > "../$L.skip"; cd ..; return; }
	done
	for p in $P $PE $PS; do
		wait_grep "port $p open" proxy.log 10 || { echo "the proxy did not open port $p" > "../$L.skip"; cd ..; return; }
	done
	LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "bench/proxy: $L: $REPS x $SECS s each way and path, interleaved" >&2
	run() { # path dir addr: one run; MB/s to ../L.DIR.PATH, proxy ms/GB to .cpu
		case $2 in up) flag=--raw f=6 ;; *) flag=--down f=8 ;; esac
		c0=$(proxy_cpu)
		r=$($ONC timeout $((SECS + 30)) "$CLI" $flag --seconds "$SECS" "$3" | tail -1)
		c1=$(proxy_cpu)
		echo "$r" | grep -q ' ok$' || { echo "bench/proxy: $L $1 $2 run failed: $r" >&2; return; }
		echo "$r" | awk -v f=$f '{ print $f }' >> "../$L.$2.$1"
		[ "$1" = proxy ] && echo "$r" | awk -v f=$f -v c=$((c1 - c0)) -v s="$SECS" -v hz="$(getconf CLK_TCK)" \
			'$f > 0 { printf "%.0f\n", c * 1000 / hz / ($f * s / 1000) }' >> "../$L.$2.cpu"
	}
	for i in $(seq 1 "$REPS"); do
		run direct up $SA:$DS
		run proxy up $PA:$PS
		run direct down $SA:$D
		run proxy down $PA:$P
	done
	for c in direct:$SA:$DE proxy:$PA:$PE; do
		$ONC timeout 120 "$CLI" --pingpong "$PINGS" "${c#*:}" | tail -1 > "../$L.lat.${c%%:*}"
		$ONC timeout 120 "$CLI" --connects "$CONNS" "${c#*:}" | tail -1 > "../$L.conn.${c%%:*}"
	done
	echo "loadavg $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end" >> "../$L.where"
	cd "$WORK" || return
	disown -a
	pids=$(ours)
	[ -n "$pids" ] && kill -9 $pids 2> /dev/null
	wait 2> /dev/null
}

for L in $LAYOUTS; do
	case $L in
	loopback | hosts | link) measure "$L" ;;
	*) echo "bench/proxy: unknown layout '$L' (loopback, hosts, link)" >&2; exit 2 ;;
	esac
done

# ---- the table ----
printf '\nzap-proxy against a direct connection (same run, same layout; medians of %s x %s s)\n' "$REPS" "$SECS"
for L in $LAYOUTS; do
	[ -f "$L.where" ] && printf '  %-9s %s\n' "$L" "$(awk 'NR > 1 { printf "; " } { printf "%s", $0 }' "$L.where")"
done
printf '%-9s %-5s %9s %9s %12s %9s %6s %11s %8s %8s\n' layout way "direct" "proxied" "proxied range" "of direct" "" "proxy ms/GB" "rtt dir" "rtt prx"
worst=PASS
for L in $LAYOUTS; do
	if [ -f "$L.skip" ]; then
		printf '%-9s %-5s skipped: %s\n' "$L" "-" "$(cat "$L.skip")"
		continue
	fi
	for dir in up down; do
		tpd=$(median 2> /dev/null < "$L.$dir.direct")
		tpp=$(median 2> /dev/null < "$L.$dir.proxy")
		rng=$(sort -n "$L.$dir.proxy" 2> /dev/null | awk 'NR == 1 { a = $1 } { b = $1 } END { if (NR) printf "%.0f..%.0f", a, b; else print "-" }')
		pct=$(awk -v a="$tpp" -v b="$tpd" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.0f", 100 * a / b; else print "-" }')
		verdict=FAIL
		[ "$pct" != - ] && [ "$pct" -ge 90 ] && verdict=PASS
		[ $verdict = FAIL ] && worst=FAIL
		lat1=- lat2=-
		if [ $dir = up ]; then
			lat1=$(awk '{ print $5 }' "$L.lat.direct" 2> /dev/null)
			lat2=$(awk '{ print $5 }' "$L.lat.proxy" 2> /dev/null)
		fi
		printf '%-9s %-5s %9.0f %9.0f %12s %8s%% %6s %11s %8s %8s\n' "$L" "$dir" "$tpd" "$tpp" "$rng" "$pct" \
			"$verdict" "$(median 2> /dev/null < "$L.$dir.cpu")" "${lat1:--}" "${lat2:--}"
	done
done
echo "MB/s; up: client to pod (spliced, teed into the replay ring); down: pod to client (spliced)."
echo "rtt: median 1-byte round trip in us (direct, proxied).  Target: proxied >= 90 % of direct in every row: $worst"
for L in $LAYOUTS; do
	[ -f "$L.conn.proxy" ] || continue
	printf '%-9s new connection, connect to first echoed byte: median %s us direct, %s us proxied (p99 %s, %s)\n' "$L" \
		"$(awk '{ print $5 }' "$L.conn.direct")" "$(awk '{ print $5 }' "$L.conn.proxy")" \
		"$(awk '{ print $7 }' "$L.conn.direct")" "$(awk '{ print $7 }' "$L.conn.proxy")"
done
