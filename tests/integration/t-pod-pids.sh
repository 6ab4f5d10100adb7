# A pod of two processes keeps its pids across a restart that gives both
# other real pids: the parent's kill() and waitpid() by the pid fork()
# returned reach the child (and reap it with its status), and the child's
# getppid() is the parent's pid.  When root, the old real pids are taken by
# other processes before the restart, so that the pod cannot get them back.
# Needs whole-pod checkpoints (a pod of several processes).
. "$(dirname "$0")/lib.sh"
mkdir -p ref run
( "$PROGS/podpids" 30 "$T/ref" > podpids.ref ) &
refpid=$!
start_pod podpids "$T/podpids.1" -- "$PROGS/podpids" 30 "$T/run"
wait_for "[ \$(lines $T/podpids.1) -ge 12 ]" 30 || fail "no progress"
old_parent=$(cat run/real.parent) old_child=$(cat run/real.child)
timeout 120 "$ZAP" checkpoint --kill podpids > podpids.ck.out 2> podpids.ck.err ||
	fail "checkpoint --kill failed: $(cat podpids.ck.err)"
wait_for "! [ -s $ZAP_HOME/pods/podpids/pid ]" 20 || fail "zap run did not end"
wait_for "! kill -0 $old_child" 10 || fail "the child $old_child outlived checkpoint --kill"
# take the old real pids, so the restart must give new ones
if [ -w /proc/sys/kernel/ns_last_pid ]; then
	for p in $old_parent $old_child; do
		echo $((p - 1)) > /proc/sys/kernel/ns_last_pid
		sleep 300 &
		[ $! = "$p" ] && note "pid $p taken by a sleep" || note "pid $p could not be taken (got $!)"
	done
fi
restart_bg "$ZAP_HOME/pods/podpids/image" "$T/podpids.2"
wait $! || fail "restart failed: $(cat podpids.2.err)"
new_parent=$(cat run/real.parent) new_child=$(cat run/real.child)
note "real pids: parent $old_parent -> $new_parent, child $old_child -> $new_child"
[ "$new_parent" != "$old_parent" ] && [ "$new_child" != "$old_child" ] ||
	skip "the restart gave back the same real pids: nothing virtual to check"
wait $refpid
cat podpids.1 podpids.2 | sort > podpids.joined
sort -o podpids.ref podpids.ref
same podpids.joined podpids.ref
grep -q "parent reaped=1 status=42" podpids.joined || fail "the parent did not reap its child"
