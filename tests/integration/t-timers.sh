# POSIX timers (one process-directed, one aimed at a thread) keep ticking
# after a restart, under the same ids.
. "$(dirname "$0")/lib.sh"
roundtrip timers "[ \$(lines $T/timers.1) -ge 10 ]" -- "$PROGS/timers" 40
