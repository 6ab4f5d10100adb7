# zap run --interval takes periodic checkpoints; the latest restarts.
. "$(dirname "$0")/lib.sh"
"$EX/counter" 60 20 > iv.ref
( "$ZAP" run --pod iv --interval 0.5 -- "$EX/counter" 60 50 | cat > iv.1 ) 2> iv.run.err &
wait_for "[ \$(grep -c 'checkpoint of iv written' iv.run.err) -ge 3 ]" 30 || fail "fewer than 3 periodic checkpoints"
wait
same iv.1 iv.ref
gen=$("$ZAP" inspect --json "$ZAP_HOME/pods/iv/image" | python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
[ "$gen" -ge 3 ] || fail "generation $gen, expected >= 3"
timeout 60 "$ZAP" restart --pod iv2 "$ZAP_HOME/pods/iv/image" > iv.2 2> iv.2.err || fail "restart failed"
# the restart continues from the last checkpoint: its output is a suffix
tail -n "$(lines iv.2)" iv.ref | cmp -s - iv.2 || fail "restart output is not the reference's tail"

# after a restart, --interval goes on taking checkpoints; --json reports one
"$EX/counter" 60 50 > iv3.ref &
start_pod iv3 "$T/iv3.1" -- "$EX/counter" 60 50
wait_for "[ \$(lines $T/iv3.1) -ge 5 ]" 20 || fail "no progress"
"$ZAP" checkpoint --json iv3 | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["image"].endswith("/pods/iv3/image") and d["bytes"] > 4096 and d["write_usec"] > 0, d' ||
	fail "checkpoint --json"
checkpoint_kill iv3
( timeout 60 "$ZAP" restart --interval 0.3 "$ZAP_HOME/pods/iv3/image" > iv3.2 ) 2> iv3.2.err
grep -q "checkpoint of iv3 written" iv3.2.err || fail "restart --interval took no checkpoint: $(cat iv3.2.err)"
wait
cat iv3.1 iv3.2 > iv3.joined
same iv3.joined iv3.ref
