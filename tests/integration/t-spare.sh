# Repeated checkpoints write over the image before last (DIR.spare) instead
# of new files; every image stays whole and restorable, --no-spare keeps
# none, and the spare goes when the program ends.
. "$(dirname "$0")/lib.sh"
"$EX/counter" 80 5 > sp.ref
start_pod sp "$T/sp.1" -- "$EX/counter" 80 50
IMG=$ZAP_HOME/pods/sp/image
"$ZAP" checkpoint sp > /dev/null || fail "checkpoint 1"
[ ! -e "$IMG.spare" ] || fail "a spare after the first checkpoint"
"$ZAP" checkpoint sp > /dev/null || fail "checkpoint 2"
[ -f "$IMG.spare/pod.img" ] || fail "no spare after the second checkpoint"
"$ZAP" inspect --verify "$IMG" > /dev/null || fail "image 2 does not verify"
spare_ino=$(stat -c %i "$IMG.spare"/[0-9]*.img)
"$ZAP" checkpoint sp > /dev/null || fail "checkpoint 3"
# the third image was written into the spare's file
[ "$(stat -c %i "$IMG"/[0-9]*.img)" = "$spare_ino" ] || fail "checkpoint 3 did not reuse the spare's file"
"$ZAP" inspect --verify "$IMG" > /dev/null || fail "image 3 does not verify"
"$ZAP" inspect --verify "$IMG.spare" > /dev/null || fail "the spare (image 2) does not verify"
"$ZAP" checkpoint --no-spare sp > /dev/null || fail "checkpoint 4"
"$ZAP" inspect --verify "$IMG" > /dev/null || fail "image 4 does not verify"
[ ! -e "$IMG.spare" ] || fail "--no-spare left a spare"
"$ZAP" checkpoint sp > /dev/null && "$ZAP" checkpoint sp > /dev/null || fail "checkpoints 5, 6"
[ -e "$IMG.spare" ] || fail "no spare after checkpoint 6"
checkpoint_kill sp
[ ! -e "$IMG.spare" ] || fail "the spare outlived the program"
ls -d "$IMG".tmp-* 2> /dev/null && fail "temporary directories left behind"
restart_bg "$IMG" "$T/sp.2"
wait $! || fail "restart failed: $(cat sp.2.err)"
cat sp.1 sp.2 > sp.joined
same sp.joined sp.ref
