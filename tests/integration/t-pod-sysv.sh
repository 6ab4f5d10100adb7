# A pod whose processes share a SysV segment, a semaphore set and a
# message queue comes back whole: the segment's contents, the semaphore's
# value and the messages waiting in the queue are in the image (sysv.img),
# the recreated objects are shared again, and the program keeps its ids.
. "$(dirname "$0")/lib.sh"
KEY=0x5a59$(printf '%04x' $(( $$ % 65536 )))

# The objects a pod listed (pods/NAME/ipc) are removed at the end, even on
# failure: a killed pod leaves its objects behind, and so does a failed test.
REFS=""
sysv_cleanup() {
	# a reference run removes its own objects when it ends: let it (~5 s)
	for p in $REFS; do timeout 10 tail --pid="$p" -f /dev/null; done
	ipcrm -S "$KEY" 2>/dev/null
	for f in "$ZAP_HOME"/pods/*/ipc "$T"/*.ipc; do
		[ -f "$f" ] || continue
		while read -r kind id key pkey; do
			case $kind in
			shm) ipcrm -m "$id" ;; sem) ipcrm -s "$id" ;; msg) ipcrm -q "$id" ;;
			esac 2>/dev/null
		done < "$f"
	done
	cleanup
}
trap sysv_cleanup EXIT

sysv_roundtrip() {
	local name=$1 workers=$2
	( "$PROGS/podsysv" "$workers" 50 "$KEY" > "$T/$name.ref" 2> /dev/null ) &
	local refpid=$!
	REFS="$REFS $refpid"
	start_pod "$name" "$T/$name.1" -- "$PROGS/podsysv" "$workers" 50 "$KEY"
	sleep 2 # mid-run: a run takes about 5 s
	timeout 120 "$ZAP" checkpoint --kill "$name" > "$T/$name.ck.out" 2> "$T/$name.ck.err" ||
		fail "checkpoint --kill $name failed: $(cat "$T/$name.ck.err")"
	wait_for "! [ -s $ZAP_HOME/pods/$name/pid ]" 20 || fail "$name: zap run did not end"
	cp "$ZAP_HOME/pods/$name/ipc" "$T/$name.ipc" 2>/dev/null # the objects before the restart
	[ -s "$ZAP_HOME/pods/$name/image/sysv.img" ] || fail "$name: the image has no sysv.img"
	"$ZAP" inspect "$ZAP_HOME/pods/$name/image" > "$T/$name.inspect" || fail "$name: inspect failed"
	grep -q "/SYSV" "$T/$name.inspect" || fail "$name: inspect shows no SysV segment"
	restart_bg "$ZAP_HOME/pods/$name/image" "$T/$name.2"
	local rpid=$!
	wait $rpid || fail "$name: restart exited $?: $(cat "$T/$name.2.err")"
	wait $refpid
	cat "$T/$name.1" "$T/$name.2" > "$T/$name.joined"
	grep -q "checksum .* (matches), semaphore 1" "$T/$name.ref" || fail "$name: the reference run is wrong"
	same "$T/$name.joined" "$T/$name.ref"
	note "$name: $workers workers: $(tail -1 "$T/$name.2")"
}

sysv_roundtrip sv1 0   # one process: its own segment, semaphore and queue
sysv_roundtrip sv3 3   # a parent and three workers sharing them
