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
