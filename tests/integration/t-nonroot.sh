# Without root (no CAP_SYS_RESOURCE for PR_SET_MM_MAP): a multi-threaded
# program and a python3 that keeps allocating still checkpoint and restart.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to become another user"
id nobody > /dev/null 2>&1 || skip "no user 'nobody'"
command -v setpriv > /dev/null || skip "no setpriv"
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
asnobody test -x "$ZAP" || skip "nobody cannot reach $ZAP"
chmod 777 "$T" "$ZAP_HOME"
cat > grow.py <<'PY'
import time
state = []
for i in range(40):
    state.append(bytearray(i * 50000))
    print(i, sum(len(s) for s in state), flush=True)
    time.sleep(0.04)
PY
chmod 644 grow.py
PY3=/usr/bin/python3
[ -x "$PY3" ] || skip "no /usr/bin/python3"
"$PY3" grow.py > grow.ref
# the program's stderr is a file it must be able to open again by path
touch nr.run.err && chmod 666 nr.run.err
( asnobody "$ZAP" run --pod nr -- "$PY3" grow.py | cat > grow.1 ) 2>> nr.run.err &
wait_for "[ \$(lines $T/grow.1) -ge 12 ]" 30 || fail "no progress: $(cat nr.run.err)"
asnobody "$ZAP" checkpoint --kill nr > /dev/null 2> nr.ck.err || fail "checkpoint as nobody: $(cat nr.ck.err)"
wait
# restarted without privileges, checkpointed again, restarted again
touch grow.2.err && chmod 666 grow.2.err
( asnobody "$ZAP" restart "$ZAP_HOME/pods/nr/image" | cat > grow.2 ) 2>> grow.2.err &
wait_for "[ \$(lines $T/grow.2) -ge 8 ]" 30 || fail "restart as nobody: $(cat grow.2.err)"
asnobody "$ZAP" checkpoint --kill nr > /dev/null 2> nr.ck2.err || fail "second checkpoint as nobody: $(cat nr.ck2.err)"
wait
asnobody "$ZAP" restart "$ZAP_HOME/pods/nr/image" > grow.3 2> grow.3.err || fail "second restart as nobody: $(cat grow.3.err)"
cat grow.1 grow.2 grow.3 > grow.joined
same grow.joined grow.ref
