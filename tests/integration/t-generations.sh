# Three generations: checkpoint, restart, checkpoint, restart, checkpoint,
# restart; the four pieces of output joined equal an uninterrupted run.
. "$(dirname "$0")/lib.sh"
"$EX/threads" 80 8000000 > gen.ref &
start_pod gen "$T/gen.0" -- "$EX/threads" 80 8000000
wait_for "[ \$(lines $T/gen.0) -ge 40 ]" 60 || fail "no progress"
checkpoint_kill gen
for g in 1 2 3; do
	restart_bg "$ZAP_HOME/pods/gen/image" "$T/gen.$g"
	pid=$!
	if [ $g -lt 3 ]; then
		wait_for "[ \$(lines $T/gen.$g) -ge 40 ]" 60 || fail "generation $g made no progress"
		checkpoint_kill gen
	fi
	wait $pid
	rc=$?
	if [ $g -lt 3 ]; then [ $rc = 3 ] || fail "generation $g: restart exited $rc, expected 3"
	else [ $rc = 0 ] || fail "generation $g: restart exited $rc"; fi
done
wait
cat gen.0 gen.1 gen.2 gen.3 > gen.joined
same gen.joined gen.ref
! grep -q LOST gen.joined || fail "registers lost"
