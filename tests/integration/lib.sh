# Shared helpers for the integration tests.  Each test script sources this,
# runs in its own scratch directory with its own ZAP_HOME, bounds every wait,
# and exits 0 (pass), 1 (fail) or 77 (skip).  Processes it started are
# killed on exit, whatever happened.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-$TOP/build}
ZAP=$B/bin/zap
EX=$B/examples
PROGS=$B/tests/progs
T=$(mktemp -d /tmp/zap-test.XXXXXX)
export ZAP_HOME=$T/home
mkdir -p "$ZAP_HOME"
cd "$T"

cleanup() {
	# every process that still carries our ZAP_HOME in its environment
	for p in $(grep -l "ZAP_HOME=$ZAP_HOME" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null
	done
	jobs -p | xargs -r kill -9 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.err; do [ -s "$f" ] && { echo "--- $f" >&2; tail -5 "$f" >&2; }; done
	exit 1
}
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "  $*" >&2; }

# wait_for COND_CMD SECONDS: polls every 20 ms
wait_for() {
	local cond=$1 secs=$2 i=0 n
	n=$((secs * 50))
	while ! eval "$cond" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $n ] && return 1
		sleep 0.02
	done
}

# lines FILE: number of lines now
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }

# start_pod NAME OUT -- CMD...: `zap run` in the background, stdout to OUT
# through a pipe (so that stdout is inherited on restart, not reopened)
start_pod() {
	local name=$1 out=$2
	shift 3
	( "$ZAP" run --pod "$name" -- "$@" | cat > "$out" ) 2> "$T/$name.run.err" &
	wait_for "[ -s $ZAP_HOME/pods/$name/pid ]" 10 || fail "pod $name did not start"
}

# restart_bg IMAGE OUT [ARGS]: `zap restart` in the background
restart_bg() {
	local img=$1 out=$2
	shift 2
	( set -o pipefail; timeout 120 "$ZAP" restart "$@" "$img" | cat > "$out" ) 2> "$out.err" &
}

# checkpoint_kill NAME: checkpoint --kill and wait for `zap run` to end
checkpoint_kill() {
	timeout 120 "$ZAP" checkpoint --kill "$1" > "$T/$1.ck.out" 2> "$T/$1.ck.err" ||
		fail "checkpoint --kill $1 failed: $(cat "$T/$1.ck.err")"
}

# same FILE_A FILE_B: byte-identical or fail with a diff excerpt
same() {
	cmp -s "$1" "$2" || { diff "$1" "$2" | head -10 >&2; fail "$1 differs from $2"; }
}

# roundtrip NAME WAIT_COND -- CMD...: runs CMD plain (the reference) and
# under zap at once; when WAIT_COND holds (it may look at $T/NAME.1), checkpoints
# with --kill, restarts, and checks that the two outputs joined equal the
# reference byte for byte (with SORTED=1: as sorted lines, for programs
# whose threads or tasks interleave differently from run to run).
roundtrip() {
	local name=$1 cond=$2
	shift 3
	( "$@" > "$T/$name.ref" 2> /dev/null ) &
	local refpid=$!
	start_pod "$name" "$T/$name.1" -- "$@"
	wait_for "$cond" 60 || fail "$name: never reached: $cond"
	checkpoint_kill "$name"
	wait_for "! [ -s $ZAP_HOME/pods/$name/pid ]" 20 || fail "$name: zap run did not end"
	grep -q "checkpointed to" "$T/$name.run.err" || fail "$name: zap run did not report the checkpoint"
	restart_bg "$ZAP_HOME/pods/$name/image" "$T/$name.2"
	local rpid=$!
	wait $rpid || fail "$name: restart exited $?: $(cat "$T/$name.2.err")"
	wait $refpid
	cat "$T/$name.1" "$T/$name.2" > "$T/$name.joined"
	if [ -n "${SORTED:-}" ]; then
		sort -o "$T/$name.joined" "$T/$name.joined"
		sort -o "$T/$name.ref" "$T/$name.ref"
	fi
	same "$T/$name.joined" "$T/$name.ref"
	note "$name: $(lines "$T/$name.1") lines before, $(lines "$T/$name.2") after the restart"
}

# free_ports N: the first of N consecutive TCP ports that nobody uses on
# this host, chosen at random below the ephemeral range (a port in that
# range can be taken at any moment by an outgoing connection, ours too)
free_ports() {
	python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    first = random.randrange(10000, lo - n)
    socks = []
    try:
        for p in range(first, first + n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(first)
    sys.exit(0)
sys.exit(1)
PY
}

# resumed: how many tunnels the zap-proxy logging to proxy.err (-v) has
# resumed so far
resumed() { grep -c 'resumed' proxy.err; }

# proxy_rounds POD ROUNDS PAUSE_S CLIENT_PID: ROUNDS times, checkpoint --kill
# pod POD (its output then in POD.I) and restart it; each time its tunnel
# must resume at the proxy, and the client (still streaming through it)
# must live through the checkpoint and, PAUSE_S later, the restart
proxy_rounds() {
	local pod=$1 rounds=$2 pause=$3 client=$4 i before
	for i in $(seq 1 "$rounds"); do
		before=$(resumed)
		timeout 60 "$ZAP" checkpoint --kill "$pod" > "ck.$i.out" 2> "ck.$i.err" ||
			fail "checkpoint --kill $i failed: $(cat ck.$i.err)"
		kill -0 "$client" 2> /dev/null || fail "the client ended during checkpoint $i: $(cat client.out)"
		( timeout 120 "$ZAP" restart "$ZAP_HOME/pods/$pod/image" | cat > "$pod.$i" ) 2> "$pod.$i.err" &
		wait_for "[ \$(resumed) -gt $before ]" 30 || fail "round $i: the tunnel did not resume: $(tail -5 proxy.err)"
		sleep "$pause"
		kill -0 "$client" 2> /dev/null || fail "the client ended after restart $i: $(cat client.out)"
	done
}

# stream_done CLIENT_PID: a streamclient (output in client.out, started with
# --stop $T/stop) against echosum (report in $T/report) told to stop; fails
# unless each saw every byte the other sent, in order, and no more
stream_done() {
	touch "$T/stop"
	wait_for "grep -q ' ok\|error\|MISMATCH' client.out" 60 || fail "the client did not finish: $(cat client.out)"
	wait "$1" || fail "client: $(tail -1 client.out)"
	wait_for "[ -s $T/report ]" 10 || fail "echosum wrote no report"
	note "client: $(tail -1 client.out)"
	note "server: $(cat report)"
	grep -q ' ok$' report || fail "echosum: $(cat report)"
	read -r _ sent _ received _ < <(tail -1 client.out)
	grep -q "received $sent sent $received ok" report ||
		fail "byte counts differ: client sent $sent received $received; server: $(cat report)"
}
