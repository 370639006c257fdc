#!/usr/bin/python3
"""Sends apps/www a corpus of malformed and hostile requests, one per
connection, each with the status it must draw (or none: the server just
closes), and between them a normal request that must still be served.

Usage: malformed.py HOST PORT
Exit status 0 if every answer was as expected."""
import socket
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])
H = b"Host: t\r\n"


def req(line, headers=b"", body=b""):
    return line + b"\r\n" + headers + b"\r\n" + body


CORPUS = [
    # Request line.
    ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two Host headers", req(b"GET / HTTP/1.1", H + H), 400),
    ("HTTP/2.0 version", req(b"GET / HTTP/2.0", H), 505),
    ("HTTP/3.1 version", req(b"GET / HTTP/3.1", H), 505),
    ("version without digits", req(b"GET / HTTP/x.y", H), 400),
    ("lower-case protocol", req(b"GET / http/1.1", H), 400),
    ("no version (HTTP/0.9)", b"GET /\r\n\r\n", 400),
    ("two spaces after method", req(b"GET  / HTTP/1.1", H), 400),
    ("space after version", req(b"GET / HTTP/1.1 ", H), 400),
    ("tab as separator", req(b"GET\t/ HTTP/1.1", H), 400),
    ("method with a parenthesis", req(b"G(T / HTTP/1.1", H), 400),
    ("method with a slash", req(b"GE/T / HTTP/1.1", H), 400),
    ("unknown method", req(b"BREW / HTTP/1.1", H), 405),
    ("lower-case method is another method", req(b"get / HTTP/1.1", H), 405),
    ("target with a space", req(b"GET /a b HTTP/1.1", H), 400),
    ("target with a control byte", req(b"GET /\x01 HTTP/1.1", H), 400),
    ("target with DEL", req(b"GET /\x7f HTTP/1.1", H), 400),
    ("percent-encoded NUL", req(b"GET /%00 HTTP/1.1", H), 400),
    ("malformed escape", req(b"GET /%zz HTTP/1.1", H), 400),
    ("truncated escape", req(b"GET /%4 HTTP/1.1", H), 400),
    ("target longer than 4 KiB", req(b"GET /" + b"a" * 5000 + b" HTTP/1.1", H), 414),
    ("NUL in the request line", req(b"GET /\x00 HTTP/1.1", H), 400),
    ("bare CR in the request line", req(b"GET /\r HTTP/1.1", H), 400),
    # Header fields.
    ("space before the colon", req(b"GET / HTTP/1.1", H + b"X-A : b\r\n"), 400),
    ("space in a field name", req(b"GET / HTTP/1.1", H + b"X A: b\r\n"), 400),
    ("empty field name", req(b"GET / HTTP/1.1", H + b": b\r\n"), 400),
    ("field without a colon", req(b"GET / HTTP/1.1", H + b"X-A b\r\n"), 400),
    ("field name with a parenthesis", req(b"GET / HTTP/1.1", H + b"X(A): b\r\n"), 400),
    ("obs-fold", req(b"GET / HTTP/1.1", H + b"X-A: a\r\n b\r\n"), 400),
    ("obs-fold with a tab", req(b"GET / HTTP/1.1", H + b"X-A: a\r\n\tb\r\n"), 400),
    ("bare CR in a value", req(b"GET / HTTP/1.1", H + b"X-A: a\rb\r\n"), 400),
    ("NUL in a value", req(b"GET / HTTP/1.1", H + b"X-A: a\x00b\r\n"), 400),
    ("DEL in a value", req(b"GET / HTTP/1.1", H + b"X-A: a\x7fb\r\n"), 400),
    ("control byte in a value", req(b"GET / HTTP/1.1", H + b"X-A: a\x01b\r\n"), 400),
    ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("header section over 8 KiB", req(b"GET / HTTP/1.1", H + b"X-A: " + b"a" * 9000 + b"\r\n"), 431),
    ("101 headers", req(b"GET / HTTP/1.1", H + b"".join(b"X-%d: v\r\n" % i for i in range(101))), 431),
    # Framing and smuggling.
    ("Content-Length and Transfer-Encoding",
     req(b"POST / HTTP/1.1", H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 400),
    ("two different Content-Lengths",
     req(b"POST / HTTP/1.1", H + b"Content-Length: 5\r\nContent-Length: 6\r\n", b"abcdef"), 400),
    ("negative Content-Length", req(b"POST / HTTP/1.1", H + b"Content-Length: -1\r\n"), 400),
    ("Content-Length with a letter", req(b"POST / HTTP/1.1", H + b"Content-Length: 1x\r\n"), 400),
    ("Content-Length with a plus", req(b"POST / HTTP/1.1", H + b"Content-Length: +1\r\n", b"a"), 400),
    ("Content-Length of 30 digits", req(b"POST / HTTP/1.1", H + b"Content-Length: " + b"9" * 30 + b"\r\n"), 400),
    ("body over 1 MiB", req(b"POST / HTTP/1.1", H + b"Content-Length: 2000000\r\n"), 413),
    # Not ending in chunked, the body's length is unknown: 400 (RFC 9112
    # §6.3); ending in it after a coding we do not know: 501 (§6.1).
    ("Transfer-Encoding: xchunked", req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: xchunked\r\n"), 400),
    ("Transfer-Encoding: gzip, chunked", req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: gzip, chunked\r\n"), 501),
    ("Transfer-Encoding in HTTP/1.0",
     req(b"POST / HTTP/1.0", b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 400),
    ("Transfer-Encoding: chunked, gzip (not last)",
     req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: chunked, gzip\r\n"), 400),
    ("space before the Transfer-Encoding colon",
     req(b"POST / HTTP/1.1", H + b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"), 400),
    ("vertical tab in Transfer-Encoding",
     req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: \x0bchunked\r\n", b"0\r\n\r\n"), 400),
    ("chunk size not hex", req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: chunked\r\n", b"zz\r\n"), 400),
    ("chunk size overflow",
     req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: chunked\r\n", b"f" * 20 + b"\r\n"), 400),
    ("chunk without its CRLF",
     req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: chunked\r\n", b"3\r\nabcX\r\n0\r\n\r\n"), 400),
    ("negative chunk size", req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: chunked\r\n", b"-1\r\n"), 400),
    ("chunked body over 1 MiB",
     req(b"POST / HTTP/1.1", H + b"Transfer-Encoding: chunked\r\n", b"200000\r\n"), 413),
]

# Not answers: binary junk and TLS spoken to a plain-text port draw 400.
CORPUS += [
    ("TLS ClientHello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, 400),
    ("random binary", bytes(range(256)) * 4, 400),
]


def exchange(data, timeout=10.0):
    """Sends data, reads until the server closes or the head of one answer
    is in; returns the status (None if the server closed without one)."""
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        return None
    finally:
        s.close()
    if not buf.startswith(b"HTTP/1.1 "):
        return None
    return int(buf[9:12])


def normal():
    return exchange(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")


failed = 0
for name, data, want in CORPUS:
    got = exchange(data)
    ok = got == want
    print("%-45s want %s got %s%s" % (name, want, got, "" if ok else "  <-- WRONG"))
    if not ok:
        failed += 1
    if normal() != 200:
        print("after %r: a normal request was not served" % name)
        failed += 1
print("%d requests in the corpus, %d wrong" % (len(CORPUS), failed))
sys.exit(1 if failed else 0)
