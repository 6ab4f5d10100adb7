# TCP connections between members of a pod: a parent listening on
# 127.0.0.1 and two workers it forked that connect to it, each connection
# carrying a 40 MiB stream both ways, every byte checked by its reader.  The
# readers stop for a second after every 8 MiB, so at each checkpoint bytes
# wait in the receive queues and MiBs more in the senders' queues (the
# parent's ends have a small SO_RCVBUF, as a slow consumer would).
# Checkpointed with --kill and restarted twice, then checkpointed once
# without --kill, the streams must end as in an uninterrupted run, and
# getsockname/getpeername must answer as before.  Then a real program:
# Python's multiprocessing manager (a server process and clients over TCP on
# 127.0.0.1) checkpointed with --kill mid-conversation and restarted.
. "$(dirname "$0")/lib.sh"
command -v ss > /dev/null || skip "ss not installed"

final() { grep -E " got | names |^parent " "$1" | sort; }

# the reference, without zap
timeout 60 "$PROGS/podtcp" 2 40 > ref.out || fail "podtcp itself failed: $(tail -3 ref.out)"
final ref.out > ref.final

# queued: the most bytes in a receive queue, and in a send queue, of the
# pod's connections (after a restart they have new ports)
queued() {
	ss -tnpH state established | grep '"podtcp"' |
		awk '{ if ($1 > r) r = $1; if ($2 > s) s = $2 } END { print r + 0, s + 0 }'
}

# at N OUT: waits for the parent's N-th pause in OUT, then lets the queues fill
at() {
	wait_for "grep -q 'pause p0 $1' $2" 30 || fail "never reached pause $1: $(tail -3 "$2")"
	sleep 0.4
}

start_pod pt "$T/pt.1" -- "$PROGS/podtcp" 2 40
wait_for "grep -q '^p1 ' $T/pt.1" 10 || fail "the workers did not connect: $(cat pt.1)"
at 1 pt.1
read -r rq sq <<< "$(queued)"
note "first checkpoint: at most $rq bytes waiting to be read, $sq bytes in a send queue"
[ "$sq" -ge $((2 << 20)) ] || fail "only $sq bytes in the send queues at the checkpoint (want MiBs)"
checkpoint_kill pt
wait_for "! [ -s $ZAP_HOME/pods/pt/pid ]" 20 || fail "zap run did not end"
"$ZAP" inspect "$ZAP_HOME/pods/pt/image" > inspect.out 2>&1
grep -q "ipv4 tcp connected.*shared in the pod" inspect.out ||
	fail "zap inspect shows no TCP connection shared in the pod: $(grep tcp inspect.out | head -3)"
grep -q "comes back reset" pt.ck.err && fail "the checkpoint warns of a reset: $(cat pt.ck.err)"

restart_bg "$ZAP_HOME/pods/pt/image" "$T/pt.2"
rpid=$!
at 2 pt.2
read -r rq sq <<< "$(queued)"
note "second checkpoint: at most $rq bytes waiting to be read, $sq bytes in a send queue"
checkpoint_kill pt
wait $rpid
rc=$?
[ $rc = 3 ] || fail "restart 1 exited $rc: $(cat pt.2.err)"
restart_bg "$ZAP_HOME/pods/pt/image" "$T/pt.3"
rpid=$!
at 3 pt.3
read -r rq sq <<< "$(queued)"
note "third checkpoint (the pod runs on): at most $rq bytes waiting to be read, $sq bytes in a send queue"
timeout 60 "$ZAP" checkpoint pt > pt.ck3.out 2> pt.ck3.err || fail "checkpoint without --kill failed: $(cat pt.ck3.err)"
wait $rpid || fail "restart 2 exited $?: $(cat pt.3.err)"
cat pt.1 pt.2 pt.3 > pt.joined
final pt.joined > pt.final
same pt.final ref.final
note "streams whole after 2 restarts and a checkpoint the pod ran on: $(grep -c pause pt.joined) pauses"

# a real program: multiprocessing.managers over TCP on 127.0.0.1
python3 -c "import multiprocessing.managers" 2> /dev/null || skip "python3 multiprocessing not available"
cat > mgr.py <<'PY'
import multiprocessing as mp, multiprocessing.managers as mm, hashlib, sys, time

def worker(addr, n, k):
    m = mm.BaseManager(address=addr, authkey=b"zap")
    m.register("q")
    m.connect()
    q = m.q()
    for i in range(n):
        q.put((k, i, hashlib.sha256(b"%d:%d" % (k, i)).hexdigest()))
        time.sleep(0.002)

if __name__ == "__main__":
    import queue
    mp.set_start_method("fork")
    store = queue.Queue()
    class M(mm.BaseManager): pass
    M.register("q", callable=lambda: store)
    m = M(address=("127.0.0.1", 0), authkey=b"zap")
    m.start()
    n = int(sys.argv[1])
    ps = [mp.Process(target=worker, args=(m.address, n, k)) for k in range(2)]
    for p in ps: p.start()
    print("started", flush=True)
    h = hashlib.sha256()
    q = m.q()
    got = 0
    while got < 2 * n:
        k, i, d = q.get(timeout=30)
        h.update(d.encode())
        got += 1
        if got % 100 == 0:
            print("got", got, flush=True)
    for p in ps: p.join()
    print("done", got, flush=True)
    m.shutdown()
PY
start_pod mgr "$T/mgr.1" -- python3 mgr.py 600
wait_for "grep -q 'got 300' $T/mgr.1" 20 || fail "the manager's clients did not get going: $(cat mgr.1 mgr.run.err)"
checkpoint_kill mgr
wait_for "! [ -s $ZAP_HOME/pods/mgr/pid ]" 20 || fail "mgr: zap run did not end"
grep -q "comes back reset" mgr.ck.err && fail "mgr: the checkpoint warns of a reset: $(cat mgr.ck.err)"
restart_bg "$ZAP_HOME/pods/mgr/image" "$T/mgr.2"
wait $! || fail "mgr: restart exited $?: $(cat mgr.2.err)"
grep -q "^done 1200" mgr.2 || fail "mgr: did not finish after the restart: $(tail -3 mgr.2)"
note "multiprocessing manager: $(tail -1 mgr.1) before, $(grep -c got mgr.2) progress lines after the restart"
