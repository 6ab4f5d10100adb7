#!/bin/bash
# Wrapper overhead table: native against libzappre.so preloaded, in one run.
# Part of `make bench` (bench/run.sh calls it); prints a table to stdout.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$TOP/build}
PRE=$B/lib/zap/libzappre.so
mkdir -p "$B/bench"
gcc -O2 -o "$B/bench/wrappers" "$TOP/bench/wrappers.c" || exit 1
W=$(mktemp -d /tmp/zapbench-w.XXXXXX)
trap 'rm -rf "$W"' EXIT
timeout 120 "$B/bench/wrappers" > "$W/native" || exit 1
ZAP_HOME=$W/home ZAP_POD=bench LD_PRELOAD=$PRE timeout 120 "$B/bench/wrappers" > "$W/zap" || exit 1
# and under a pod table, as after a restart (an empty one: each child is
# added by fork and dropped by waitpid), when the test tool that makes one
# is built.  The pod directory exists there, so each child also registers
# as a member (members/PID), as under `zap run`.
if [ -x "$B/tests/mkvtab" ]; then
	mkdir -p "$W/home/pods/benchvt"
	"$B/tests/mkvtab" "$W/home/pods/benchvt/vtab" create &&
		ZAP_HOME=$W/home ZAP_POD=benchvt LD_PRELOAD=$PRE timeout 120 "$B/bench/wrappers" > "$W/table"
fi
[ -s "$W/table" ] || sed 's/ .*/ -/' "$W/native" > "$W/table"
# startup of /bin/true: hyperfine-like, median of 31 runs each way
start() { # env...
	local i t0 t1 s=()
	for i in $(seq 31); do
		t0=$(date +%s%N); env "$@" /bin/true; t1=$(date +%s%N)
		s+=($(( (t1 - t0) / 1000 )))
	done
	printf '%s\n' "${s[@]}" | sort -n | sed -n 16p
}
n_start=$(start)
z_start=$(start ZAP_HOME="$W/home" ZAP_POD=bench LD_PRELOAD="$PRE")
echo "Wrapper overhead (median ns per call; native, under libzappre.so, and under it with a pod table, in the same run)"
printf '%-18s %12s %12s %8s %12s %8s  %s\n' call native zap ratio zap+table ratio target
targets=("getpid <= 5 ns" "-" "-" "-" "fork <= 1.2x native" "fork+exec <= 1.3x native")
ratio() { [ "$2" = - ] && echo - || printf '%.2fx' "$(echo "$2 / $1" | bc -l)"; }
i=0
paste -d ' ' "$W/native" "$W/zap" "$W/table" | while read -r name nat _ z _ t; do
	printf '%-18s %12s %12s %8s %12s %8s  %s\n' "$name" "$nat" "$z" "$(ratio "$nat" "$z")" "$t" \
		"$(ratio "$nat" "$t")" "${targets[$i]}"
	i=$((i + 1))
done
printf '%-18s %9s us %9s us %7.2fx  %s\n' "start /bin/true" "$n_start" "$z_start" \
	"$(echo "$z_start / $n_start" | bc -l)" "<= native + 5 ms"
