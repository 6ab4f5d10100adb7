# Memory a parent and its workers share without a file (a MAP_SHARED |
# MAP_ANONYMOUS page and a memfd, both mapped before the forks) is shared
# again after a restart: the parent keeps seeing the workers' counts move
# and sees every count whole at the end.
. "$(dirname "$0")/lib.sh"
roundtrip podshm "[ \$(lines $T/podshm.1) -ge 1 ]" -- "$PROGS/podshm" 1500
grep -q "workers done" podshm.2 || fail "the workers did not finish: $(tail -2 podshm.2)"
"$ZAP" inspect "$ZAP_HOME/pods/podshm/image" > podshm.inspect || fail "inspect failed"
[ "$(grep -c "shared in the pod: memory #" podshm.inspect)" -ge 8 ] ||
	fail "the image does not join the members' shared memory: $(grep -c "shared in the pod: memory" podshm.inspect) regions"
