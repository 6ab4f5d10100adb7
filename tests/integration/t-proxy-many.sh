# zap-proxy with many connections at once, and the ways a tunnel ends while
# its pod is away: 1000 clients of an epoll echo server in a pod, every one
# with a message in flight, across two checkpoint --kill and restart
# rounds; a client that leaves while the pod is away; a pod that never
# comes back (--hold).  One host, loopback addresses.
. "$(dirname "$0")/lib.sh"
PROXY=$B/bin/zap-proxy
N=${CONNS:-1000}
HOLD=8
PA=127.0.$((RANDOM % 200 + 30)).$((RANDOM % 200 + 30))
CP=$(free_ports 4) || fail "no free ports"
P=$((CP + 1))
ulimit -n 8192 2> /dev/null || skip "cannot raise the fd limit to 8192"
head -c 32 /dev/urandom > key
"$PROXY" --listen "$PA:$CP" --key key --hold $HOLD -v 2> proxy.err &
proxy=$!
wait_for "grep -q listening proxy.err" 10 || fail "zap-proxy did not start: $(cat proxy.err)"
# proxy_pod NAME PORT: manyecho serving PORT in pod NAME, exposed through the proxy
proxy_pod() {
	( "$ZAP" run --pod "$1" --proxy "$PA:$CP" --key key --expose "$2" -- \
		"$PROGS/manyecho" serve "127.0.0.1:$2" | cat > "$1.0" ) 2> "$1.run.err" &
	wait_for "grep -q listening $1.0" 10 || fail "manyecho ($1) did not start: $(cat $1.run.err)"
	wait_for "grep -q 'port $2 open' proxy.err" 10 || fail "the proxy did not open port $2"
}
proxy_pod many "$P"

"$PROGS/manyecho" client "$N" "$PA:$P" "$T/stop" > client.out 2> client.err &
client=$!
wait_for "grep -q connected client.out" 60 || fail "$N clients did not connect: $(cat client.out)"
note "$N clients connected through the proxy"
sleep 1
for i in 1 2; do
	before=$(resumed)
	t0=$(date +%s.%N)
	timeout 60 "$ZAP" checkpoint --kill many > "ck.$i.out" 2> "ck.$i.err" ||
		fail "checkpoint --kill $i failed: $(cat ck.$i.err)"
	( timeout 120 "$ZAP" restart "$ZAP_HOME/pods/many/image" | cat > "many.$i" ) 2> "many.$i.err" &
	wait_for "[ \$(resumed) -ge \$((before + N)) ]" 60 ||
		fail "round $i: $(( $(resumed) - before )) of $N tunnels resumed: $(tail -3 proxy.err)"
	note "round $i: $N tunnels back $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s after the checkpoint began"
	sleep 1
	kill -0 $client 2> /dev/null || fail "the clients ended after restart $i: $(cat client.out)"
done
# the restored listening socket takes new clients through the proxy
"$PROGS/manyecho" client 4 "$PA:$P" "$T/stop.new" > new.out 2> new.err &
new=$!
wait_for "grep -q connected new.out" 10 || fail "new clients after a restart did not connect: $(cat new.out)"
sleep 0.5
touch "$T/stop.new"
wait $new || fail "new clients after a restart: $(tail -1 new.out)"
note "new clients after the restarts: $(tail -1 new.out)"
touch "$T/stop"
wait $client || fail "clients: $(tail -1 client.out)"
note "clients: $(tail -1 client.out)"
least=$(sed -n 's/.* least \([0-9]*\) ok$/\1/p' client.out)
[ "${least:-0}" -gt 2 ] || fail "a connection made only ${least:-0} round trips"

# A client that leaves while its pod is away: its tunnel is closed, and
# the restored program reads EOF on that connection, not a hang.
timeout 60 "$ZAP" checkpoint --kill many > ck.3.out 2> ck.3.err || fail "checkpoint --kill 3 failed: $(cat ck.3.err)"

proxy_pod few $((P + 1))
"$PROGS/manyecho" client 4 "$PA:$((P + 1))" "$T/stop3" > c3.out 2> c3.err &
c3=$!
wait_for "grep -q connected c3.out" 10 || fail "4 clients did not connect: $(cat c3.out)"
sleep 0.5
timeout 60 "$ZAP" checkpoint --kill few > ck.4.out 2> ck.4.err || fail "checkpoint --kill few failed: $(cat ck.4.err)"
{ kill -9 $c3; wait $c3; } 2> /dev/null
wait_for "[ \$(grep -c 'tunnel .* of pod few closed' proxy.err) -ge 4 ]" 10 ||
	fail "the proxy did not close the tunnels of a client that left: $(grep few proxy.err | tail -3)"
( timeout 60 "$ZAP" restart "$ZAP_HOME/pods/few/image" | cat > few.1 ) 2> few.1.err &
wait_for "grep -q 'RESUME of tunnel .* refused' proxy.err" 20 || fail "no refused RESUME: $(tail -3 proxy.err)"
pid=$(cat "$ZAP_HOME/pods/few/pid" 2> /dev/null)
# (one socket left: the listening one)
wait_for "[ -d /proc/${pid:-0} ] && [ \$(ls -l /proc/${pid:-0}/fd | grep -c socket:) -le 1 ]" 10 ||
	fail "the restored server did not close the connections of the client that left: $(ls -l /proc/${pid:-0}/fd)"
note "a client that left during the freeze: tunnels closed, the restored program read EOF"

# A pod that never comes back: after --hold its clients are closed.
timeout 60 "$ZAP" checkpoint --kill few > ck.5.out 2> ck.5.err || true
proxy_pod gone $((P + 2))
"$PROGS/manyecho" client 2 "$PA:$((P + 2))" "$T/stop5" > c5.out 2> c5.err &
c5=$!
wait_for "grep -q connected c5.out" 10 || fail "2 clients did not connect"
timeout 60 "$ZAP" checkpoint --kill gone > ck.6.out 2> ck.6.err || fail "checkpoint --kill gone failed"
t0=$(date +%s)
wait_for "! kill -0 $c5 2> /dev/null" $((HOLD + 10)) || fail "the clients of a pod that never came back are still connected"
waited=$(( $(date +%s) - t0 ))
grep -q "got EOF" c5.out || fail "the clients did not see EOF: $(cat c5.out)"
[ $waited -ge $((HOLD - 2)) ] || fail "the clients were closed after $waited s, before --hold $HOLD"
note "a pod that never came back: its clients got EOF after $waited s (--hold $HOLD)"
kill $proxy
wait $proxy 2> /dev/null
