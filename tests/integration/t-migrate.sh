# zap migrate between two hosts (network namespaces, each with its own zapd
# and ZAP_HOME): a pod of three processes (sh, counter, cat, with a pipe
# between counter and cat) runs on host a, moves to b, then back to a.  Its
# output, a file on the shared filesystem, must go on without a gap or a
# repeat: equal, line for line, to an uninterrupted run's.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/hosts.sh"
hosts_init
host_add a 1
host_add b 2
host_zapd a
host_zapd b
A=$(host_addr a):$HOSTS_PORT
BB=$(host_addr b):$HOSTS_PORT
OUT=$T/mc.out
"$EX/counter" 3000 0 > "$T/ref" || fail "counter itself failed"

# the status request
on a "$ZAP" migrate --key "$HOSTS_KEY" --status "$BB" > "$T/status" 2> "$T/status.err" ||
	fail "status of b: $(cat "$T/status.err")"
grep -q '^load1=' "$T/status" && grep -q '^pods=0$' "$T/status" || fail "status of b: $(cat "$T/status")"

( on a "$ZAP" run --pod mc -- sh -c "'$EX/counter' 3000 20 | cat > '$OUT'" ) \
	> "$T/mc.run.out" 2> "$T/mc.run.err" &
RUN=$!
wait_for "[ \$(lines $OUT) -ge 20 ]" 10 || fail "the pod did not start on a"

# a -> b
t0=$(date +%s%N)
on a "$ZAP" migrate --key "$HOSTS_KEY" mc "$BB" > "$T/ab.out" 2> "$T/ab.err" ||
	fail "migrate a -> b exited $?: $(cat "$T/ab.err")"
note "a -> b: $(cat "$T/ab.out") ($(( ($(date +%s%N) - t0) / 1000000 )) ms in all)"
wait "$RUN"
rc=$?
[ $rc = 7 ] || fail "zap run on a exited $rc after the move, not 7: $(cat "$T/mc.run.err")"
grep -q "mc migrated to $BB" "$T/mc.run.err" || fail "zap run on a did not say where the pod went"
[ -z "$(pod_pid a mc)" ] || fail "the pod still runs on a"
[ -n "$(pod_pid b mc)" ] || fail "the pod does not run on b"
advancing "$OUT" 5 || fail "no output on b after the move"
on b "$ZAP" ps | grep -q counter || fail "zap ps on b does not show the pod"
grep -q "pod 'mc' runs here" "$T/home-b/zapd-$HOSTS_PORT.err" || fail "zapd on b did not log the restart"
[ -d "$T/home-b/pods/mc/image" ] || fail "the image is not in b's pod directory"
[ -z "$(ls "$T/home-b/incoming")" ] || fail "b's incoming/ is not empty: $(ls "$T/home-b/incoming")"
sleep 0.5

# b -> a
on b "$ZAP" migrate --key "$HOSTS_KEY" --json mc "$A" > "$T/ba.out" 2> "$T/ba.err" ||
	fail "migrate b -> a exited $?: $(cat "$T/ba.err")"
note "b -> a: $(cat "$T/ba.out")"
grep -q '"pause_ms":' "$T/ba.out" || fail "no pause_ms in --json: $(cat "$T/ba.out")"
wait_for "[ -z \"\$(pod_pid b mc)\" ]" 10 || fail "the pod still runs on b"
[ -n "$(pod_pid a mc)" ] || fail "the pod does not run on a again"
grep -q "mc migrated to $A" "$T/home-b/pods/mc/restart.log" ||
	fail "zap restart on b did not say where the pod went: $(tail -3 "$T/home-b/pods/mc/restart.log")"
advancing "$OUT" 5 || fail "no output on a after the move back"
sleep 0.5

# line for line the uninterrupted run, as far as it got
n=$(lines "$OUT")
head -n "$((n - 1))" "$OUT" > "$T/got"
head -n "$((n - 1))" "$T/ref" | cmp -s - "$T/got" || {
	diff <(head -n "$((n - 1))" "$T/ref") "$T/got" | head -5 >&2
	fail "the output has a gap or a repeat"
}
note "$n lines, none missing or doubled across a -> b -> a"
exit 0
