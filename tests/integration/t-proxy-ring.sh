# zap-proxy's replay ring, exercised: the pod's server reads slowly
# (echosum --slow), so at each checkpoint its socket holds megabytes the
# program has not read, which die with the pod and must come again from the
# proxy's ring (the newest part of it a pipe of page references, the older
# part memory).  A client streams checked bytes both ways through 3 rounds of
# checkpoint --kill and restart; then not one byte was lost or doubled, and
# the proxy did send bytes again at a RESUME.
. "$(dirname "$0")/lib.sh"
PROXY=$B/bin/zap-proxy
[ -x "$PROXY" ] || fail "no $PROXY"
ROUNDS=${ROUNDS:-3}
PA=127.0.$((RANDOM % 200 + 30)).$((RANDOM % 200 + 30))
CP=$(free_ports 2) || fail "no free ports"
P=$((CP + 1))
head -c 32 /dev/urandom > key
"$PROXY" --listen "$PA:$CP" --key key --hold 60 -v 2> proxy.err &
wait_for "grep -q listening proxy.err" 10 || fail "zap-proxy did not start: $(cat proxy.err)"

( "$ZAP" run --pod slow --proxy "$PA:$CP" --key key --expose "$P" -- \
	"$PROGS/echosum" --slow "127.0.0.1:$P" "$T/report" | cat > slow.0 ) 2> slow.run.err &
wait_for "grep -q listening slow.0" 10 || fail "echosum did not start: $(cat slow.run.err)"
wait_for "grep -q 'port $P open' proxy.err" 10 || fail "the proxy did not open port $P"

"$PROGS/streamclient" --rate 50 --stop "$T/stop" "$PA:$P" > client.out 2> client.err &
client=$!
wait_for "grep -q local client.out" 10 || fail "client did not connect"
sleep 2

proxy_rounds slow "$ROUNDS" 2 $client

stream_done $client
again=$(sed -n 's/.*resumed: \([0-9]*\) bytes sent again.*/\1/p' proxy.err | sort -n | tail -1)
note "most bytes sent again at one RESUME: ${again:-none}"
[ "${again:-0}" -gt 0 ] || fail "no RESUME sent bytes again: the ring was not exercised"
note "$ROUNDS restarts of a slow reader, no byte lost or doubled"
