# One image restarted many times: whatever addresses ASLR gives the
# restorer's stack and vDSO, the program comes back.
. "$(dirname "$0")/lib.sh"
"$EX/counter" 30 20 > many.ref
start_pod many "$T/many.0" -- "$EX/counter" 30 100
wait_for "[ \$(lines $T/many.0) -ge 26 ]" 30 || fail "no progress"
checkpoint_kill many
n=${RESTARTS:-25}
for i in $(seq 1 $n); do
	timeout 60 "$ZAP" restart --pod "many$i" "$ZAP_HOME/pods/many/image" > "many.$i" 2> "many.$i.err" ||
		fail "restart $i failed: $(cat many.$i.err)"
	cat many.0 "many.$i" > many.joined
	same many.joined many.ref
done
note "$n restarts of one image, all identical"
