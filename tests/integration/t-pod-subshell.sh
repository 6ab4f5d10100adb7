# A shell that forks subshells (fork without exec) checkpointed, restarted,
# checkpointed again while a subshell forked after the restart runs, and
# restarted again: such a child has no members file and, being a copy of
# a restored process, no preload file in its maps either; the pod
# checkpoint must still take it (it runs its parent's executable).
. "$(dirname "$0")/lib.sh"
CMD='for i in $(seq 1 30); do ( x=0; while [ $x -lt 20000 ]; do x=$((x+1)); done; echo $i ); done'
seq 1 30 > sub.ref
start_pod sub "$T/sub.1" -- bash -c "$CMD"
wait_for "[ \$(lines $T/sub.1) -ge 3 ]" 30 || fail "no progress"
checkpoint_kill sub
wait_for "! [ -s $ZAP_HOME/pods/sub/pid ]" 20 || fail "zap run did not end"
restart_bg "$ZAP_HOME/pods/sub/image" "$T/sub.2"
rpid=$!
wait_for "[ \$(lines $T/sub.2) -ge 3 ]" 30 || fail "no progress after the restart: $(cat sub.2.err)"
timeout 60 "$ZAP" checkpoint --kill sub > ck2.out 2> ck2.err || fail "second checkpoint failed: $(cat ck2.err)"
wait $rpid
restart_bg "$ZAP_HOME/pods/sub/image" "$T/sub.3"
wait $! || fail "second restart exited $?: $(cat sub.3.err)"
cat sub.1 sub.2 sub.3 > sub.joined
same sub.joined sub.ref
