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
SORTED=1 roundtrip pyth "[ \$(lines $T/pyth.1) -ge 300 ]" -- "$PY" threads.py

# python3 asyncio: an epoll event loop with timers (its self-pipe is a
# socketpair, which comes back as /dev/null; timers do not need it).  Tasks
# due at the same moment may swap places after the pause: compare sorted.
cat > aio.py <<'PY'
import asyncio
async def worker(n, out):
    for i in range(25):
        await asyncio.sleep(0.03 * (n + 1))
        out.append((n, i))
        print(n, i, flush=True)
async def main():
    out = []
    await asyncio.gather(*(worker(n, out) for n in range(3)))
    print("done", len(out))
asyncio.run(main())
PY
SORTED=1 roundtrip aio "[ \$(lines $T/aio.1) -ge 20 ]" -- "$PY" aio.py
