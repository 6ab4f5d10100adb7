# Failed migrations leave the pod running where it was: to a host with no
# zapd, with a wrong key, to a zapd that dies mid-transfer (a 256 MiB pod,
# zapd made to exit after 64 MiB by its test-only ZAPD_TEST_EXIT_AFTER), and
# to a host where the restart fails (zapd given a `zap` that fails as a
# restart does, through ZAPD_ZAP), and a `zap migrate` killed while the
# target restarts (a `zap` there that never finishes): zapd must then kill
# the restart, since the source runs the pod on.  Each time: exit 1, a message naming the
# host and the cause, the pod's output still advancing on a, its `zap run`
# still waiting, nothing left behind in its pod directory.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/hosts.sh"
hosts_init
host_add a 1
host_add b 2
host_add c 3
host_zapd b
host_zapd b 7208 ZAPD_TEST_EXIT_AFTER=$((64 << 20))
cat > "$T/failing-zap" << 'EOS'
#!/bin/sh
echo "zap restart: $4/1.img: simulated failure for t-migrate-fail" >&2
exit 4
EOS
chmod +x "$T/failing-zap"
host_zapd b 7209 ZAPD_ZAP="$T/failing-zap"
cat > "$T/slow-zap" << 'EOS'
#!/bin/sh
echo $$ > "${0%/*}/slow-zap.pid"
exec sleep 60
EOS
chmod +x "$T/slow-zap"
host_zapd b 7210 ZAPD_ZAP="$T/slow-zap"
BADKEY=$T/bad.key
"$ZAP" keygen "$BADKEY" > /dev/null || fail "zap keygen failed"
OUT=$T/big.out

( on a "$ZAP" run --pod big -- "$PROGS/bigmem" 256 ) > "$OUT" 2> "$T/big.run.err" &
RUN=$!
wait_for "[ \$(lines $OUT) -ge 5 ]" 30 || fail "the pod did not start on a"

# try WHAT KEY ADDR PATTERN: migrate fails with PATTERN in its message
try() {
	local what=$1 key=$2 addr=$3 pattern=$4 t0 rc
	t0=$(date +%s%N)
	on a timeout 120 "$ZAP" migrate --key "$key" big "$addr" > "$T/m.out" 2> "$T/m.err"
	rc=$?
	[ $rc = 1 ] || fail "$what: zap migrate exited $rc, not 1: $(cat "$T/m.err")"
	grep -q -- "$addr" "$T/m.err" || fail "$what: the message does not name $addr: $(cat "$T/m.err")"
	grep -q -- "$pattern" "$T/m.err" || fail "$what: the message does not say '$pattern': $(cat "$T/m.err")"
	note "$what ($(( ($(date +%s%N) - t0) / 1000000 )) ms): $(grep -v "^zap migrate: warning" "$T/m.err")"
	kill -0 "$RUN" 2> /dev/null || fail "$what: zap run on a ended: $(cat "$T/big.run.err")"
	[ -n "$(pod_pid a big)" ] || fail "$what: the pod is not running on a"
	advancing "$OUT" 5 || fail "$what: the pod's output does not advance on a"
	[ -e "$T/home-a/pods/big/migrate-image" ] && fail "$what: migrate-image left behind"
	return 0
}

try "no zapd" "$HOSTS_KEY" "$(host_addr c):$HOSTS_PORT" "Connection refused"
try "wrong key" "$BADKEY" "$(host_addr b):$HOSTS_PORT" "authentication failed"
grep -q "$(host_addr a):[0-9]*: refused: authentication failed" "$T/home-b/zapd-$HOSTS_PORT.err" ||
	fail "zapd on b did not log the refused peer with its address: $(cat "$T/home-b/zapd-$HOSTS_PORT.err")"
try "zapd dies mid-transfer" "$HOSTS_KEY" "$(host_addr b):7208" "closed the connection\|connection lost"
grep -q "exiting after" "$T/home-b/zapd-7208.err" || fail "zapd on b:7208 did not die mid-transfer"
# the restart it had begun while the pages arrived gives up once it sees
# zapd gone, and nothing of the pod runs on b
grep -q "while the pages arrive" "$T/home-b/zapd-7208.err" ||
	fail "zapd on b:7208 did not start the restart before the pages were in: $(cat "$T/home-b/zapd-7208.err")"
wait_for "[ -z \"\$(on b pgrep -f 'zap-restart|zap restart')\" ]" 10 ||
	fail "the restart begun by the zapd that died still runs on b: $(on b pgrep -af 'zap-restart|zap restart')"
# a zapd started later removes what the one that died left in incoming/
host_zapd b 7211
wait_for "[ -z \"\$(ls $T/home-b/incoming)\" ]" 10 ||
	fail "b's incoming/ keeps $(ls "$T/home-b/incoming") after a new zapd started"
grep -q "left by a zapd that ended" "$T/home-b/zapd-7211.err" || fail "the new zapd did not say what it removed"
try "restart fails" "$HOSTS_KEY" "$(host_addr b):7209" "simulated failure"
# zap migrate dies while zapd restarts the pod: the members here see their
# coordinator gone and run on; zapd sees the connection end and kills the restart
on a timeout -s KILL 4 "$ZAP" migrate --key "$HOSTS_KEY" big "$(host_addr b):7210" > "$T/m.out" 2> "$T/m.err"
[ $? = 137 ] || fail "the migrate that was to be killed ended on its own: $(cat "$T/m.err")"
wait_for "grep -q 'its restart is killed' $T/home-b/zapd-7210.err" 10 ||
	fail "zapd did not kill the restart of a pod whose sender left: $(cat "$T/home-b/zapd-7210.err")"
wait_for "! on b kill -0 \$(cat $T/slow-zap.pid)" 10 || fail "the restart on b still runs"
kill -0 "$RUN" 2> /dev/null || fail "killed migrate: zap run on a ended: $(cat "$T/big.run.err")"
advancing "$OUT" 10 || fail "killed migrate: the pod's output does not advance on a"
note "zap migrate killed during the restart: the pod runs on at a, zapd killed the restart on b"
rm -rf "$T/home-a/pods/big/migrate-image" # the killed command could not remove it

[ -z "$(ls "$T/home-b/incoming")" ] || fail "b's incoming/ keeps: $(ls "$T/home-b/incoming")"

# and the pod still moves when all is well
on a timeout 120 "$ZAP" migrate --key "$HOSTS_KEY" big "$(host_addr b):$HOSTS_PORT" > "$T/m.out" 2> "$T/m.err" ||
	fail "the good move exited $?: $(cat "$T/m.err")"
note "then a good move: $(cat "$T/m.out")"
wait "$RUN"
[ $? = 7 ] || fail "zap run on a did not exit 7 after the move"
exit 0
