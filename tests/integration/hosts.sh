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
#
# The addresses exist only inside the namespaces (HOSTS_NET is 10.231.X.0
# with X from our pid, so concurrent tests do not share a subnet).  On exit,
# even after a failure, every process in our namespaces is killed, then
# lib.sh's cleanup runs, then the namespaces go.  The hosts share this
# machine's filesystem (zap's "files are shared between hosts" assumption).
#
# Every host has its own PID namespace too (HOSTS_PIDNS=0 turns that off),
# with /proc mounted for it in a mount namespace of its own: a bash that
# reaps orphans is its pid 1, and `on` enters it (nsenter), so a pod's real
# pids differ from host to host as on real machines.  Pids in a host's
# files (pods/NAME/pid) are that host's: use `on HOST kill ...`, never a
# plain kill, with them.
HOSTS_ID=zt$$
HOSTS_NET=10.231.$(( $$ % 200 + 20 ))
HOSTS_PORT=7207
HOSTS_KEY=$T/key
HOSTS_LIST=""
HOSTS_PIDNS=${HOSTS_PIDNS:-1}

hosts_cleanup() {
	local h
	for h in $HOSTS_LIST br; do
		ip netns pids "$HOSTS_ID-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
	done
	for h in $HOSTS_LIST; do # the PID namespaces' init, and whatever is left in them
		local init
		init=$(eval "echo \${HOST_INIT_$h:-}")
		[ -n "$init" ] && kill -9 "$init" 2> /dev/null
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
	[ "$HOSTS_PIDNS" = 1 ] || return 0
	command -v unshare > /dev/null && command -v nsenter > /dev/null || skip "no unshare/nsenter"
	ip netns exec "$ns" unshare --pid --fork --mount-proc \
		bash -c 'trap : CHLD; while :; do sleep 1 & wait; done' > /dev/null 2>&1 &
	local u=$! init=
	disown $u
	wait_for "[ -n \"\$(cat /proc/$u/task/$u/children 2> /dev/null)\" ]" 5 || fail "no PID namespace for $name"
	init=$(cat "/proc/$u/task/$u/children")
	eval "HOST_INIT_$name=${init%% *}"
}

host_addr() { eval "echo \$HOST_ADDR_$1"; }

on() {
	local name=$1 init
	shift
	init=$(eval "echo \${HOST_INIT_$name:-}")
	if [ -n "$init" ]; then
		nsenter -t "$init" -p -m -n env ZAP_HOME="$T/home-$name" "$@"
	else
		ip netns exec "$HOSTS_ID-$name" env ZAP_HOME="$T/home-$name" "$@"
	fi
}

host_zapd() {
	local name=$1 port=${2:-$HOSTS_PORT}
	shift 2 2> /dev/null || shift
	local log=$T/home-$name/zapd-$port.err
	: > "$log"
	on "$name" env "$@" "$B/bin/zapd" --listen "$(host_addr "$name"):$port" --key "$HOSTS_KEY" \
		2>> "$log" &
	disown $! # no "Killed" from bash when the cleanup kills it
	wait_for "grep -q 'listening on' $log" 10 || fail "zapd on $name did not start: $(cat "$log")"
}


# pod_pid HOST POD: the pod's main pid on HOST (as HOST sees it) if it runs
# there (else nothing)
pod_pid() {
	local f=$T/home-$1/pods/$2/pid p
	[ -s "$f" ] || return 1
	p=$(cat "$f")
	on "$1" kill -0 "$p" 2> /dev/null && echo "$p"
}

# advancing FILE SECONDS: FILE gains lines within SECONDS
advancing() {
	local n
	n=$(lines "$1")
	wait_for "[ \$(lines $1) -gt $n ]" "$2"
}
