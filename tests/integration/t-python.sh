# python3 accumulating state and printing as it goes.
. "$(dirname "$0")/lib.sh"
PY=$(command -v python3) || skip "python3 not installed"
cat > loop.py <<'PY'
import hashlib, time
state = {}
h = hashlib.sha256()
for i in range(60):
    state[i] = [j * i for j in range(200)]
    h.update(repr(state[i]).encode())
    print(i, len(state), h.hexdigest()[:16], sum(sum(v) for v in state.values()), flush=True)
    time.sleep(0.04)
PY
roundtrip python "[ \$(lines $T/python.1) -ge 20 ]" -- "$PY" loop.py

# python3 with eight threads hashing under a lock
cat > threads.py <<'PY'
import threading, hashlib, time
lock = threading.Lock()
results = {}
def work(n):
    h = hashlib.sha256(str(n).encode())
    for i in range(150):
        for _ in range(2000):
            h.update(h.digest())
        with lock:
            results[n] = h.hexdigest()[:12]
            print(n, i, results[n], flush=True)
        time.sleep(0.01)
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts: t.start()
for t in ts: t.join()
for k in sorted(results): print(k, results[k])
PY
# the interleaving of the threads' lines varies from run to run: compare sorted
"$PY" threads.py | sort > pyth.ref
start_pod pyth "$T/pyth.1" -- "$PY" threads.py
wait_for "[ \$(lines $T/pyth.1) -ge 300 ]" 60 || fail "python threads made no progress"
checkpoint_kill pyth
restart_bg "$ZAP_HOME/pods/pyth/image" "$T/pyth.2"
wait $! || fail "restart failed: $(cat pyth.2.err)"
cat pyth.1 pyth.2 | sort > pyth.joined
same pyth.joined pyth.ref
