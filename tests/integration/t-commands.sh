# Every command has --help; zap ps lists running pods (also as JSON);
# zap checkpoint without --kill leaves the program running.
. "$(dirname "$0")/lib.sh"
for c in run checkpoint restart inspect ps; do
	"$ZAP" "$c" --help > help.out 2>&1 || fail "zap $c --help exited $?"
	grep -q "^usage: zap $c" help.out || fail "zap $c --help has no usage line"
	grep -qi "exit status" help.out || fail "zap $c --help does not list exit codes"
done
"$ZAP" --help | grep -q checkpoint || fail "zap --help lists no commands"
"$B/bin/zap-restart" --help > /dev/null 2>&1 || fail "zap-restart --help failed"

start_pod live "$T/live.1" -- "$EX/counter" 100 50
pid=$(cat "$ZAP_HOME/pods/live/pid")
"$ZAP" ps > ps.out
grep -q "^live .*$pid .*counter 100 50" ps.out || fail "zap ps: $(cat ps.out)"
"$ZAP" ps --json | python3 -c '
import json, sys
pods = json.load(sys.stdin)
assert any(p["pod"] == "live" and p["main"] for p in pods), pods' || fail "zap ps --json"
out=$("$ZAP" checkpoint live) || fail "checkpoint failed"
[ "$out" = "$ZAP_HOME/pods/live/image" ] || fail "checkpoint printed '$out'"
kill -0 "$pid" || fail "the program did not survive its checkpoint"
n=$(lines live.1)
wait_for "[ \$(lines $T/live.1) -gt $n ]" 10 || fail "the program stopped printing after the checkpoint"
"$ZAP" checkpoint -o "$T/elsewhere" "$pid" > /dev/null || fail "checkpoint by pid with -o failed"
[ -f "$T/elsewhere/pod.img" ] || fail "-o DIR holds no image"
mkdir -p notempty && touch notempty/precious
"$ZAP" checkpoint -o "$T/notempty" live 2> ne.err && fail "checkpoint replaced a directory that is not an image"
[ -f notempty/precious ] || fail "a file in the -o directory was lost"
"$ZAP" inspect --json "$T/elsewhere" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["processes"][0]["regions"]' ||
	fail "inspect --json"
