# A single-threaded counter: checkpoint --kill mid-run, restart, same output.
. "$(dirname "$0")/lib.sh"
roundtrip counter "[ \$(lines $T/counter.1) -ge 10 ]" -- "$EX/counter" 40 50
