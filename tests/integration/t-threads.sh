# Four threads under mutexes and condition variables, with SSE/AVX/AVX-512
# values held in registers: checkpoint while they spin, restart, same output
# (a lost register prints a "REGISTERS LOST" line).
. "$(dirname "$0")/lib.sh"
for i in 1 2 3; do
	roundtrip "threads$i" "[ \$(lines $T/threads$i.1) -ge $((i * 40)) ]" -- "$EX/threads" 60 20000000
	! grep -q LOST "$T/threads$i.joined" || fail "registers lost"
done
