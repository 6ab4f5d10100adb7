#!/bin/sh
# zap benchmark: checkpoint time, image size and restart time for a process
# with a 1 MiB, 256 MiB and 1 GiB heap, next to native baselines measured in
# the same run (memcpy, write() to /dev/shm, read() back), and next to DMTCP
# and CRIU when they are installed; then the wrapper overhead table
# (bench/wrappers.sh), the pod checkpoint table (bench/pod.sh) and the
# migration table (bench/migrate.sh).  `make
# bench` runs it; see bench/README.md for what each column means.
#
# Everything lives in /dev/shm (tmpfs), images included, so disk speed is
# not what is measured.  Every wait is bounded, a watchdog ends the whole run
# after BENCH_MAX_S seconds, and whatever this script started is killed and
# its /dev/shm directory removed on any exit.
#
# Knobs (environment): BENCH_SIZES="1 256 1024" (MiB), BENCH_REPS (runs per
# size, after one first run reported on its own; default 9 up to 16 MiB,
# else 5),
# BENCH_MAX_S=900 (then the run stops and prints what it has),
# BENCH_STEP_S=60 (bound on each single command).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZAP=$ROOT/build/bin/zap
OUT=$ROOT/build/bench
ZB=$OUT/zbench
SIZES=${BENCH_SIZES:-"1 256 1024"}
MAX_S=${BENCH_MAX_S:-900}
STEP_S=${BENCH_STEP_S:-60} # bound on any single command or wait
LIFETIME=$((MAX_S + 30)) # the hog exits on its own after this, whatever happens
WORK=/dev/shm/zapbench.$$
export ZAP_HOME=$WORK/home
LOG=$OUT/bench.log   # stderr of everything, kept for a look after the run
RAW=$OUT/results.txt # every single measurement, key=value
WATCHDOG=

# ---- cleanup: only what we started ----

ours() { # pid: does it carry our ZAP_HOME (the hog, zap, restored programs)?
	[ "$1" != $$ ] && grep -qs "ZAP_HOME=$ZAP_HOME" "/proc/$1/environ" 2>/dev/null
}
kill_ours() {
	for p in $(grep -ls "ZAP_HOME=$ZAP_HOME" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		[ "$p" != $$ ] && [ "$p" != "$WATCHDOG" ] && kill -9 "$p" 2>/dev/null
	done
}
cleanup() {
	trap - EXIT INT TERM HUP
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	kill_ours
	if [ -n "${DMTCP_PORT:-}" ] && command -v dmtcp_command >/dev/null 2>&1; then
		timeout 5 dmtcp_command -p "$DMTCP_PORT" --quit >/dev/null 2>&1
	fi
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
STOPPED=
on_signal() {
	trap - INT TERM HUP
	STOPPED=1
	echo "bench: stopped before the end (watchdog or signal); partial results follow" >&2
	kill_ours
	[ -n "${TOOLS:-}" ] && report
	exit 124
}
trap on_signal INT TERM HUP

die() {
	echo "bench: $*" >&2
	[ -s "$LOG" ] && { echo "--- last lines of $LOG:" >&2; tail -15 "$LOG" >&2; }
	exit 1
}

# ---- set-up ----

[ -x "$ZAP" ] || die "$ZAP is missing: run make"
mkdir -p "$OUT" "$WORK/home" "$WORK/res" || die "cannot create $WORK"
: >"$LOG"
: >"$RAW"
gcc -O2 -Wall -Wextra -o "$ZB" "$ROOT/bench/zbench.c" 2>>"$LOG" || die "cannot build bench/zbench.c"

# The watchdog stops the run, and the command the run is waiting for (a
# trap only runs once the foreground command is over).
sh -c 'sleep "$1" || exit 0
	echo "bench: watchdog: over $1 s, stopping" >&2
	kill -TERM "$2" 2>/dev/null
	# TERM first, so that the benchmark running (under timeout, which
	# passes it on) removes its namespaces and processes in its EXIT trap
	kids=$(ps -o pid= --ppid "$2")
	for p in $kids; do [ "$p" != $$ ] && kill -TERM "$p" 2>/dev/null; done
	sleep 10
	for p in $kids; do [ "$p" != $$ ] && kill -9 "$p" 2>/dev/null; done' watchdog "$MAX_S" $$ &
WATCHDOG=$!
disown "$WATCHDOG" # no job message when the run ends it during its last sleep

START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
HAVE_DMTCP=0 HAVE_CRIU=0
command -v dmtcp_launch >/dev/null 2>&1 && command -v dmtcp_command >/dev/null 2>&1 &&
	command -v dmtcp_restart >/dev/null 2>&1 && HAVE_DMTCP=1
# CRIU must also pass its own self-test on this kernel (3.17 does not know
# the [vvar_vclock] VMA of recent kernels and refuses to start)
CRIU_WHY="not installed (no criu on PATH)"
if command -v criu >/dev/null 2>&1; then
	if criu_err=$(timeout 30 criu check 2>&1); then
		HAVE_CRIU=1
	else
		CRIU_WHY="$(criu --version 2>/dev/null | head -1 | sed 's/Version: /version /') is installed but 'criu check' fails here: $(echo "$criu_err" | grep -m1 -v 'util.c' | sed 's/^Error ([^)]*): //')"
	fi
fi
TOOLS=zap
[ $HAVE_DMTCP = 1 ] && TOOLS="$TOOLS dmtcp"
[ $HAVE_CRIU = 1 ] && TOOLS="$TOOLS criu"

reps_for() { # size in MiB
	if [ -n "${BENCH_REPS:-}" ]; then echo "$BENCH_REPS"
	elif [ "$1" -le 16 ]; then echo 9
	else echo 5; fi
}
kv() { # "k=v k=v..." key
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
add() { # tool size metric value: append one sample
	echo "$4" >>"$WORK/res/$1-$2.$3"
	echo "tool=$1 size_mib=$2 $3=$4" >>"$RAW"
}
. "$(dirname "$0")/lib.sh"
progress() { printf '%s\n' "bench: $*" >&2; }

# ---- zap ----

bench_zap() { # size reps
	s=$1 n=$2 pod=zb-$1
	ready=$WORK/ready-zap-$s
	progress "zap, $s MiB: starting the program"
	"$ZAP" run --pod "$pod" -- "$ZB" hog "$s" "$ready" "$LIFETIME" >/dev/null 2>>"$LOG" &
	runpid=$!
	if ! wait_file "$ready" "$STEP_S" "$runpid"; then
		kill "$runpid" 2>/dev/null
		add zap "$s" error "the program did not start"
		return
	fi
	add zap "$s" nativescan_us "$(cut -d' ' -f2 "$ready")"
	sleep 0.2
	img=
	progress "zap, $s MiB: 1 + $n checkpoints"
	# run 0 is the first checkpoint of the program: reported on its own
	# (fresh memory is much dearer on this VM than memory freed a moment ago).
	# All go to one directory, as periodic checkpoints do: from the third on
	# zap writes over the image before last (DIR.spare) instead of new files.
	for i in $(seq 0 "$n"); do
		dir=$WORK/img-zap-$s
		pre=; [ "$i" = 0 ] && pre=first_
		r=$("$ZB" time "$STEP_S" "$ZAP" checkpoint --timeout $((STEP_S - 5)) -o "$dir" "$pod" 2>>"$LOG")
		if [ "$(echo "$r" | cut -d' ' -f2)" != 0 ]; then
			add zap "$s" error "checkpoint $i exited $(echo "$r" | cut -d' ' -f2)"
			continue
		fi
		add zap "$s" "${pre}ckpt_us" "$(echo "$r" | cut -d' ' -f1)"
		res=$ZAP_HOME/pods/$pod/result
		add zap "$s" "${pre}write_us" "$(sed -n 's/^write_usec=//p' "$res")"
		add zap "$s" "${pre}stop_us" "$(sed -n 's/^stop_usec=//p' "$res")"
		add zap "$s" bytes "$(sed -n 's/^bytes=//p' "$res")"
		add zap "$s" image_bytes "$(du -sb "$dir" | cut -f1)"
		img=$dir
		sleep 0.1
	done
	kill -TERM "$runpid" 2>/dev/null
	wait_gone "$runpid" 10
	wait "$runpid" 2>/dev/null
	if [ -z "$img" ]; then
		add zap "$s" error "no checkpoint succeeded"
		return
	fi
	progress "zap, $s MiB: 1 + $n restarts"
	for i in $(seq 0 "$n"); do
		pre=; [ "$i" = 0 ] && pre=first_
		r=$("$ZB" restart "$STEP_S" "$ZAP" restart --pod "$pod-r" --inherit-stdio "$img" 2>>"$LOG")
		echo "tool=zap size_mib=$s run=$i $r" >>"$RAW"
		us=$(kv "$r" restart_us)
		if [ -z "$us" ] || [ "$us" = FAIL ]; then
			add zap "$s" error "restart $i: no sign of life (exit $(kv "$r" exit))"
			continue
		fi
		add zap "$s" "${pre}restart_us" "$us"
		v=$(kv "$r" verify)
		add zap "$s" verify "$v"
		[ "$v" = ok ] || add zap "$s" error "restart $i: the restored heap check says '$v'"
		add zap "$s" scan_us "$(kv "$r" scan_us)"
		sleep 0.1
	done
	rm -rf "$img" "$img.spare"
}

# ---- DMTCP (only when installed; untested on the machine this was written on) ----

bench_dmtcp() { # size reps
	s=$1 n=$2
	DMTCP_PORT=$((7700 + $$ % 200))
	d=$WORK/dmtcp-$s
	logf=$WORK/dmtcp-out-$s
	ready=$WORK/ready-dmtcp-$s
	mkdir -p "$d"
	: >"$logf"
	progress "DMTCP, $s MiB: starting the program"
	timeout 20 dmtcp_coordinator --daemon --exit-on-last -p "$DMTCP_PORT" --ckptdir "$d" >>"$LOG" 2>&1
	DMTCP_GZIP=0 dmtcp_launch -p "$DMTCP_PORT" --no-gzip --ckptdir "$d" \
		"$ZB" hog "$s" "$ready" "$LIFETIME" >"$logf" 2>>"$LOG" </dev/null &
	if ! wait_file "$ready" "$STEP_S" $!; then
		add dmtcp "$s" error "the program did not start under dmtcp_launch"
		timeout 5 dmtcp_command -p "$DMTCP_PORT" --quit >/dev/null 2>&1
		return
	fi
	sleep 0.5
	for i in $(seq 0 "$n"); do
		pre=; [ "$i" = 0 ] && pre=first_
		rm -f "$d"/ckpt_*.dmtcp
		r=$("$ZB" time "$STEP_S" dmtcp_command -p "$DMTCP_PORT" --bcheckpoint 2>>"$LOG")
		f=$(ls "$d"/ckpt_*.dmtcp 2>/dev/null | head -1)
		if [ "$(echo "$r" | cut -d' ' -f2)" != 0 ] || [ -z "$f" ]; then
			add dmtcp "$s" error "dmtcp_command --bcheckpoint failed"
			continue
		fi
		add dmtcp "$s" "${pre}ckpt_us" "$(echo "$r" | cut -d' ' -f1)"
		add dmtcp "$s" image_bytes "$(du -sb "$d" | cut -f1)"
		sleep 0.1
	done
	timeout 20 dmtcp_command -p "$DMTCP_PORT" --quit >/dev/null 2>&1
	sleep 0.5
	kill_ours
	f=$(ls "$d"/ckpt_*.dmtcp 2>/dev/null | head -1)
	[ -z "$f" ] && return
	for i in $(seq 0 "$n"); do
		pre=; [ "$i" = 0 ] && pre=first_
		: >"$logf" # the restored program writes at its old offset; read from 0
		r=$("$ZB" restart --file "$logf" "$STEP_S" dmtcp_restart --new-coordinator -p "$DMTCP_PORT" "$f" 2>>"$LOG")
		echo "tool=dmtcp size_mib=$s $r" >>"$RAW"
		timeout 10 dmtcp_command -p "$DMTCP_PORT" --quit >/dev/null 2>&1
		kill_ours
		us=$(kv "$r" restart_us)
		if [ -z "$us" ] || [ "$us" = FAIL ]; then
			add dmtcp "$s" error "dmtcp_restart $i: no sign of life"
			continue
		fi
		add dmtcp "$s" "${pre}restart_us" "$us"
		sleep 0.2
	done
	rm -rf "$d"
}

# ---- CRIU (only when installed; untested on the machine this was written on) ----

bench_criu() { # size reps
	s=$1 n=$2
	d=$WORK/criu-$s
	logf=$WORK/criu-out-$s
	ready=$WORK/ready-criu-$s
	: >"$logf"
	progress "CRIU, $s MiB: starting the program"
	setsid "$ZB" hog "$s" "$ready" "$LIFETIME" >"$logf" 2>>"$LOG" </dev/null &
	if ! wait_file "$ready" "$STEP_S" $!; then
		add criu "$s" error "the program did not start"
		return
	fi
	hog=$(cut -d' ' -f1 "$ready")
	sleep 0.2
	for i in $(seq 0 "$n"); do
		pre=; [ "$i" = 0 ] && pre=first_
		rm -rf "$d"
		mkdir -p "$d"
		# the last dump stops the program (as checkpoint --kill would)
		leave=--leave-running
		[ "$i" = "$n" ] && leave=
		r=$("$ZB" time "$STEP_S" criu dump -t "$hog" -D "$d" $leave 2>>"$LOG")
		if [ "$(echo "$r" | cut -d' ' -f2)" != 0 ]; then
			add criu "$s" error "criu dump $i exited $(echo "$r" | cut -d' ' -f2)"
			continue
		fi
		add criu "$s" "${pre}ckpt_us" "$(echo "$r" | cut -d' ' -f1)"
		add criu "$s" image_bytes "$(du -sb "$d" | cut -f1)"
		sleep 0.1
	done
	ours "$hog" && kill -9 "$hog" 2>/dev/null
	wait_gone "$hog" 5
	[ -f "$d/inventory.img" ] || return
	size=$(stat -c %s "$logf") # CRIU checks that the file is as it was at the dump
	for i in $(seq 0 "$n"); do
		pre=; [ "$i" = 0 ] && pre=first_
		truncate -s "$size" "$logf"
		r=$("$ZB" restart --file "$logf" "$STEP_S" criu restore -D "$d" -d 2>>"$LOG")
		echo "tool=criu size_mib=$s $r" >>"$RAW"
		ours "$hog" && kill -9 "$hog" 2>/dev/null
		wait_gone "$hog" 5
		us=$(kv "$r" restart_us)
		if [ -z "$us" ] || [ "$us" = FAIL ]; then
			add criu "$s" error "criu restore $i: no sign of life"
			continue
		fi
		add criu "$s" "${pre}restart_us" "$us"
		sleep 0.2
	done
	rm -rf "$d"
}

# ---- native baselines ----

bench_base() { # size reps
	progress "native baselines, $1 MiB"
	r=$("$ZB" base "$1" "$WORK" "$2" 2>>"$LOG")
	echo "tool=native size_mib=$1 $r" >>"$RAW"
	[ -n "$r" ] || add native "$1" error "baseline failed"
	for k in memcpy_us write_us read_us readwarm_us populate_us readthp_us; do
		v=$(kv "$r" $k)
		[ -n "$v" ] && add native "$1" "$k" "$v"
	done
}

# ---- the report ----

summary() { # tool size: "tool size key=median key_min=.. key_max=.. key_n=.. ..."
	sm_line="$1 $2"
	for sm_f in "$WORK/res/$1-$2".*_us "$WORK/res/$1-$2.image_bytes" "$WORK/res/native-$2".*_us; do
		[ -s "$sm_f" ] || continue
		sm_k=${sm_f##*.}
		case $sm_f in */native-*) sm_k=native_$sm_k ;; esac
		sm_st=$("$ZB" stat $(cat "$sm_f"))
		sm_line="$sm_line $sm_k=${sm_st%% *} ${sm_k}_min=$(echo "$sm_st" | cut -d' ' -f2)"
		sm_line="$sm_line ${sm_k}_max=${sm_st##* } ${sm_k}_n=$(wc -l <"$sm_f")"
	done
	sm_v=$WORK/res/$1-$2.verify
	[ -s "$sm_v" ] && sm_line="$sm_line checks=$(wc -l <"$sm_v") checks_ok=$(grep -c '^ok$' "$sm_v")"
	echo "$sm_line"
}

report() {
	{
		echo "HDR zap benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs, loadavg $LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end${STOPPED:+ (STOPPED EARLY: partial)}"
		for tool in $TOOLS; do
			for s in $SIZES; do
				summary "$tool" "$s"
			done
		done
	} >"$WORK/rows"
	cat "$WORK/rows" >>"$RAW"
	awk '
function ms(us) { return us == "" ? "-" : sprintf(us >= 100000 ? "%.0f" : (us >= 1000 ? "%.1f" : "%.2f"), us / 1000) }
function gbs(bytes, us) { return (bytes == "" || us == "" || us == 0) ? "-" : sprintf("%.2f", bytes / (us * 1000)) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.1fx", a / b) }
function sz(mib) { return mib >= 1024 ? sprintf("%g GiB", mib / 1024) : mib " MiB" }
function verdict(us, lim) { return us == "" ? "n/a" : (us <= lim ? "PASS" : "FAIL") }
function range(k) { return V[k "_min"] == "" ? "-" : ms(V[k "_min"]) ".." ms(V[k "_max"]) }
/^HDR / { sub(/^HDR /, ""); print; next }
{
	delete V
	tool = $1; s = $2
	for (i = 3; i <= NF; i++) { eq = index($i, "="); V[substr($i, 1, eq - 1)] = substr($i, eq + 1) + 0 }
	n++
	ck = V["ckpt_us"]; rs = V["restart_us"]; img = V["image_bytes"]
	tck = trs = "-"; vck = vrs = ""
	if (tool == "zap" && s == 1) { tck = "<=10 ms"; trs = "<=20 ms"; vck = verdict(ck, 10000); vrs = verdict(rs, 20000) }
	if (tool == "zap" && s == 1024) { tck = "<=250 ms"; trs = "<=300 ms"; vck = verdict(ck, 250000); vrs = verdict(rs, 300000) }
	main[n] = sprintf("%-6s %-8s %9s %9s %6s %9s %6s %10s %6s | %8s %8s %8s | %7s %8s | %-8s %-4s  %-8s %-4s",
		tool, sz(s), ms(ck), ms(V["write_us"]), ms(V["stop_us"]), img == "" ? "-" : sprintf("%.1f", img / 1048576),
		gbs(img, ck), ms(rs), gbs(img, rs), ms(V["native_memcpy_us"]), ms(V["native_write_us"]),
		ms(V["native_read_us"]), ratio(ck, V["native_write_us"]), ratio(rs, V["native_read_us"]), tck, vck, trs, vrs)
	chk = V["checks"] == "" ? "-" : (V["checks_ok"] == V["checks"] ? "all " V["checks"] " ok" : (V["checks"] - V["checks_ok"]) "/" V["checks"] " BAD")
	ovh = (ck == "" || V["write_us"] == "") ? "-" : ms(ck - V["write_us"])
	rdp = (V["native_read_us"] == "" || V["native_populate_us"] == "") ? "-" : ms(V["native_read_us"] - V["native_populate_us"])
	spread[n] = sprintf("%-6s %-8s %2s %15s %8s %7s  %2s %15s %8s %9s %7s %7s  %7s %8s %8s %8s",
		tool, sz(s), V["ckpt_us_n"] + 0, range("ckpt_us"), ms(V["first_ckpt_us"]), ovh,
		V["restart_us_n"] + 0, range("restart_us"), ms(V["first_restart_us"]), chk,
		ms(V["scan_us"]), ms(V["nativescan_us"]), ms(V["native_readwarm_us"]), ms(V["native_populate_us"]), rdp,
		ms(V["native_readthp_us"]))
}
END {
	print "Images go to /dev/shm (tmpfs, i.e. RAM): disk speed is NOT part of these figures.  The program keeps"
	print "its heap in private anonymous 4 KiB pages, all filled with non-zero data.  Medians, in ms."
	print ""
	printf "%-6s %-8s %9s %9s %6s %9s %6s %10s %6s | %8s %8s %8s | %7s %8s | %-14s %-14s\n",
		"", "", "ckpt", "write", "stop", "image", "ckpt", "restart", "rst", "native", "native", "native",
		"ckpt /", "restart/", "target:", "target:"
	printf "%-6s %-8s %9s %9s %6s %9s %6s %10s %6s | %8s %8s %8s | %7s %8s | %-14s %-14s\n",
		"tool", "heap", "wall", "in-proc", "", "MiB", "GB/s", "to 1st op", "GB/s", "memcpy", "write", "read",
		"write", "read", "checkpoint", "restart"
	for (i = 1; i <= n; i++) print main[i]
	print ""
	print "Spread and breakdown (ms).  N runs after one first run, which is shown on its own (\"1st\").  overhd ="
	print "ckpt wall - in-process write.  check: the restored program verified every word of its heap.  heap scan:"
	print "one read pass over the heap by the program, after restart / before any checkpoint.  Native read split"
	print "into: read into a warm buffer; MADV_POPULATE_WRITE of fresh memory; read() after that populate.  read THP:"
	print "the whole native read again, into MADV_HUGEPAGE memory (zap restores big regions through huge pages)."
	printf "%-6s %-8s %2s %15s %8s %7s  %2s %15s %8s %9s %7s %7s  %7s %8s %8s %8s\n",
		"", "", "", "checkpoint", "", "", "", "restart", "", "", "heap scan", "", "native", "native", "native", "native"
	printf "%-6s %-8s %2s %15s %8s %7s  %2s %15s %8s %9s %7s %7s  %7s %8s %8s %8s\n",
		"tool", "heap", "N", "min..max", "1st", "overhd", "N", "min..max", "1st", "check", "after", "before",
		"rd warm", "populate", "rd after", "read THP"
	for (i = 1; i <= n; i++) print spread[i]
}' "$WORK/rows"
	echo
	[ "$HAVE_DMTCP" = 1 ] || echo "DMTCP: not installed (no dmtcp_launch/dmtcp_command/dmtcp_restart on PATH), so no DMTCP rows."
	[ "$HAVE_CRIU" = 1 ] || echo "CRIU: $CRIU_WHY, so no CRIU rows."
	if ls "$WORK"/res/*.error >/dev/null 2>&1; then
		echo "Failures during the run:"
		for f in "$WORK"/res/*.error; do
			sed "s/^/  $(basename "$f" .error): /" "$f"
		done
		echo "(stderr of everything: $LOG)"
	fi
	echo "Raw samples: $RAW.  Whole run: $(($(date +%s) - START)) s."
}

# ---- the run ----

for s in $SIZES; do
	n=$(reps_for "$s")
	bench_base "$s" "$n"
	bench_zap "$s" "$n"
	[ "$HAVE_DMTCP" = 1 ] && bench_dmtcp "$s" "$n"
	[ "$HAVE_CRIU" = 1 ] && bench_criu "$s" "$n"
done
report
echo
B=$ROOT/build bash "$ROOT/bench/wrappers.sh" || echo "wrapper benchmark failed"
echo
# the pod benchmark bounds each of its steps and cleans up after itself; the
# overall bound leaves it time to do so before the watchdog
timeout 240 sh "$ROOT/bench/pod.sh" || echo "pod benchmark failed"
echo
# migration between two network namespaces (root only; it says so otherwise)
timeout 280 bash "$ROOT/bench/migrate.sh" || echo "migration benchmark failed"
echo
# loopback, three hosts, three hosts on 1 Gbit/s links (the last two root only)
timeout 480 bash "$ROOT/bench/proxy.sh" loopback hosts link || echo "proxy benchmark failed"
