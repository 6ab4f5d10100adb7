# zap-proxy keeps a client connected while the pod behind it is
# checkpointed and restarted: a client streams checked bytes both ways
# through the proxy to echosum (epoll) in a pod, across 5 rounds of checkpoint
# --kill and restart and one checkpoint that lets the pod run on; at the
# end not one byte was lost or doubled either way, and the program's
# getpeername named the real client.  Then the same the other way round: a
# client in a pod connects out, through the proxy, to a server outside.
# First, the authentication (include/zap/tunnel.h, tunauth.py): a wrong key,
# a replayed REGISTER and OPEN, a proxy without the key, a peer that does not
# answer the pod's challenge.  One host, loopback addresses (and a test host
# of its own for the outside server).
. "$(dirname "$0")/lib.sh"
PROXY=$B/bin/zap-proxy
[ -x "$PROXY" ] || fail "no $PROXY"
ROUNDS=${ROUNDS:-5}
# addresses of our own on loopback: the proxy's and the pod's ports do not meet
PA=127.0.$((RANDOM % 200 + 30)).$((RANDOM % 200 + 30))
CP=$(free_ports 7) || fail "no free ports"
P=$((CP + 1))
# CP + 2: the outbound part's server; the authentication part's ports:
PE=$((CP + 3)) RP=$((CP + 4)) FP=$((CP + 5)) PR=$((CP + 6))
TUNAUTH=$TOP/tests/integration/tunauth.py
head -c 32 /dev/urandom > key
"$PROXY" --listen "$PA:$CP" --key key --hold 60 -v 2> proxy.err &
proxy=$!
wait_for "grep -q listening proxy.err" 10 || fail "zap-proxy did not start: $(cat proxy.err)"

# a wrong key is refused
head -c 32 /dev/urandom > badkey
"$ZAP" run --pod bad --proxy "$PA:$CP" --key badkey --expose "$P" -- true 2> bad.err &&
	fail "zap run with a wrong key worked"
grep -q "wrong key" bad.err || fail "no 'wrong key' from zap run: $(cat bad.err)"
wait_for "grep -q 'refused a control connection from .*authentication failed' proxy.err" 5 ||
	fail "the proxy did not log the wrong key: $(tail -3 proxy.err)"

# a REGISTER seen on the wire (a relay in the middle), sent again: refused,
# logged, and the pod stays where it registered from
python3 "$TUNAUTH" relay "$RP" "$PA:$CP" > relay.out 2> relay.err &
wait_for "grep -q listening relay.out" 10 || fail "the relay did not start: $(cat relay.err)"
"$ZAP" run --pod rp --proxy "127.0.0.1:$RP" --key key --expose "$PR" -- true 2> rp.err ||
	fail "zap run through a relay failed: $(cat rp.err)"
wait_for "grep -q replayed relay.out" 10 || fail "the relay did not replay: $(cat relay.out relay.err)"
grep -q "replayed REGISTER: status 13, challenge new" relay.out ||
	fail "a replayed REGISTER was not refused: $(cat relay.out relay.err)"
[ "$(grep -c 'pod rp registered' proxy.err)" = 1 ] || fail "the replayed REGISTER was taken: $(grep 'pod rp' proxy.err)"
[ "$(grep -c 'refused a control connection from .*authentication failed' proxy.err)" = 2 ] ||
	fail "the proxy did not log the replay: $(tail -3 proxy.err)"

# a proxy without the key cannot pass for the real one
python3 "$TUNAUTH" fakeproxy "$FP" > fake.out 2> fake.err &
wait_for "grep -q listening fake.out" 10 || fail "the fake proxy did not start: $(cat fake.err)"
"$ZAP" run --pod fk --proxy "127.0.0.1:$FP" --key key -- true 2> fk.err && fail "zap run believed a fake proxy"
grep -q "authentication failed" fk.err || fail "zap run did not find the fake proxy out: $(cat fk.err)"
grep -q "fake answered REGISTER" fake.out || fail "the fake proxy saw no REGISTER: $(cat fake.out fake.err)"

# the pod's side of OPEN, at the pod's own port: a right OPEN is taken (its
# client address is what the program's getpeername says); the same bytes
# again, an OPEN with another key and a HELLO that leaves the challenge
# unanswered are closed (the last within the 2 s bound) and the program
# never sees them; a connection that does not speak the protocol is the
# program's as it came
( "$ZAP" run --pod auth --proxy "$PA:$CP" --key key --expose "$PE" -- \
	"$PROGS/echosum" --echo "127.0.0.1:$PE" "$T/areport" | cat > auth.0 ) 2> auth.run.err &
wait_for "grep -q listening auth.0" 10 || fail "the auth pod did not start: $(cat auth.run.err)"
timeout 30 python3 "$TUNAUTH" open key "127.0.0.1:$PE" > open.out 2> open.err ||
	fail "tunauth.py open: $(cat open.out open.err)"
for want in "good echoed" "replay closed" "wrongkey closed" "silent closed after [23]\." "plain echoed"; do
	grep -q "^$want" open.out || fail "expected '$want': $(cat open.out)"
done
wait_for "[ \$(lines $T/areport) -ge 2 ]" 5 || fail "echosum did not report: $(cat areport 2>/dev/null)"
sleep 0.2
[ "$(lines areport)" = 2 ] || fail "the program saw connections it should not have: $(cat areport)"
grep -q "^peer 10.9.8.7:4321 received 4 sent 4 ok" areport || fail "the tunnel's client: $(head -1 areport)"
grep -q "^peer 127.0.0.1:" areport || fail "the plain connection: $(tail -1 areport)"
note "authentication: wrong key, replayed REGISTER and OPEN, fake proxy, unanswered challenge: refused"

# a pod of two processes (a shell and its child, the server), checkpointed
# by the pod coordinator; the outbound part below is a pod of one
( "$ZAP" run --pod es --proxy "$PA:$CP" --key key --expose "$P" -- \
	sh -c '"$0" --epoll "$1" "$2"; echo server done' "$PROGS/echosum" "127.0.0.1:$P" "$T/report" |
	cat > es.0 ) 2> es.run.err &
wait_for "grep -q listening es.0" 10 || fail "echosum did not start: $(cat es.run.err)"
wait_for "grep -q 'port $P open' proxy.err" 10 || fail "the proxy did not open port $P"

"$PROGS/streamclient" --rate "${RATE:-20}" --stop "$T/stop" "$PA:$P" > client.out 2> client.err &
client=$!
wait_for "grep -q 'resumed\|tunnel' proxy.err || grep -q local client.out" 10 || fail "client did not connect"
sleep 1

proxy_rounds es "$ROUNDS" 1 $client

# a checkpoint that lets the pod run on: FREEZE, checkpoint, THAW
thawed=$(grep -c 'thawed,' proxy.err)
timeout 60 "$ZAP" checkpoint es > ck.live.out 2> ck.live.err || fail "checkpoint failed: $(cat ck.live.err)"
wait_for "[ \$(grep -c 'thawed,' proxy.err) -gt $thawed ]" 10 || fail "the pod was not thawed: $(tail -3 proxy.err)"
sleep 1

stream_done $client
local_addr=$(sed -n 's/^local //p' client.out)
grep -q "^peer $local_addr " report || fail "getpeername gave $(cut -d' ' -f2 report), the client is $local_addr"
[ "$(resumed)" -ge "$ROUNDS" ] || fail "only $(resumed) resumes"
note "inbound: $ROUNDS restarts and one live checkpoint mid-stream, no byte lost or doubled"

# Outbound: the client is in the pod now, and the server outside it, at an
# address that is not loopback: a test host of our own, a network namespace
# joined to this one by a veth pair (its address exists only there).
OUT_ROUNDS=${OUT_ROUNDS:-3}
ONS=ztp$$ NET=10.232.$(( $$ % 250 + 1 ))
OA=$NET.2
OP=$((P + 1))
outside_down() {
	ip netns pids "$ONS" 2> /dev/null | xargs -r kill -9 2> /dev/null
	ip link del "${ONS}a" 2> /dev/null
	ip netns del "$ONS" 2> /dev/null
}
if [ "$(id -u)" = 0 ] && ip netns add "$ONS" 2> ipaddr.err; then
	trap 'outside_down; cleanup' EXIT
	ip link add "${ONS}a" type veth peer name "${ONS}b" &&
		ip link set "${ONS}b" netns "$ONS" &&
		ip addr add "$NET.1/30" dev "${ONS}a" && ip link set "${ONS}a" up &&
		ip -n "$ONS" addr add "$OA/30" dev "${ONS}b" && ip -n "$ONS" link set "${ONS}b" up &&
		ip -n "$ONS" link set lo up || fail "cannot make the outside test host"
	ip netns exec "$ONS" "$PROGS/echosum" --once "$OA:$OP" "$T/oreport" > os.out 2> os.err &
	wait_for "grep -q listening os.out" 10 || fail "the outside echosum did not start: $(cat os.err)"
	( "$ZAP" run --pod sc --proxy "$PA:$CP" --key key -- \
		"$PROGS/streamclient" --rate 20 --stop "$T/ostop" "$OA:$OP" | cat > sc.0 ) 2> sc.run.err &
	wait_for "grep -q 'outbound' proxy.err" 10 || fail "the pod's connect did not go through the proxy: $(cat sc.0 sc.run.err)"
	sleep 1
	for i in $(seq 1 "$OUT_ROUNDS"); do
		before=$(resumed)
		timeout 60 "$ZAP" checkpoint --kill sc > "ock.$i.out" 2> "ock.$i.err" ||
			fail "outbound: checkpoint --kill $i failed: $(cat ock.$i.err)"
		( timeout 120 "$ZAP" restart "$ZAP_HOME/pods/sc/image" | cat > "sc.$i" ) 2> "sc.$i.err" &
		wait_for "[ \$(resumed) -gt $before ]" 30 || fail "outbound round $i: no resume: $(tail -5 proxy.err)"
		sleep 1
	done
	touch "$T/ostop"
	wait_for "cat sc.* | grep -q ' ok\|error\|MISMATCH'" 60 || fail "the pod's client did not finish: $(cat sc.*)"
	wait_for "[ -s $T/oreport ]" 10 || fail "the outside echosum wrote no report"
	res=$(cat sc.* | grep ' ok$\|error\|MISMATCH')
	note "pod's client: $res"
	note "outside server: $(cat oreport)"
	echo "$res" | grep -q ' ok$' || fail "outbound: $res"
	read -r _ sent _ received _ <<< "$res"
	grep -q "received $sent sent $received ok" oreport ||
		fail "outbound byte counts differ: client sent $sent received $received; server: $(cat oreport)"
	note "outbound: $OUT_ROUNDS restarts mid-stream, no byte lost or doubled"
else
	note "outbound part skipped: cannot make a network namespace ($(cat ipaddr.err 2>/dev/null))"
fi
kill $proxy; wait $proxy 2> /dev/null
