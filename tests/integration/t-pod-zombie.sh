# Zombies stay zombies: a parent that has one child already ended (not yet
# reaped) and one still running, checkpointed with --kill and restarted,
# reaps both with the right statuses.  Once with python3 (its own waitpid
# path), once with a lone live process whose only other process is the
# zombie (the pod's own checkpoint is needed even then).
. "$(dirname "$0")/lib.sh"
PY=$(command -v python3) || skip "python3 not installed"
cat > zombie.py <<'PY'
import os, sys, time
a = os.fork()
if a == 0:
    os._exit(7)
b = os.fork()
if b == 0:
    time.sleep(float(sys.argv[1]))
    os._exit(9)
print("forked", flush=True)
time.sleep(2.5)
pa, sa = os.waitpid(a, 0)
pb, sb = os.waitpid(b, 0)
print("a", pa == a, os.WEXITSTATUS(sa), "b", pb == b, os.WEXITSTATUS(sb), flush=True)
PY
roundtrip zomb2 "[ \$(lines $T/zomb2.1) -ge 1 ]" -- "$PY" zombie.py 3
grep -q "a True 7 b True 9" zomb2.2 || fail "zomb2: $(cat zomb2.2)"
# b ends at once too: at checkpoint time the parent is alone with two zombies
roundtrip zomb0 "[ \$(lines $T/zomb0.1) -ge 1 ] && sleep 0.5" -- "$PY" zombie.py 0
grep -q "a True 7 b True 9" zomb0.2 || fail "zomb0: $(cat zomb0.2)"
"$ZAP" inspect "$ZAP_HOME/pods/zomb0/image" | grep -q "exited with status 7, not yet reaped" ||
	fail "zap inspect does not show the zombie: $("$ZAP" inspect "$ZAP_HOME/pods/zomb0/image" | grep ^process)"
