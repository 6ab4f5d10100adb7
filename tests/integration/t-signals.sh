# A program that installs its own SIGUSR2 handler and blocks SIGUSR2 still
# gets checkpointed, and reads back what it set; another checkpoint signal
# can be chosen with --signal.
. "$(dirname "$0")/lib.sh"
roundtrip sig "[ \$(lines $T/sig.1) -ge 8 ]" -- "$PROGS/sigvirt" 30
grep -q "handler-is-mine=1 usr2-blocked=1" sig.joined || fail "the program's view of SIGUSR2 is wrong"

# --signal SIGUSR1: the checkpoint comes on USR1 (which the program ignores)
"$PROGS/sigvirt" 30 > sig1.ref
( "$ZAP" run --pod s1 --signal SIGUSR1 -- "$PROGS/sigvirt" 30 | cat > sig1.1 ) 2> s1.run.err &
wait_for "[ \$(lines $T/sig1.1) -ge 8 ]" 30 || fail "no progress"
checkpoint_kill s1
wait
restart_bg "$ZAP_HOME/pods/s1/image" "$T/sig1.2"
wait $! || fail "restart failed: $(cat sig1.2.err)"
cat sig1.1 sig1.2 > sig1.joined
same sig1.joined sig1.ref
"$ZAP" inspect "$ZAP_HOME/pods/s1/image" | grep -q "signal SIGUSR1" || fail "inspect does not show SIGUSR1"

# a checkpoint by signal alone (kill -USR2), without `zap checkpoint`
start_pod byhand "$T/byhand.1" -- "$EX/counter" 200 50
pid=$(cat "$ZAP_HOME/pods/byhand/pid")
kill -USR2 "$pid"
wait_for "[ -f $ZAP_HOME/pods/byhand/image/pod.img ]" 30 || fail "kill -USR2 wrote no image"
kill -0 "$pid" || fail "the program died of its checkpoint signal"
