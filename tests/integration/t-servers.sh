# Real servers across a checkpoint --kill and restart on one host:
# redis-server keeps every key it was given and takes new clients on its
# listening socket; lighttpd serves the same files afterwards.  (Moving
# them with their clients connected is t-proxy-*'s, through zap-proxy.)
. "$(dirname "$0")/lib.sh"
for c in redis-server redis-cli lighttpd curl; do
	command -v $c > /dev/null || skip "$c not installed"
done
PORT=$(free_ports 2) || fail "no free ports"

# redis: 500 keys before, all read back after, 500 more after
start_pod rd "$T/rd.1" -- redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no
wait_for "redis-cli -p $PORT ping | grep -q PONG" 10 || fail "redis did not start: $(cat rd.run.err)"
for i in $(seq 1 500); do echo "SET key:$i value-$i-$((i * 7919))"; done | redis-cli -p $PORT > rd.set1
[ "$(grep -c OK rd.set1)" = 500 ] || fail "redis took $(grep -c OK rd.set1) of 500 keys"
checkpoint_kill rd
wait_for "! [ -s $ZAP_HOME/pods/rd/pid ]" 20 || fail "rd: zap run did not end"
! redis-cli -p $PORT ping > /dev/null 2>&1 || fail "redis still answers after checkpoint --kill"
restart_bg "$ZAP_HOME/pods/rd/image" "$T/rd.2"
rpid=$!
wait_for "redis-cli -p $PORT ping | grep -q PONG" 20 || fail "the restarted redis does not answer: $(cat rd.2.err)"
for i in $(seq 1 500); do echo "GET key:$i"; done | redis-cli -p $PORT > rd.get1
for i in $(seq 1 500); do echo "value-$i-$((i * 7919))"; done > rd.want1
same rd.get1 rd.want1
for i in $(seq 501 1000); do echo "SET key:$i value-$i"; done | redis-cli -p $PORT | grep -c OK > rd.set2
[ "$(cat rd.set2)" = 500 ] || fail "the restarted redis took $(cat rd.set2) of 500 new keys"
[ "$(redis-cli -p $PORT dbsize)" = 1000 ] || fail "redis holds $(redis-cli -p $PORT dbsize) keys, not 1000"
redis-cli -p $PORT shutdown nosave > /dev/null 2>&1
wait $rpid || fail "the restarted redis exited $?: $(cat rd.2.err)"
note "redis-server: 500 keys across the restart, 500 more after"

# lighttpd: the same bytes before and after
mkdir -p www
for i in $(seq 1 20); do head -c $((i * 3000)) /dev/urandom > www/f$i; done
cat > lighttpd.conf <<CONF
server.document-root = "$T/www"
server.port = $((PORT + 1))
server.bind = "127.0.0.1"
server.errorlog = "$T/lighttpd.log"
CONF
start_pod lt "$T/lt.1" -- lighttpd -D -f "$T/lighttpd.conf"
URL=http://127.0.0.1:$((PORT + 1))
wait_for "curl -sf $URL/f1 > /dev/null" 10 || fail "lighttpd did not start: $(cat lt.run.err lighttpd.log 2>/dev/null)"
for i in 1 2 3; do curl -sf "$URL/f$i" | cmp -s - www/f$i || fail "lighttpd served f$i wrong before the checkpoint"; done
checkpoint_kill lt
wait_for "! [ -s $ZAP_HOME/pods/lt/pid ]" 20 || fail "lt: zap run did not end"
restart_bg "$ZAP_HOME/pods/lt/image" "$T/lt.2"
rpid=$!
wait_for "curl -sf $URL/f1 > /dev/null" 20 || fail "the restarted lighttpd does not answer: $(cat lt.2.err)"
for i in $(seq 1 20); do curl -sf "$URL/f$i" | cmp -s - www/f$i || fail "the restarted lighttpd served f$i wrong"; done
"$ZAP" checkpoint --kill lt > /dev/null 2>&1 || fail "the restarted lighttpd could not be checkpointed again"
wait $rpid
note "lighttpd: 20 files served the same after the restart, then checkpointed again"
