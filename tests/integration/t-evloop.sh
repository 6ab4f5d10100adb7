# An event loop on epoll with a timerfd, an eventfd and a signalfd: all four
# come back, with their registrations, counters, timers and masks.
. "$(dirname "$0")/lib.sh"
roundtrip ev "[ \$(lines $T/ev.1) -ge 10 ]" -- "$PROGS/evloop" 40
"$ZAP" inspect "$ZAP_HOME/pods/ev/image" > ev.inspect
for k in epoll eventfd timerfd signalfd; do
	grep -q " $k " ev.inspect || fail "inspect shows no $k fd"
done
