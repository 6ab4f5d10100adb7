# zap migrate with a live client through zap-proxy (the issue's test of a
# long checksummed stream both ways): the proxy and the client on host c,
# echosum in a pod that moves a -> b -> a -> b -> a -> b mid-stream.  The
# client never sees an error or EOF, and at the end not one byte was lost
# or doubled either way.  Hosts are network namespaces (hosts.sh).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/proxyhosts.sh"
MOVES=${MOVES:-5}
proxy_hosts
P=7301
( on a "$ZAP" run --pod es --proxy "$C:$CP" --key "$HOSTS_KEY" --expose "$P" -- \
	"$PROGS/echosum" --epoll "0.0.0.0:$P" "$T/report" ) > es.out 2> es.run.err &
wait_for "grep -q listening es.out" 10 || fail "echosum did not start on a: $(cat es.run.err)"
wait_for "grep -q 'port $P open' proxy.err" 10 || fail "the proxy did not open port $P"
( on c "$PROGS/streamclient" --rate 20 --stop "$T/stop" "$C:$P" ) > client.out 2> client.err &
client=$!
wait_for "grep -q local client.out" 10 || fail "the client did not connect: $(cat client.out client.err)"
sleep 1

from=a
for i in $(seq 1 "$MOVES"); do
	to=$([ $from = a ] && echo b || echo a)
	before=$(resumed)
	on $from "$ZAP" migrate --key "$HOSTS_KEY" es "$(host_addr $to):$HOSTS_PORT" > "mv.$i.out" 2> "mv.$i.err" ||
		fail "migrate $from -> $to exited $?: $(cat mv.$i.err)"
	wait_for "[ \$(resumed) -gt $before ]" 30 || fail "move $i: the tunnel did not resume: $(tail -5 proxy.err)"
	note "$from -> $to: $(cat mv.$i.out)"
	kill -0 $client 2> /dev/null || fail "the client ended after move $i: $(cat client.out)"
	sleep 1
	from=$to
done
stream_done $client
# every move froze the tunnels, from b too (the restored pod wrote its pods/es/proxy there)
[ "$(grep -c 'pod es frozen' proxy.err)" -ge "$MOVES" ] ||
	fail "only $(grep -c 'pod es frozen' proxy.err) of $MOVES moves froze the tunnels"
local_addr=$(sed -n 's/^local //p' client.out)
grep -q "^peer $local_addr " report || fail "getpeername gave $(cut -d' ' -f2 report), the client is $local_addr"
note "$MOVES moves mid-stream through zap-proxy, no byte lost or doubled"
