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
