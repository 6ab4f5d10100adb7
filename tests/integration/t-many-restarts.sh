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

# Without address randomization (setarch -R) the program's stack and vDSO
# and the restorer's own are at the very same addresses: the restorer must
# move out of the way of the image it restores.
command -v setarch > /dev/null || skip "no setarch"
( setarch -R "$ZAP" run --pod norand -- "$EX/counter" 30 100 | cat > norand.0 ) 2> norand.run.err &
wait_for "[ \$(lines $T/norand.0) -ge 10 ]" 30 || fail "no progress under setarch -R"
pid=$(cat "$ZAP_HOME/pods/norand/pid")
grep -q "7ffffffff000 .*\[stack\]" "/proc/$pid/maps" || note "stack not at the top: $(grep stack /proc/$pid/maps)"
checkpoint_kill norand
wait
setarch -R timeout 60 "$ZAP" restart "$ZAP_HOME/pods/norand/image" > norand.1 2> norand.1.err ||
	fail "restart under setarch -R failed: $(cat norand.1.err)"
cat norand.0 norand.1 > norand.joined
"$EX/counter" 30 1 > norand.ref
same norand.joined norand.ref
