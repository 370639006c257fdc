#!/usr/bin/python3
"""Sends malformed and truncated frames at our stack from the Linux side.

Run inside the test's network namespace (by malformed.sh). Every batch goes
out with scapy's sendp on the Linux interface, addressed to our MAC, and is
followed by a ping that must still be answered. Headers are built by hand
(struct, our own checksums) so that each lie is exactly the one intended.

At the end it prints, one per line, `expect COUNTER N`: the least value each
of our stack's counters must show once the batches are in (the process
starts from zero; other traffic can only add). Exit status 1 if a ping went
unanswered or our stack answered a datagram it should have dropped.
"""
import argparse
import random
import struct
import subprocess
import sys
import time

from scapy.all import ICMP, IP, UDP, AsyncSniffer, Raw, conf, get_if_hwaddr, sendp

conf.verb = 0

ETH_IP4, ETH_ARP = 0x0800, 0x0806
PROTO_ICMP, PROTO_UDP = 1, 17


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_bytes(ip):
    return bytes(int(x) for x in ip.split("."))


class Sender:
    def __init__(self, args):
        self.iface = args.iface
        self.dst_mac = mac_bytes(args.dst_mac)
        self.src_mac = mac_bytes(get_if_hwaddr(args.iface))
        self.dst_ip, self.src_ip = args.dst_ip, args.src_ip
        self.expect = {}
        self.failures = []
        self.ip_id = 0x4000

    def add(self, counter, n=1):
        self.expect[counter] = self.expect.get(counter, 0) + n

    def eth(self, etype, payload, dst=None):
        return (dst or self.dst_mac) + self.src_mac + struct.pack("!H", etype) + payload

    def ip4(self, payload, proto, total=None, ihl=5, ver=4, frag=0, ident=None, bad_csum=False, dst=None):
        """An IPv4 header (options zero-filled to ihl words) + payload."""
        if ident is None:
            self.ip_id += 1
            ident = self.ip_id
        hlen = max(ihl, 5) * 4
        if total is None:
            total = hlen + len(payload)
        hdr = struct.pack(
            "!BBHHHBBH4s4s",
            ver << 4 | ihl,
            0,
            total,
            ident,
            frag,
            64,
            proto,
            0,
            ip_bytes(self.src_ip),
            ip_bytes(dst or self.dst_ip),
        )
        hdr += b"\0" * (hlen - 20)
        c = csum(hdr[: max(ihl, 5) * 4])
        if bad_csum:
            c ^= 0x5A5A
        hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
        return hdr + payload

    def icmp_echo(self, ident, seq, data, bad_csum=False):
        msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
        c = csum(msg) ^ (0x1111 if bad_csum else 0)
        return msg[:2] + struct.pack("!H", c) + msg[4:]

    def udp(self, dport, data, length=None, csum_mode="good"):
        length = 8 + len(data) if length is None else length
        seg = struct.pack("!HHHH", 40000, dport, length, 0) + data
        if csum_mode == "zero":
            return seg
        pseudo = ip_bytes(self.src_ip) + ip_bytes(self.dst_ip) + struct.pack("!BBH", 0, PROTO_UDP, len(seg))
        c = csum(pseudo + seg) or 0xFFFF
        if csum_mode == "bad":
            c ^= 0x0F0F
        return seg[:6] + struct.pack("!H", c) + seg[8:]

    def arp(self, op=1, htype=1, ptype=ETH_IP4, hlen=6, plen=4, sha=None, spa="10.77.0.99", tpa=None):
        sha = sha or self.src_mac
        tpa = tpa or self.dst_ip
        body = struct.pack("!HHBBH", htype, ptype, hlen, plen, op)
        body += sha[:hlen].ljust(hlen, b"\0") + ip_bytes(spa)[:plen].ljust(plen, b"\0")
        body += b"\0" * hlen + ip_bytes(tpa)[:plen].ljust(plen, b"\0")
        return body

    def send(self, frames):
        sendp([Raw(f) for f in frames], iface=self.iface)
        self.add("eth_in", len(frames))

    def ping_ok(self, what):
        out = subprocess.run(
            ["ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", "-w", "10", self.dst_ip],
            capture_output=True,
            text=True,
        ).stdout
        if " 3 received" not in out:
            self.failures.append("after %s: ping not answered:\n%s" % (what, out))
            print("FAIL: after %s, ping went unanswered" % what, flush=True)
        else:
            print("after %s: ping answered" % what, flush=True)

    def sniff_replies(self, frames, proto):
        """Sends frames and returns the payloads our stack sent back."""
        sn = AsyncSniffer(
            iface=self.iface,
            store=True,
            lfilter=lambda p: IP in p and p[IP].src == self.dst_ip and proto in p,
        )
        sn.start()
        time.sleep(0.3)  # the sniffer's socket is open
        self.send(frames)
        time.sleep(0.7)
        pkts = sn.stop() or []
        return pkts


def batch_ethernet(s):
    # Linux refuses or pads anything shorter than an Ethernet header (and
    # our tap drops such frames before the stack), so the shortest frame
    # that can reach us is the bare header: with an IPv4 or ARP type it is
    # a truncated packet of that type.
    s.send([s.eth(ETH_IP4, b""), s.eth(ETH_ARP, b"")])
    s.add("ip_bad")
    s.add("arp_bad")
    # Runts below 14 bytes, as the kernel lets them through (if at all).
    sendp([Raw(s.dst_mac[:n]) for n in (1, 6)] + [Raw(s.dst_mac + s.src_mac[:1])], iface=s.iface)
    # Not for us: another host's unicast, a multicast group.
    s.send([s.eth(ETH_IP4, b"\0" * 46, dst=b"\x02\0\0\0\0\x99"), s.eth(ETH_IP4, b"\0" * 46, dst=b"\x01\0\x5e\0\0\x01")])
    s.add("eth_not_for_us", 2)
    # Unknown EtherTypes (IPv6, 802.1Q, a made-up one).
    s.send([s.eth(t, b"\0" * 46) for t in (0x86DD, 0x8100, 0x1234)])
    s.add("eth_unknown_type", 3)


def batch_ip4(s):
    icmp = s.icmp_echo(0xBAD0, 1, b"x" * 16)
    good = s.ip4(icmp, PROTO_ICMP)
    frames = [
        s.eth(ETH_IP4, good[:19]),  # truncated inside the fixed header
        s.eth(ETH_IP4, s.ip4(icmp, PROTO_ICMP, ihl=15)[:40]),  # options cut off
        s.eth(ETH_IP4, s.ip4(icmp, PROTO_ICMP, bad_csum=True)),
        s.eth(ETH_IP4, s.ip4(icmp, PROTO_ICMP, total=1000)),  # longer than the frame
        s.eth(ETH_IP4, s.ip4(icmp, PROTO_ICMP, total=12)),  # shorter than its header
        s.eth(ETH_IP4, s.ip4(icmp, PROTO_ICMP, ver=6)),
        s.eth(ETH_IP4, s.ip4(icmp, PROTO_ICMP, frag=0x8000)),  # the reserved flag
        s.eth(ETH_IP4, s.ip4(b"z" * 100, PROTO_ICMP, frag=8189)),  # reaches past 64 KiB
    ]
    frames += [s.eth(ETH_IP4, s.ip4(icmp, PROTO_ICMP, ihl=i)) for i in range(5)]  # IHL < 5
    s.send(frames)
    s.add("ip_bad", len(frames))
    s.add("ip_in", len(frames))


def batch_icmp(s):
    bad = [
        s.eth(ETH_IP4, s.ip4(s.icmp_echo(0xBAD1, 1, b"y" * 32, bad_csum=True), PROTO_ICMP)),
        s.eth(ETH_IP4, s.ip4(b"\x08\x00\xf7", PROTO_ICMP)),  # shorter than an ICMP header
        # IPv4's length cuts the message short: its checksum no longer holds.
        s.eth(ETH_IP4, s.ip4(s.icmp_echo(0xBAD1, 2, b"y" * 32), PROTO_ICMP, total=20 + 8 + 10) + b"y" * 22),
    ]
    control = s.eth(ETH_IP4, s.ip4(s.icmp_echo(0x600D, 1, b"ok" * 8), PROTO_ICMP))
    got = s.sniff_replies(bad + [control], ICMP)
    ids = sorted({p[ICMP].id for p in got if p[ICMP].type == 0})
    if ids != [0x600D]:
        s.failures.append("ICMP: echo replies for ids %s, expected only 0x600d" % [hex(i) for i in ids])
    s.add("icmp_bad", len(bad))
    s.add("icmp_echo_answered", 1)


def batch_udp(s):
    bad = [
        s.eth(ETH_IP4, s.ip4(b"\x9c\x40\x00\x07\x00", PROTO_UDP)),  # shorter than a UDP header
        s.eth(ETH_IP4, s.ip4(s.udp(7, b"LIE-LONG" * 4, length=200), PROTO_UDP)),
        s.eth(ETH_IP4, s.ip4(s.udp(7, b"LIE-SHRT" * 4, length=4), PROTO_UDP)),
        s.eth(ETH_IP4, s.ip4(s.udp(7, b"BAD-CSUM" * 4, csum_mode="bad"), PROTO_UDP)),
    ]
    # A zero checksum means "none" over IPv4: this one must be echoed.
    control = s.eth(ETH_IP4, s.ip4(s.udp(7, b"NO-CSUM!" * 4, csum_mode="zero"), PROTO_UDP))
    got = s.sniff_replies(bad + [control], UDP)
    payloads = sorted({bytes(p[UDP].payload)[:8] for p in got})
    if payloads != [b"NO-CSUM!"]:
        s.failures.append("UDP: echoed %s, expected only the zero-checksum datagram" % payloads)
    s.add("udp_bad", len(bad))
    s.add("udp_out", 1)


def batch_arp(s):
    frames = [
        s.eth(ETH_ARP, s.arp()[:10]),  # truncated
        s.eth(ETH_ARP, s.arp(hlen=8)),
        s.eth(ETH_ARP, s.arp(hlen=5)),
        s.eth(ETH_ARP, s.arp(plen=6)),
        s.eth(ETH_ARP, s.arp(htype=6)),
        s.eth(ETH_ARP, s.arp(ptype=0x86DD)),
        s.eth(ETH_ARP, s.arp(op=7)),
        s.eth(ETH_ARP, s.arp(sha=b"\x01\0\x5e\0\0\x01")),  # a group address as sender
    ]
    s.send(frames)
    s.add("arp_bad", len(frames))


def batch_fragments(s, reasm_max):
    MF = 0x2000

    def frag(ident, off, data, more):
        return s.eth(ETH_IP4, s.ip4(data, PROTO_UDP, ident=ident, frag=(MF if more else 0) | off // 8))

    frames = [
        frag(0x7001, 0, b"a" * 13, True),  # not a whole number of blocks
        frag(0x7002, 0, b"", True),  # empty
        # Two different ends for one datagram (the first part never came).
        frag(0x7003, 8, b"b" * 8, True),
        frag(0x7003, 16, b"c" * 8, False),
        frag(0x7003, 40, b"d" * 8, False),
        # Data past the end already announced.
        frag(0x7004, 16, b"e" * 8, False),
        frag(0x7004, 32, b"f" * 8, True),
    ]
    s.send(frames)
    s.add("reasm_dropped", 4)
    s.ip_id += 1

    # Overlaps that agree: an echo request cut in two fragments that share
    # 8 bytes; reassembled, it is answered.
    msg = s.icmp_echo(0x600E, 1, bytes(range(40)))
    ident = 0x7005
    s.send(
        [
            s.eth(ETH_IP4, s.ip4(msg[:32], PROTO_ICMP, ident=ident, frag=MF)),
            s.eth(ETH_IP4, s.ip4(msg[24:], PROTO_ICMP, ident=ident, frag=3)),
        ]
    )
    s.add("reasm_ok")
    # Overlaps that disagree: whichever bytes win, nothing may break.
    ident = 0x7006
    s.send(
        [
            s.eth(ETH_IP4, s.ip4(msg[:32], PROTO_ICMP, ident=ident, frag=MF)),
            s.eth(ETH_IP4, s.ip4(b"\xff" * 8 + msg[32:], PROTO_ICMP, ident=ident, frag=3)),
            s.eth(ETH_IP4, s.ip4(b"\xee" * 16, PROTO_ICMP, ident=ident, frag=MF | 1)),
        ]
    )

    # More datagrams in reassembly than the stack keeps: past its bound,
    # first fragments are dropped (the rest time out later).
    n = reasm_max + 20
    s.send([frag(0x7100 + i, 0, b"g" * 8, True) for i in range(n)])
    s.add("reasm_dropped", n - reasm_max)


def batch_garbage(s, seed, count):
    rnd = random.Random(seed)
    frames = []
    for _ in range(count):
        etype = rnd.choice([ETH_IP4, ETH_IP4, ETH_ARP, rnd.randrange(0x600, 0x10000)])
        body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 1500)))
        if etype == ETH_IP4 and body and rnd.random() < 0.5:
            body = bytes([0x45]) + body[1:]  # looks like IPv4 at first sight
        frames.append(s.eth(etype, body))
    s.send(frames)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--dst-ip", required=True)
    ap.add_argument("--src-ip", required=True)
    ap.add_argument("--reasm-max", type=int, default=16)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--garbage", type=int, default=300)
    args = ap.parse_args()

    s = Sender(args)
    s.ping_ok("start")
    for name, fn in [
        ("Ethernet", lambda: batch_ethernet(s)),
        ("IPv4", lambda: batch_ip4(s)),
        ("ICMP", lambda: batch_icmp(s)),
        ("UDP", lambda: batch_udp(s)),
        ("ARP", lambda: batch_arp(s)),
        ("fragments", lambda: batch_fragments(s, args.reasm_max)),
        ("garbage", lambda: batch_garbage(s, args.seed, args.garbage)),
    ]:
        fn()
        print("sent the %s batch" % name, flush=True)
        s.ping_ok("the %s batch" % name)

    for counter, n in sorted(s.expect.items()):
        print("expect %s %d" % (counter, n))
    for f in s.failures:
        print("FAIL: " + f, file=sys.stderr)
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
