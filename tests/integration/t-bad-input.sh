# Bad input gets one clear message naming the cause and the file, a
# documented nonzero exit, and leaves no process behind.
. "$(dirname "$0")/lib.sh"
IMGPATCH=$B/tests/imgpatch

# expect CODE PATTERN CMD...: CMD exits CODE and says PATTERN on stderr
expect() {
	local code=$1 pat=$2
	shift 2
	"$@" > expect.out 2> expect.err
	local rc=$?
	[ $rc = "$code" ] || fail "'$*' exited $rc, expected $code: $(cat expect.err)"
	grep -q -- "$pat" expect.err || fail "'$*' said '$(cat expect.err)', expected /$pat/"
	[ $(wc -l < expect.err) -le 3 ] || fail "'$*' said too much: $(cat expect.err)"
	# nothing half-restored is left running
	! "$ZAP" ps | grep -q restored- || fail "a process was left behind by '$*'"
}

cp "$EX/counter" mycounter
start_pod good "$T/good.1" -- "$T/mycounter" 1000 50
wait_for "[ \$(lines $T/good.1) -ge 3 ]" 30 || fail "no progress"
checkpoint_kill good
IMG=$ZAP_HOME/pods/good/image
MEMBER=$(ls "$IMG"/[0-9]*.img)
"$ZAP" inspect --verify "$IMG" > /dev/null || fail "a good image does not verify"

expect 4 "nosuch: No such file" "$ZAP" restart nosuch
mkdir notimage
expect 4 "not a zap image" "$ZAP" restart notimage
expect 4 "No such file" "$ZAP" inspect nosuch

bad() { rm -rf badimg; cp -r "$IMG" badimg; BADM=badimg/$(basename "$MEMBER"); }

bad; truncate -s 9000 "$BADM"
expect 4 "$BADM: truncated" "$ZAP" restart --pod t1 badimg
expect 4 "truncated" "$ZAP" inspect badimg

bad; size=$(stat -c %s "$BADM")
printf '\377' | dd of="$BADM" bs=1 seek=$((size - 2)) conv=notrunc 2>/dev/null
expect 4 "section STRINGS: checksum mismatch" "$ZAP" restart --pod t2 badimg

bad; printf 'XX' | dd of="$BADM" bs=1 seek=0 conv=notrunc 2>/dev/null
expect 4 "not a zap image (bad magic)" "$ZAP" restart --pod t3 badimg

bad; "$IMGPATCH" "$BADM" version 7
expect 4 "version 7 is not supported" "$ZAP" restart --pod t4 badimg

bad; "$IMGPATCH" "$BADM" arch 183
expect 4 "machine type 183" "$ZAP" restart --pod t5 badimg

bad; "$IMGPATCH" badimg/pod.img version 9
expect 4 "pod.img: image format version 9" "$ZAP" restart --pod t6 badimg

# a flipped byte in the page data is caught, by inspect --verify and by restart
bad; printf '\125' | dd of="$BADM" bs=1 seek=4200 conv=notrunc 2>/dev/null
expect 4 "section PAGES: checksum mismatch" "$ZAP" inspect --verify badimg
expect 4 "section PAGES: checksum mismatch" "$ZAP" restart --pod t7 badimg

# the program's own executable changed, then vanished
cp mycounter mycounter.orig
printf 'x' >> mycounter
expect 6 "$T/mycounter changed since the checkpoint" "$ZAP" restart --pod t8 "$IMG"
rm mycounter
expect 6 "$T/mycounter, which is gone" "$ZAP" restart --pod t9 "$IMG"
cp -p mycounter.orig mycounter
touch -r mycounter.orig mycounter

# names and pids that are not under zap
expect 5 "no pod named 'nosuch'" "$ZAP" checkpoint nosuch
expect 5 "not running under zap" "$ZAP" checkpoint $$
expect 5 "no process 4999999" "$ZAP" checkpoint 4999999
expect 5 "pod 'good' is not running" "$ZAP" checkpoint good
expect 2 "usage" "$ZAP" checkpoint
expect 2 "usage" "$ZAP" restart
expect 2 "unknown command" "$ZAP" frobnicate

# a static binary has no preload: refused with the reason, and left running
start_pod static "$T/static.1" -- "$PROGS/counter-static" 1000 50
expect 1 "does not have zap's preload loaded" "$ZAP" checkpoint static
kill -0 "$(cat "$ZAP_HOME/pods/static/pid")" || fail "the static program died"

# a pod whose member runs a static child: refused, naming the child, and left running
start_pod multi "$T/multi.1" -- sh -c "$PROGS/counter-static 1000 50 & $EX/counter 1000 50; wait"
wait_for "[ \$(ls $ZAP_HOME/pods/multi/members | wc -l) -ge 2 ]" 10 || fail "members did not register"
expect 1 "counter-static).*does not have zap's preload loaded" "$ZAP" checkpoint multi
[ -z "$(ls -d "$ZAP_HOME"/pods/multi/ckpt-* 2>/dev/null)" ] || fail "a refused pod checkpoint left its control directory"
[ ! -e "$ZAP_HOME/pods/multi/request" ] || fail "a refused pod checkpoint left its request behind"
# and no member, signalled before the refusal, starts a checkpoint of its own
sleep 1.5
[ ! -s "$ZAP_HOME/pods/multi/checkpoint.log" ] ||
	fail "a refused pod checkpoint left a member checkpointing by itself: $(head -3 "$ZAP_HOME/pods/multi/checkpoint.log")"

# a bad pod name is a usage error
expect 2 "bad pod name" "$ZAP" run --pod "a/b" -- true

# a member that exec'd a static program keeps its pid, but not the preload
start_pod exst "$T/exst.1" -- sh -c "exec $PROGS/counter-static 1000 50"
wait_for "[ \$(lines $T/exst.1) -ge 2 ]" 10 || fail "no progress"
expect 1 "does not have zap's preload loaded" "$ZAP" checkpoint exst
kill -0 "$(cat "$ZAP_HOME/pods/exst/pid")" || fail "the exec'd static program died"
[ ! -e "$ZAP_HOME/pods/exst/request" ] || fail "a refused checkpoint left its request behind"
"$ZAP" ps | grep "exst" | grep -q "no preload" || fail "zap ps does not mark the exec'd static program: $("$ZAP" ps)"
"$ZAP" ps | grep "^static " | grep -q "no preload" || fail "zap ps does not mark the static program"
