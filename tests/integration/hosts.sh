# Test hosts as network namespaces (sourced by a test after lib.sh).
#
#   hosts_init             a bridge in a namespace of its own; skips (77)
#                          unless root with a working `ip netns`
#   host_add NAME N        host NAME: a namespace with eth0 on the bridge at
#                          $HOSTS_NET.N/24, lo up, and its own ZAP_HOME
#                          ($T/home-NAME, so lib.sh's cleanup finds its
#                          processes)
#   host_addr NAME         its address
#   on NAME CMD...         runs CMD on host NAME (its namespace, its ZAP_HOME)
#   host_zapd NAME [PORT] [ENV=V...]  starts zapd on NAME with the key $HOSTS_KEY;
#                          waits (bounded) until it listens; its log is
#                          $T/home-NAME/zapd.err
#   host_zapd_stop NAME    stops it (by pid)
#
# The addresses exist only inside the namespaces (HOSTS_NET is 10.231.X.0
# with X from our pid, so concurrent tests do not share a subnet).  On exit,
# even after a failure, every process in our namespaces is killed, then
# lib.sh's cleanup runs, then the namespaces go.  No PID namespace: the
# hosts share this machine's pids and filesystem (zap's "files are shared
# between hosts" assumption).
HOSTS_ID=zt$$
HOSTS_NET=10.231.$(( $$ % 200 + 20 ))
HOSTS_PORT=7207
HOSTS_KEY=$T/key
HOSTS_LIST=""

hosts_cleanup() {
	local h
	for h in $HOSTS_LIST br; do
		ip netns pids "$HOSTS_ID-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	cleanup
	for h in $HOSTS_LIST br; do
		ip netns del "$HOSTS_ID-$h" 2>/dev/null
	done
}

hosts_init() {
	[ "$(id -u)" = 0 ] || skip "test hosts need root (network namespaces)"
	command -v ip > /dev/null || skip "no ip command (iproute2)"
	ip netns add "$HOSTS_ID-br" 2> /dev/null || skip "ip netns does not work here"
	trap hosts_cleanup EXIT
	ip -n "$HOSTS_ID-br" link add br0 type bridge &&
		ip -n "$HOSTS_ID-br" link set br0 up || fail "cannot make the test bridge"
	"$ZAP" keygen "$HOSTS_KEY" > /dev/null || fail "zap keygen failed"
}

host_add() {
	local name=$1 n=$2 ns=$HOSTS_ID-$1
	ip netns add "$ns" || fail "cannot add namespace $ns"
	HOSTS_LIST="$HOSTS_LIST $name"
	ip -n "$HOSTS_ID-br" link add "p-$name" type veth peer name eth0 netns "$ns" &&
		ip -n "$HOSTS_ID-br" link set "p-$name" master br0 up &&
		ip -n "$ns" addr add "$HOSTS_NET.$n/24" dev eth0 &&
		ip -n "$ns" link set eth0 up &&
		ip -n "$ns" link set lo up || fail "cannot set up host $name"
	mkdir -p "$T/home-$name"
	eval "HOST_ADDR_$name=$HOSTS_NET.$n"
}

host_addr() { eval "echo \$HOST_ADDR_$1"; }

on() {
	local name=$1
	shift
	ip netns exec "$HOSTS_ID-$name" env ZAP_HOME="$T/home-$name" "$@"
}

host_zapd() {
	local name=$1 port=${2:-$HOSTS_PORT}
	shift 2 2> /dev/null || shift
	local log=$T/home-$name/zapd-$port.err
	: > "$log"
	ip netns exec "$HOSTS_ID-$name" env ZAP_HOME="$T/home-$name" "$@" \
		"$B/bin/zapd" --listen "$(host_addr "$name"):$port" --key "$HOSTS_KEY" 2>> "$log" &
	eval "HOST_ZAPD_${name}_$port=$!"
	disown $! # no "Killed" from bash when the cleanup kills it
	wait_for "grep -q 'listening on' $log" 10 || fail "zapd on $name did not start: $(cat "$log")"
}

host_zapd_stop() {
	local name=$1 port=${2:-$HOSTS_PORT} pid
	pid=$(eval "echo \${HOST_ZAPD_${name}_$port:-}")
	[ -n "$pid" ] && kill "$pid" 2> /dev/null && wait_for "! kill -0 $pid" 10
}

# pod_pid HOST POD: the pod's main pid on HOST if it runs there (else nothing)
pod_pid() {
	local f=$T/home-$1/pods/$2/pid p
	[ -s "$f" ] || return 1
	p=$(cat "$f")
	kill -0 "$p" 2> /dev/null && echo "$p"
}

# advancing FILE SECONDS: FILE gains lines within SECONDS
advancing() {
	local n
	n=$(lines "$1")
	wait_for "[ \$(lines $1) -gt $n ]" "$2"
}
