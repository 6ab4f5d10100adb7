#!/usr/bin/env python3
"""zap-proxy's authentication seen from the wire (include/zap/tunnel.h), for
t-proxy.sh: an implementation of its own (Python's hmac, not ckpt/sha256.c),
a man in the middle that replays what it saw, and peers that do not know the
key or do not answer.  Every socket operation is bounded (10 s).

  tunauth.py relay PORT PROXY_ADDR:PORT
      relays one control exchange from 127.0.0.1:PORT to the proxy, keeping
      the asker's message, then sends that message again on a connection of
      its own; prints "replayed <type>: status N mac ok|bad"
  tunauth.py fakeproxy PORT
      a proxy that does not hold the key: challenges, reads the message and
      says yes with a MAC of its own making; prints "fake answered <type>"
  tunauth.py open KEYFILE POD_ADDR:PORT
      talks to a pod's exposed port as the proxy would, and as others would:
        good      HELLO, CHALLENGE, a right OPEN (client 10.9.8.7:4321), an echo
        replay    the same HELLO and OPEN again on a new connection
        wrongkey  an OPEN MAC'd with another key
        silent    HELLO, then no answer to the challenge
        plain     a connection that does not speak the protocol (an echo)
      prints one line per case: "<case> echoed|closed after S s"
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

MAGIC, VERSION, SIZE = 0x4E55545A, 2, 232
OPEN, RESUME, REGISTER, FREEZE, THAW, CONNECT, REPLY, CHALLENGE, HELLO = range(1, 10)
NAMES = {OPEN: "OPEN", REGISTER: "REGISTER", FREEZE: "FREEZE", THAW: "THAW", RESUME: "RESUME",
         CONNECT: "CONNECT", REPLY: "REPLY", CHALLENGE: "CHALLENGE", HELLO: "HELLO"}
LABELS = {OPEN: b"zap-tun-2 open, proxy to pod", REPLY: b"zap-tun-2 reply, from proxy",
          REGISTER: b"zap-tun-2 register, to proxy", FREEZE: b"zap-tun-2 freeze, to proxy",
          THAW: b"zap-tun-2 thaw, to proxy", RESUME: b"zap-tun-2 resume, pod to proxy",
          CONNECT: b"zap-tun-2 connect, pod to proxy"}
FMT = "<IHH32s32sQQQiH16HHI28s64s"
assert struct.calcsize(FMT) == SIZE
NONCE_AT, MAC_AT, STATUS_AT = 8, 40, 96


def tun_key(path):
    with open(path, "rb") as f:
        return hmac.new(f.read(4096), b"zap-tun-2 key", hashlib.sha256).digest()


def msg(type_, nonce=bytes(32), id_=0, addr=b"", name=b""):
    return struct.pack(FMT, MAGIC, VERSION, type_, nonce, bytes(32), id_, 0, 0, 0, 0,
                       *([0] * 16), 0, len(addr), addr, name)


def mac(key, ns, nc, m):
    zeroed = m[:MAC_AT] + bytes(32) + m[MAC_AT + 32:]
    type_ = struct.unpack_from("<H", m, 6)[0]
    return hmac.new(key, LABELS[type_] + ns + nc + zeroed, hashlib.sha256).digest()


def sealed(key, ns, nc, m):
    return m[:MAC_AT] + mac(key, ns, nc, m) + m[MAC_AT + 32:]


def recvn(s, n):
    b = b""
    while len(b) < n:
        got = s.recv(n - len(b))
        if not got:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += got
    return b


def kind(m):
    return NAMES.get(struct.unpack_from("<H", m, 6)[0], "?")


def listener(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    ls.settimeout(20)
    print("listening", flush=True)
    return ls


def addr_of(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def relay(port, proxy):
    c, _ = listener(port).accept()
    c.settimeout(10)
    p = socket.create_connection(addr_of(proxy), timeout=10)
    ch = recvn(p, SIZE)
    c.sendall(ch)
    asked = recvn(c, SIZE)
    p.sendall(asked)
    c.sendall(recvn(p, SIZE))
    c.close()
    p.close()
    # from here, as anybody who saw it go by: had the proxy taken it, the
    # pod's clients would now be sent to wherever this connection is from
    p = socket.create_connection(addr_of(proxy), timeout=10)
    ch2 = recvn(p, SIZE)
    p.sendall(asked)
    r = recvn(p, SIZE)
    status = struct.unpack_from("<i", r, STATUS_AT)[0]
    # the refusal is MAC'd by the proxy over its new challenge and the old nonce
    print("replayed %s: status %d, challenge %s" % (kind(asked), status,
          "new" if ch2[NONCE_AT:NONCE_AT + 32] != ch[NONCE_AT:NONCE_AT + 32] else "THE SAME"))


def fakeproxy(port):
    c, _ = listener(port).accept()
    c.settimeout(10)
    c.sendall(msg(CHALLENGE, os.urandom(32)))
    m = recvn(c, SIZE)
    r = bytearray(msg(REPLY, os.urandom(32)))
    r[MAC_AT:MAC_AT + 32] = os.urandom(32)
    c.sendall(bytes(r))
    print("fake answered %s" % kind(m))
    try:
        c.recv(1)
    except OSError:
        pass


def sockaddr_in(ip, port):
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) + socket.inet_aton(ip) + bytes(8)


def echo_or_closed(s, t0, name):
    """Sends a ping and says whether it came back or the pod closed."""
    try:
        s.sendall(b"ping")
        got = s.recv(4)
        if got == b"ping":
            s.shutdown(socket.SHUT_WR)
            while s.recv(4096):
                pass
            print("%s echoed" % name, flush=True)
            return
    except OSError:
        pass
    print("%s closed after %.1f s" % (name, time.monotonic() - t0), flush=True)


def pod_open(keyfile, pod):
    key = tun_key(keyfile)
    client = sockaddr_in("10.9.8.7", 4321)

    def handshake(key, hello=None, opn=None):
        s = socket.create_connection(addr_of(pod), timeout=10)
        t0 = time.monotonic()
        nc = os.urandom(32)
        hello = hello or msg(HELLO, nc)
        s.sendall(hello)
        ch = recvn(s, SIZE)
        assert kind(ch) == "CHALLENGE", kind(ch)
        ns = ch[NONCE_AT:NONCE_AT + 32]
        if opn is None:
            opn = sealed(key, ns, hello[NONCE_AT:NONCE_AT + 32],
                         msg(OPEN, hello[NONCE_AT:NONCE_AT + 32], 77, client, b"auth"))
        s.sendall(opn)
        return s, t0, hello, opn

    s, t0, hello, opn = handshake(key)
    echo_or_closed(s, t0, "good")
    s, t0, _, _ = handshake(key, hello, opn)
    echo_or_closed(s, t0, "replay")
    s, t0, _, _ = handshake(hashlib.sha256(b"another key").digest())
    echo_or_closed(s, t0, "wrongkey")
    s = socket.create_connection(addr_of(pod), timeout=10)
    t0 = time.monotonic()
    s.sendall(msg(HELLO, os.urandom(32)))
    recvn(s, SIZE)
    try:
        got = s.recv(1)  # and say nothing more
    except OSError:
        got = b""
    print("silent %s after %.1f s" % ("closed" if not got else "GOT BYTES", time.monotonic() - t0))
    s = socket.create_connection(addr_of(pod), timeout=10)
    echo_or_closed(s, time.monotonic(), "plain")


def main():
    a = sys.argv[1:]
    if a[:1] == ["relay"] and len(a) == 3:
        relay(int(a[1]), a[2])
    elif a[:1] == ["fakeproxy"] and len(a) == 2:
        fakeproxy(int(a[1]))
    elif a[:1] == ["open"] and len(a) == 3:
        pod_open(a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
