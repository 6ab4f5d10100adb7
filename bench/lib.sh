# Helpers the benchmark scripts share (sourced; POSIX sh).

wait_file() { # file seconds [pid]: 1 if it is not there in time, or pid is gone
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -gt $(($2 * 20)) ] && return 1
		[ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null && return 1
		sleep 0.05
	done
	return 0
}

wait_gone() { # pid seconds: then SIGKILL
	i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt $(($2 * 20)) ]; then
			kill -9 "$1" 2>/dev/null
			break
		fi
		sleep 0.05
	done
}

# Every process started with our ZAP_HOME, killed; then WORK removed.  A
# benchmark sets ZAP_HOME and WORK and calls bench_cleanup_on_exit.
kill_ours() {
	for p in $(grep -ls "ZAP_HOME=$ZAP_HOME" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null
	done
}
bench_cleanup() {
	trap - EXIT INT TERM HUP
	kill_ours
	wait 2>/dev/null
	rm -rf "$WORK"
}
bench_cleanup_on_exit() {
	trap bench_cleanup EXIT
}
