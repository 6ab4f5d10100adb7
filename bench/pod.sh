#!/bin/sh
# Pod checkpoint benchmark: a pod of 8 processes sharing M MiB between them
# (bench/podhog.c: the first forks 7 children, each of the 8 fills M/8 MiB)
# against one process filling M MiB, for M = 64 and 256.  Prints the median
# wall time of `zap checkpoint -o DIR POD` for each and the ratio; the
# issue's target is 8 processes <= 2x one process with the same memory.
# Part of `make bench` (bench/run.sh calls it at the end), or alone:
#   sh bench/pod.sh
# If this build refuses to checkpoint a pod of several processes, it says
# "pods not supported by this build", prints the one-process rows only and
# exits 0.
#
# Everything (ZAP_HOME, images) lives in /dev/shm; every wait is bounded;
# whatever it started is killed and its directory removed on any exit.
# Knobs: BENCH_POD_SIZES="64 256" (MiB), BENCH_POD_REPS=5 (checkpoints per
# case after one warm-up that is not counted), BENCH_POD_NPROC=8,
# BENCH_STEP_S=60 (bound on each single command or wait).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZAP=$ROOT/build/bin/zap
OUT=$ROOT/build/bench
SIZES=${BENCH_POD_SIZES:-"64 256"}
REPS=${BENCH_POD_REPS:-5}
NPROC=${BENCH_POD_NPROC:-8}
STEP_S=${BENCH_STEP_S:-60}
LIFETIME=600 # the workload exits on its own after this, whatever happens
WORK=/dev/shm/zappod.$$
export ZAP_HOME=$WORK/home
LOG=$OUT/pod.log

. "$(dirname "$0")/lib.sh"
bench_cleanup_on_exit
trap 'echo "pod bench: interrupted" >&2; exit 124' INT TERM HUP
die() {
	echo "pod bench: $*" >&2
	exit 1
}
progress() { printf '%s\n' "pod bench: $*" >&2; }

[ -x "$ZAP" ] || die "$ZAP is missing: run make"
mkdir -p "$OUT" "$WORK/home" || die "cannot create $WORK"
: >"$LOG"
gcc -O2 -Wall -Wextra -o "$OUT/podhog" "$ROOT/bench/podhog.c" 2>>"$LOG" || die "cannot build bench/podhog.c"
gcc -O2 -Wall -Wextra -o "$OUT/zbench" "$ROOT/bench/zbench.c" 2>>"$LOG" || die "cannot build bench/zbench.c"
ZB=$OUT/zbench


PODS=yes  # no once this build refuses a pod of several processes
REFUSAL=
# one case: NPROC MIB; appends "nproc mib median min max image_bytes" to
# $WORK/rows, or "nproc mib error WHY"
bench_case() {
	n=$1 s=$2 pod=pb-$1-$2
	ready=$WORK/ready-$n-$s
	dir=$WORK/img-$n-$s
	progress "$n process(es), $s MiB: starting"
	"$ZAP" run --pod "$pod" -- "$OUT/podhog" "$n" "$s" "$ready" "$LIFETIME" >/dev/null 2>>"$LOG" &
	runpid=$!
	if ! wait_file "$ready" "$STEP_S" "$runpid"; then
		echo "$n $s error the_workload_did_not_start" >>"$WORK/rows"
		kill "$runpid" 2>/dev/null
		return
	fi
	sleep 0.2
	progress "$n process(es), $s MiB: 1 + $REPS checkpoints"
	samples=
	for i in $(seq 0 "$REPS"); do
		r=$("$ZB" time "$STEP_S" "$ZAP" checkpoint --timeout $((STEP_S - 5)) -o "$dir" "$pod" 2>"$WORK/ck.err")
		cat "$WORK/ck.err" >>"$LOG"
		code=$(echo "$r" | cut -d' ' -f2)
		if [ "$code" != 0 ]; then
			if [ "$n" -gt 1 ] && grep -q "not supported" "$WORK/ck.err"; then
				PODS=no
				REFUSAL=$(head -1 "$WORK/ck.err")
				echo "$n $s refused" >>"$WORK/rows"
			else
				echo "$n $s error checkpoint_$i:_exit_$code" >>"$WORK/rows"
			fi
			samples=
			break
		fi
		[ "$i" -gt 0 ] && samples="$samples $(echo "$r" | cut -d' ' -f1)"
		sleep 0.1
	done
	if [ -n "$samples" ]; then
		# shellcheck disable=SC2086 # one number a word
		echo "$n $s $("$ZB" stat $samples) $(du -sb "$dir" | cut -f1)" >>"$WORK/rows"
	fi
	kill -TERM "$runpid" 2>/dev/null
	wait_gone "$runpid" 10
	wait "$runpid" 2>/dev/null
	kill_ours
	rm -rf "$dir" "$dir.spare" "$ready"
}

: >"$WORK/rows"
for s in $SIZES; do
	bench_case 1 "$s"
	[ "$PODS" = yes ] && bench_case "$NPROC" "$s"
done

echo "Pod checkpoint: $NPROC processes sharing M MiB against 1 process with M MiB (zap checkpoint -o DIR,"
echo "wall time; medians of $REPS after one warm-up; images in /dev/shm).  ms."
awk -v np="$NPROC" -v pods="$PODS" '
function ms(us) { return sprintf(us >= 100000 ? "%.0f" : "%.1f", us / 1000) }
{
	key = $1 " " $2; sizes[$2] = 1
	if ($3 == "refused") { val[key] = "refused"; next }
	if ($3 == "error") { val[key] = "error"; why[key] = $4; next }
	val[key] = $3; rng[key] = ms($4) ".." ms($5); img[key] = sprintf("%.0f", $6 / 1048576)
}
END {
	printf "%-8s %10s %13s %6s  %10s %13s %6s  %6s  %-8s\n", "memory", "1 proc", "min..max", "MiB", np " procs", "min..max", "MiB", "ratio", "target <=2.0x"
	n = split("'"$SIZES"'", order, " ")
	for (i = 1; i <= n; i++) {
		s = order[i]; a = "1 " s; b = np " " s
		one = (a in val) ? val[a] : "-"; many = (b in val) ? val[b] : (pods == "no" ? "refused" : "-")
		ratio = "-"; verdict = "n/a"
		if (one ~ /^[0-9]/ && many ~ /^[0-9]/ && one > 0) {
			ratio = sprintf("%.2fx", many / one); verdict = (many / one <= 2.0) ? "PASS" : "FAIL"
		}
		printf "%-8s %10s %13s %6s  %10s %13s %6s  %6s  %-8s\n", s " MiB",
			one ~ /^[0-9]/ ? ms(one) : one, (a in rng) ? rng[a] : "-", (a in img) ? img[a] : "-",
			many ~ /^[0-9]/ ? ms(many) : many, (b in rng) ? rng[b] : "-", (b in img) ? img[b] : "-", ratio, verdict
	}
}' "$WORK/rows"
if [ "$PODS" = no ]; then
	echo "pods not supported by this build: zap checkpoint refused the $NPROC-process pod, so no pod rows:"
	echo "  $REFUSAL"
fi
grep -q ' error ' "$WORK/rows" && sed -n 's/^\([0-9]*\) \([0-9]*\) error /  failed: \1 process(es), \2 MiB: /p' "$WORK/rows" | tr _ ' '
echo "(stderr of every command: $LOG)"
exit 0
