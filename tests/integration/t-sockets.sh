# Sockets come back by themselves: listeners (TCP on IPv4 and IPv6, UNIX
# path and abstract) listen again on their addresses with their backlogs, a
# bound UDP socket is bound again, and a TCP connection to outside the pod
# comes back reset: the program gets an error on it, not a hang.
# getsockname/getpeername answer what they answered before.
. "$(dirname "$0")/lib.sh"
command -v python3 > /dev/null || skip "python3 is needed for the clients"

# free_port: a TCP and UDP port nobody uses on 127.0.0.1 now
free_port() {
	python3 -c 'import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass'
}

# client KIND ADDR: the line the server sends a new client (5 s at most)
client() {
	timeout 10 python3 - "$1" "$2" <<'PY'
import socket, sys
kind, addr = sys.argv[1], sys.argv[2]
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
    s.sendto(b"hi", ("127.0.0.1", int(addr))); print(s.recv(4096).decode().strip()); sys.exit(0)
if kind == "tcp":
    s = socket.create_connection(("127.0.0.1", int(addr)), timeout=5)
elif kind == "tcp6":
    s = socket.socket(socket.AF_INET6); s.settimeout(5); s.connect(("::1", int(addr)))
elif kind == "unix":
    s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(addr)
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.settimeout(5); s.connect("\0" + addr)
print(s.recv(4096).decode().strip())
PY
}

TCP=$(free_port) UDP=$(free_port) OUT=$(free_port)
[ "$TCP" != "$UDP" ] && [ "$UDP" != "$OUT" ] && [ "$TCP" != "$OUT" ] || skip "no three free ports"
ABS=zap-test-$$
# the outside peer: accepts one connection and keeps it, quietly
python3 -c 'import socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(1); print("up", flush=True)
c, _ = l.accept(); time.sleep(120)' "$OUT" > outside.out 2>&1 &
wait_for "grep -q up outside.out" 10 || fail "the outside listener did not start"

start_pod socks "$T/socks.1" -- "$PROGS/socks" "$TCP" "$T/s.sock" "$ABS" "$UDP" "$OUT"
wait_for "grep -q ^ready $T/socks.1" 10 || fail "socks did not start: $(cat "$T/socks.1")"
before=$(client tcp "$TCP") || fail "no answer on tcp before the checkpoint"
have6=
grep -q "tcp6=" "$T/socks.1" && have6=1
checkpoint_kill socks
wait_for "! [ -s $ZAP_HOME/pods/socks/pid ]" 20 || fail "zap run did not end"
grep -q "fd [0-9]* (socket:\[[0-9]*\]) comes back reset" "$T/socks.ck.err" ||
	fail "checkpoint did not warn of the outside connection: $(cat "$T/socks.ck.err")"
"$ZAP" inspect "$ZAP_HOME/pods/socks/image" > socks.inspect
for want in "ipv4 tcp listening backlog 7 127.0.0.1:$TCP" "unix stream listening backlog 5 $T/s.sock" \
	"unix seqpacket listening backlog 5 @$ABS" "ipv4 udp bound 127.0.0.1:$UDP" \
	"ipv4 tcp connected 127.0.0.1:[0-9]* -> 127.0.0.1:$OUT"; do
	grep -q " socket .*$want" socks.inspect || fail "inspect does not show '$want': $(grep socket socks.inspect)"
done

restart_bg "$ZAP_HOME/pods/socks/image" "$T/socks.2"
# the outside connection was reset: the program says what it got, at once
wait_for "grep -q ^outside: $T/socks.2" 10 || fail "no error on the outside connection: $(cat "$T/socks.2" "$T/socks.2.err")"
out=$(grep ^outside: "$T/socks.2")
note "after the restart: ${out%%;*}"
case "$out" in
*"read -1 ECONNRESET"*"write -1 EPIPE"*) ;;
*) fail "the outside connection did not fail as a reset: $out" ;;
esac
echo "$out" | grep -q "events.* ERR HUP" || fail "epoll did not report ERR HUP: $out"
kinds="tcp:$TCP unix:$T/s.sock abstract:$ABS udp:$UDP"
[ -n "$have6" ] && kinds="$kinds tcp6:$TCP"
for k in $kinds; do
	got=$(client "${k%%:*}" "${k#*:}") || fail "no answer on ${k%%:*} after the restart"
	# every socket answers getsockname (and the reset connection
	# getpeername) with the address it had (preload/sock.c)
	for name in tcp unix abstract udp outside outside-peer; do
		was=$(echo "$before" | grep -o " $name=[^ ]*")
		echo "$got" | grep -Eq -- "$was( |\$)" || fail "${k%%:*}: $name is not at '$was' now: $got"
	done
done
note "new clients connect to tcp, unix, abstract${have6:+, tcp6} and udp after the restart; the addresses are the old ones"
