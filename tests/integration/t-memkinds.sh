# Private and shared anonymous memory, private (copy-on-write) and shared
# file mappings, a memfd, a PROT_NONE region with data, MAP_GROWSDOWN and
# sbrk heap: checkpoint --kill, restart, the same sums step after step; the
# shared file holds the same bytes as after an uninterrupted run.
. "$(dirname "$0")/lib.sh"
mkdir ref run
"$PROGS/memkinds" "$T/ref" 30 1 > mk.ref
start_pod mk "$T/mk.1" -- "$PROGS/memkinds" "$T/run" 30 80
wait_for "[ \$(lines $T/mk.1) -ge 10 ]" 30 || fail "no progress"
checkpoint_kill mk
restart_bg "$ZAP_HOME/pods/mk/image" "$T/mk.2"
wait $! || fail "restart failed: $(cat mk.2.err)"
cat mk.1 mk.2 > mk.joined
same mk.joined mk.ref
same run/shared.dat ref/shared.dat
