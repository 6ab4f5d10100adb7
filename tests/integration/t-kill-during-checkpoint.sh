# A checkpoint killed (kill -9 of the process) while it writes leaves the
# previous image whole and restorable.
. "$(dirname "$0")/lib.sh"
start_pod big "$T/big.1" -- "$PROGS/bigmem" 512
wait_for "[ \$(lines $T/big.1) -ge 2 ]" 60 || fail "bigmem did not start"
"$ZAP" checkpoint big > /dev/null 2> ck1.err || fail "first checkpoint failed: $(cat ck1.err)"
IMG=$ZAP_HOME/pods/big/image
"$ZAP" inspect --verify "$IMG" > /dev/null || fail "first image does not verify"
sum_before=$(cat "$IMG"/*.img | md5sum)
pid=$(cat "$ZAP_HOME/pods/big/pid")
"$ZAP" checkpoint big > /dev/null 2> ck2.err &
# kill it while the new image is being written next to the old one
wait_for "ls -d $IMG.tmp-* 2>/dev/null | grep -q tmp" 30 || fail "never saw the checkpoint in progress"
kill -9 "$pid"
wait
[ "$(cat "$IMG"/*.img | md5sum)" = "$sum_before" ] || fail "the previous image changed"
"$ZAP" inspect --verify "$IMG" > /dev/null || fail "the previous image does not verify"
restart_bg "$IMG" "$T/big.2" --pod big2
wait_for "[ \$(lines $T/big.2) -ge 3 ]" 60 || fail "the previous image did not restart: $(cat big.2.err)"
note "restarted from the previous image: $(head -1 big.2)"
