#!/usr/bin/python3
"""100 slow clients, each sending its request head one byte a second, must
not delay a normal client: its request is answered while every slow client
is still connected and still sending. Then the server's header timeout
must close the slow ones (a slow client cannot hold a slot for ever).

Usage: slow_clients.py HOST PORT
No assertion on how fast anything is: only on the order of events."""
import socket
import sys
import threading
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
N = 100
HEAD = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n"

slow = []
for i in range(N):
    s = socket.create_connection((HOST, PORT), timeout=30)
    s.setblocking(False)
    slow.append(s)
open_ = [True] * N
sent = 0


def drip():
    """One byte to every slow client; False for those the server closed."""
    global sent
    for i, s in enumerate(slow):
        if not open_[i]:
            continue
        try:
            s.send(HEAD[sent:sent + 1])
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            open_[i] = False
            continue
        try:
            if s.recv(4096) == b"":
                open_[i] = False
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            open_[i] = False
    sent += 1


result = {}


def normal_request():
    c = socket.create_connection((HOST, PORT), timeout=60)
    c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    buf = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        buf += chunk
    c.close()
    result["status"] = buf[9:12]
    result["slow_open"] = sum(open_)
    result["slow_sent"] = sent


for _ in range(2):
    drip()
    time.sleep(1)
t = threading.Thread(target=normal_request)
t.start()
while t.is_alive() and sent < 60:
    drip()
    time.sleep(1)
t.join()
print("normal request: status %s, answered while %d of %d slow clients were connected, %d bytes into their heads"
      % (result.get("status"), result.get("slow_open"), N, result.get("slow_sent")))
ok = result.get("status") == b"200" and result.get("slow_open") == N
# The header timeout: the slow ones go, well before their heads could end.
while sum(open_) and sent < len(HEAD) - 1:
    drip()
    time.sleep(1)
print("the server closed every slow client after %d bytes of a %d-byte head" % (sent, len(HEAD))
      if not sum(open_) else "%d slow clients still connected after %d bytes" % (sum(open_), sent))
ok = ok and not sum(open_)
for s in slow:
    s.close()
sys.exit(0 if ok else 1)
