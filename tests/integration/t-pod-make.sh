# `make -j2` of examples/minicalc (37 files, 15-20 s here) as one pod: make,
# and the gcc, cc1 and as it runs at the time, with make's jobserver pipe and
# the pipes between gcc and its children.  Checkpointed with --kill partway
# through the build, restarted, and then the build must be what an
# uninterrupted build gives: every command run once, every object and the
# program byte-identical to a build without zap, `make -q` up to date, and
# minicalc printing expected.txt.
. "$(dirname "$0")/lib.sh"
for c in make gcc cmp; do
	command -v $c > /dev/null || skip "$c not installed"
done
SRC=$TOP/examples/minicalc
[ -f "$SRC/Makefile" ] || fail "$SRC is missing"
NOBJ=$(find "$SRC" -maxdepth 1 -name '*.c' | wc -l)
export LC_ALL=C
# two copies of the project: the reference built without zap, and the one
# built under zap (the build writes only inside its copy; both are in $T)
for d in ref run; do
	if ! cp -r "$SRC" "$d" || ! make -s -C "$d" clean > /dev/null; then
		fail "cannot copy $SRC"
	fi
done
objs() { find "$T/run" -maxdepth 1 -name '*.o' | wc -l; }

t0=$(date +%s%N)
(cd ref && timeout 120 make -j2 > "$T/make.ref" 2> "$T/make.ref.err") || fail "the build without zap failed: $(tail -5 make.ref.err)"
note "build without zap: $(( ($(date +%s%N) - t0) / 1000000 )) ms, $NOBJ objects"
ref/minicalc ref/input.txt | cmp -s - ref/expected.txt || fail "minicalc built without zap does not print expected.txt"

cd run || fail "no run/"
start_pod mk "$T/mk.1" -- make -j2
cd "$T" || fail "no $T"
# partway: the 11 small files and a few of the 26 big ones compiled
wait_for "[ \$(objs) -ge 14 ]" 60 || fail "the build under zap made no progress ($(objs) objects after 60 s)"
[ -e run/minicalc ] && fail "the build ended before the checkpoint"
checkpoint_kill mk
wait_for "! [ -s $ZAP_HOME/pods/mk/pid ]" 20 || fail "zap run did not end after checkpoint --kill"
grep -q "checkpointed to" mk.run.err || fail "zap run did not report the checkpoint"
# every member is gone: the build stands still, unfinished
n1=$(objs)
sleep 1
n2=$(objs)
[ "$n1" = "$n2" ] || fail "objects still appear after checkpoint --kill ($n1, then $n2)"
[ "$n1" -lt "$NOBJ" ] || fail "all $NOBJ objects were built before the checkpoint"
[ -e run/minicalc ] && fail "minicalc was linked before the checkpoint"
for p in /proc/[0-9]*; do
	case $(readlink "$p/cwd" 2> /dev/null) in
	"$T/run"*) fail "process ${p#/proc/} ($(tr '\0' ' ' < "$p/cmdline" | cut -c1-60)) still runs in the build" ;;
	esac
done
note "checkpointed with $n1 of $NOBJ objects built"

t1=$(date +%s%N)
restart_bg "$ZAP_HOME/pods/mk/image" "$T/mk.2"
wait $! || fail "restart exited $?: $(tail -5 "$T/mk.2.err")"
note "restart to the end of the build: $(( ($(date +%s%N) - t1) / 1000000 )) ms"

[ -x run/minicalc ] || fail "no minicalc after the restarted build"
run/minicalc run/input.txt > calc.out || fail "minicalc exited $?"
same calc.out run/expected.txt
for f in ref/*.o ref/minicalc; do
	cmp -s "$f" "run/${f#ref/}" || fail "run/${f#ref/} differs from the same file built without zap"
done
(cd run && timeout 60 make -q) || fail "make -q: the build is not up to date after the restart"
# each command printed once, across the two runs (-j2: compare as sorted lines)
cat mk.1 mk.2 | sort > mk.joined
sort make.ref > make.ref.sorted
same mk.joined make.ref.sorted
exit 0
