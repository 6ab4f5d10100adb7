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
