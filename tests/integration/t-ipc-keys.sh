# Two pods using the same SysV key run side by side without seeing each
# other; without zap the second program finds the first's segment.
. "$(dirname "$0")/lib.sh"
KEY=0x5a17$(printf '%04x' $(( $$ % 65536 )))
# without zap: the key clashes (so this test can tell)
"$PROGS/shmkey" "$KEY" plain-one > plain.1 &
sleep 0.5
"$PROGS/shmkey" "$KEY" plain-two > plain.2
wait
grep -q "File exists" plain.2 || fail "without zap the second program did not clash: $(cat plain.2)"
# two pods: each has its own segment under the same key
( "$ZAP" run --pod ipc-a -- "$PROGS/shmkey" "$KEY" alpha > a.out ) 2> a.err &
( "$ZAP" run --pod ipc-b -- "$PROGS/shmkey" "$KEY" beta > b.out ) 2> b.err &
wait
grep -qx "read back: alpha" a.out || fail "pod a: $(cat a.out a.err)"
grep -qx "read back: beta" b.out || fail "pod b: $(cat b.out b.err)"
