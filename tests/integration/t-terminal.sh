# A program that put its terminal in raw mode finds it so after a restart
# on a new terminal; and /proc/PID/exe names the program, not the restorer.
. "$(dirname "$0")/lib.sh"
command -v script > /dev/null || skip "no script(1) to make terminals"
( script -qfec "$ZAP run --pod tty -- $PROGS/ttymode 30" /dev/null > tty.1 ) 2> tty.run.err &
wait_for "[ \$(grep -c step $T/tty.1) -ge 8 ]" 30 || fail "no progress: $(cat tty.1)"
checkpoint_kill tty
wait
( script -qfec "$ZAP restart $ZAP_HOME/pods/tty/image" /dev/null > tty.2 ) 2> tty.2.err &
wait_for "[ -s $ZAP_HOME/pods/tty/pid ]" 30 || fail "restart did not start"
pid=$(cat "$ZAP_HOME/pods/tty/pid")
exe=$(readlink "/proc/$pid/exe")
wait
grep -q "step 29" tty.2 || fail "the restarted program did not finish: $(tail -3 tty.2)"
! grep "step" tty.1 tty.2 | grep -v "echo=0 icanon=0" || fail "the terminal lost its raw mode"
if grep -q cap_checkpoint_restore <(capsh --print 2>/dev/null) || [ "$(id -u)" = 0 ]; then
	case $exe in
	"$PROGS/ttymode"*) ;;
	*) fail "/proc/PID/exe is $exe" ;;
	esac
fi
