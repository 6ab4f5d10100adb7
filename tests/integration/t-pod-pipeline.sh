# A shell pipeline as one pod: bash, seq, awk, sort and sha256sum, with the
# checkpoint taken mid-run (1.5 s in, while awk is still working through its
# input).  At that moment seq, ~40x faster than awk, is blocked on a full pipe
# to awk, awk holds a partly filled stdio buffer, and sort holds part of its
# input in memory, so the image must keep the bytes in flight in the pipes
# between the members.  After restart the pipeline must print the hash of an
# uninterrupted run; once with stdout through a pipe to the outside, once
# with stdout redirected to a file.
. "$(dirname "$0")/lib.sh"
for c in seq awk sort sha256sum bash; do
	command -v $c > /dev/null || skip "$c not installed"
done
export LC_ALL=C TMPDIR=$T
N=${PIPE_N:-4000000} # ~5.5 s here: ~3 s of seq|awk, then ~2.5 s of sort
PIPE="seq 1 $N | awk '{ printf \"%07d %d\\n\", (\$1 * 7919) % 1000003, \$1 }' | sort -S 200M -k1,1 -k2,2n | sha256sum"

# the reference, without zap
t0=$(date +%s%N)
timeout 120 bash -c "$PIPE" > pipe.ref || fail "the pipeline itself failed"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
note "uninterrupted pipeline: $ms ms: $(cut -c1-16 pipe.ref)..."
[ $ms -ge 2500 ] || note "the pipeline ran in under 2.5 s: the checkpoint at 1.5 s may come too late (raise PIPE_N)"

# run NAME OUT CMD: the pipeline under zap, checkpointed at 1.5 s with
# --kill, restarted; OUT is where its stdout ends up after the restart
# ($T/NAME.2 when stdout is a pipe to the test)
pod_run() {
	local name=$1 out=$2 cmd=$3 before=${4:-0}
	start_pod "$name" "$T/$name.1" -- bash -c "$cmd"
	# checkpoints the pipeline runs on after: the last one writes over the
	# spare that the one before it left (its files handed out to members)
	for i in $(seq 1 "$before"); do
		sleep 0.3
		timeout 60 "$ZAP" checkpoint "$name" > /dev/null 2> "$T/$name.ck$i.err" ||
			fail "$name: checkpoint $i failed: $(cat "$T/$name.ck$i.err")"
	done
	[ "$before" -gt 0 ] && { [ -d "$ZAP_HOME/pods/$name/image.spare" ] || fail "$name: no spare image kept"; }
	if [ "$before" -gt 0 ]; then sleep 0.4; else sleep 1.5; fi
	[ -s "$ZAP_HOME/pods/$name/pid" ] || fail "$name: the pipeline ended before the checkpoint (raise PIPE_N)"
	[ -s "$T/$name.1" ] && fail "$name: the pipeline printed its hash before the checkpoint (raise PIPE_N)"
	checkpoint_kill "$name"
	wait_for "! [ -s $ZAP_HOME/pods/$name/pid ]" 20 || fail "$name: zap run did not end after checkpoint --kill"
	grep -q "checkpointed to" "$T/$name.run.err" || fail "$name: zap run did not report the checkpoint"
	[ -s "$T/$name.1" ] && fail "$name: output before the restart: $(cat "$T/$name.1")"
	[ -s "$T/pf.out" ] && fail "$name: the hash is in pf.out before the restart"
	local t1
	t1=$(date +%s%N)
	restart_bg "$ZAP_HOME/pods/$name/image" "$T/$name.2"
	wait $! || fail "$name: restart exited $?: $(cat "$T/$name.2.err")"
	same "$out" pipe.ref
	note "$name: checkpoint at 1.5 s, image $(du -sm "$ZAP_HOME/pods/$name/image" | cut -f1) MiB, restart to the end $(( ($(date +%s%N) - t1) / 1000000 )) ms"
}

# stdout through a pipe to the test
pod_run pp "$T/pp.2" "$PIPE"
# the same after three checkpoints it ran on after
pod_run pps "$T/pps.2" "$PIPE" 3
# stdout to a file the pipeline opened itself
rm -f pf.out
pod_run pf "$T/pf.out" "$PIPE > $T/pf.out"
[ -s pf.2 ] && fail "pf: the restarted pipeline wrote to stdout: $(head -c 200 pf.2)"

# stdout a file all members share (zap run's own redirection), restarted
# with --inherit-stdio: the hash goes to zap restart's stdout, and the
# pipes between the members stay pipes
( "$ZAP" run --pod pi -- bash -c "$PIPE" > pi.file ) 2> pi.run.err &
wait_for "[ -s $ZAP_HOME/pods/pi/pid ]" 10 || fail "pi did not start"
sleep 1.5
checkpoint_kill pi
wait_for "! [ -s $ZAP_HOME/pods/pi/pid ]" 20 || fail "pi: zap run did not end"
restart_bg "$ZAP_HOME/pods/pi/image" "$T/pi.2" --inherit-stdio
wait $! || fail "pi: restart exited $?: $(cat "$T/pi.2.err")"
same pi.2 pipe.ref
[ -s pi.file ] && fail "pi: the restarted pipeline wrote into the old stdout file"
exit 0
