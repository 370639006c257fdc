#!/usr/bin/python3
"""blk_pattern.py SEED LEN: the SHA-256 (hex) of the pattern blk-check
writes for SEED (tests/xen/apps/blk_check.c's fill_pattern, a xorshift64*
stream, little-endian), LEN bytes of it. Computed here independently, so
that a test can check the disk against what the program was meant to
write rather than against what it says it wrote."""
import hashlib
import sys

M = (1 << 64) - 1


def pattern(seed, length):
    x = (seed * 0x9E3779B97F4A7C15 + 1) & M
    out = bytearray()
    while len(out) < length:
        x ^= x >> 12
        x ^= (x << 25) & M
        x ^= x >> 27
        out += ((x * 0x2545F4914F6CDD1D) & M).to_bytes(8, "little")
    return bytes(out[:length])


if __name__ == "__main__":
    seed, length = int(sys.argv[1]), int(sys.argv[2])
    print(hashlib.sha256(pattern(seed, length)).hexdigest())
