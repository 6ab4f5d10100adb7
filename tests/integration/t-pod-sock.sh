# A parent and its child talking over UNIX socketpairs made before the
# fork, with bytes waiting in both directions (the child reads slowly): one
# stream pair, one datagram pair.  Checkpointed mid-run with --kill and
# restarted, the two must go on talking as if nothing happened, with no
# byte lost or doubled (the child checks every byte it reads).
. "$(dirname "$0")/lib.sh"
roundtrip podsock "[ \$(lines $T/podsock.1) -ge 10 ]" -- "$PROGS/podsock" 6
grep -q "child exited 0" podsock.2 || fail "the child did not finish cleanly: $(tail -2 podsock.2)"
"$ZAP" inspect "$ZAP_HOME/pods/podsock/image" | grep -q "socket.*shared in the pod" ||
	fail "zap inspect shows no socket shared in the pod"
