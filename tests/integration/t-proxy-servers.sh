# Real servers moving with their clients connected through zap-proxy (the
# issue's acceptance tests, on hosts that are network namespaces): the proxy
# on host c; redis-server in a pod on a, a client on c writing keys on one
# connection without a pause while the pod moves a -> b -> a; every SET is
# answered OK and every key reads back with its value.  Then lighttpd in a
# pod, a curl loop on c through the proxy while it moves: no failed request.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/proxyhosts.sh"
for c in redis-server redis-cli lighttpd curl; do
	command -v $c > /dev/null || skip "$c not installed"
done
proxy_hosts
RP=7301 HP=7302
# move POD FROM TO: zap migrate, and the pod's tunnels come back at c
move() {
	local before
	before=$(resumed)
	on $2 "$ZAP" migrate --key "$HOSTS_KEY" "$1" "$(host_addr $3):$HOSTS_PORT" > "mv.$1.$2$3.out" 2> "mv.$1.$2$3.err" ||
		fail "migrate $1 $2 -> $3 exited $?: $(cat mv.$1.$2$3.err)"
	[ "${4:-}" = notunnel ] ||
		wait_for "[ \$(resumed) -gt $before ]" 30 || fail "$1 $2 -> $3: no tunnel resumed: $(tail -3 proxy.err)"
	note "$1 $2 -> $3: $(cat mv.$1.$2$3.out)"
}

# ---- redis ----
N=${KEYS:-30000}
( on a "$ZAP" run --pod rd --proxy "$C:$CP" --key "$HOSTS_KEY" --expose "$RP" -- \
	redis-server --port "$RP" --bind 0.0.0.0 --protected-mode no --save '' --appendonly no ) \
	> rd.out 2> rd.run.err &
wait_for "grep -q 'port $RP open' proxy.err" 10 || fail "the proxy did not open $RP"
wait_for "on c redis-cli -h $C -p $RP ping | grep -q PONG" 10 || fail "redis does not answer through the proxy: $(tail -3 rd.run.err)"
# one connection, commands at about 5000 a second for about 6 s
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) { printf "SET key:%d value-%d-%d\n", i, i, i * 7919
	if (i % 50 == 0) { fflush(); system("sleep 0.01") } } }' |
	on c redis-cli -h "$C" -p "$RP" > rd.set 2> rd.set.err &
writer=$!
sleep 1
move rd a b
sleep 1
move rd b a
sleep 1
move rd a b
wait_for "! kill -0 $writer 2> /dev/null" 60 || fail "the writer did not finish"
wait $writer || fail "redis-cli exited $?: $(tail -3 rd.set.err)"
ok=$(grep -c '^OK$' rd.set)
[ "$ok" = "$N" ] || fail "redis answered OK to $ok of $N SETs: $(grep -v '^OK$' rd.set | sort | uniq -c | head -3)"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "GET key:%d\n", i }' | on c redis-cli -h "$C" -p "$RP" > rd.get
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "value-%d-%d\n", i, i * 7919 }' > rd.want
same rd.get rd.want
note "redis: $N SETs on one connection across 3 moves, every one OK, every key read back"

# ---- lighttpd ----
mkdir -p www
for i in $(seq 1 10); do head -c $((i * 5000)) /dev/urandom > www/f$i; done
cat > lighttpd.conf <<CONF
server.document-root = "$T/www"
server.port = $HP
server.bind = "0.0.0.0"
server.errorlog = "$T/lighttpd.log"
CONF
( on a "$ZAP" run --pod web --proxy "$C:$CP" --key "$HOSTS_KEY" --expose "$HP" -- \
	lighttpd -D -f "$T/lighttpd.conf" ) > web.out 2> web.run.err &
wait_for "grep -q 'port $HP open' proxy.err" 10 || fail "the proxy did not open $HP"
wait_for "on c curl -sf -o /dev/null http://$C:$HP/f1" 10 || fail "lighttpd does not answer through the proxy"
# requests one after the other, each file checked, until told to stop
( i=0 bad=0
  while [ ! -e "$T/stop" ] && [ $i -lt 100000 ]; do
	i=$((i + 1)); f=f$((i % 10 + 1))
	on c curl -sf --max-time 20 -o "$T/got" "http://$C:$HP/$f" && cmp -s "$T/got" "www/$f" || bad=$((bad + 1))
  done
  echo "requests $i failed $bad" > "$T/curl.res" ) &
sleep 1
move web a b notunnel
sleep 1
move web b a notunnel
sleep 1
touch "$T/stop"
wait_for "[ -s $T/curl.res ]" 60 || fail "the curl loop did not end"
note "lighttpd: $(cat curl.res) across 2 moves"
grep -q 'failed 0$' curl.res || fail "lighttpd through the proxy: $(cat curl.res)"
