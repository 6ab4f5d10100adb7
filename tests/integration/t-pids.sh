# A restarted process keeps its pid and its threads' tids as it sees them
# (virtual pids): getpid, gettid, syscall(SYS_getpid), kill and tgkill by
# those ids, /proc/<pid>, getpgid — twice restarted, so the real ids surely
# differ.
. "$(dirname "$0")/lib.sh"
"$PROGS/pids" 40 > pids.ref
start_pod pids "$T/pids.1" -- "$PROGS/pids" 40
wait_for "[ \$(lines $T/pids.1) -ge 8 ]" 30 || fail "no progress"
orig=$(cat "$ZAP_HOME/pods/pids/pid")
checkpoint_kill pids
restart_bg "$ZAP_HOME/pods/pids/image" "$T/pids.2"
r1=$!
wait_for "[ \$(lines $T/pids.2) -ge 8 ]" 30 || fail "no progress after the first restart: $(cat pids.2.err)"
real1=$(cat "$ZAP_HOME/pods/pids/pid")
# zap ps shows the pid the program sees beside the real one
"$ZAP" ps --json | python3 -c "
import json, sys
p = [m for m in json.load(sys.stdin) if m['pod'] == 'pids'][0]
assert p['vpid'] == $orig and p['pid'] == $real1, p" || fail "zap ps: $("$ZAP" ps)"
checkpoint_kill pids
wait $r1
restart_bg "$ZAP_HOME/pods/pids/image" "$T/pids.3"
wait $! || fail "second restart failed: $(cat pids.3.err)"
cat pids.1 pids.2 pids.3 > pids.joined
same pids.joined pids.ref
note "real pids: first restart $real1"
