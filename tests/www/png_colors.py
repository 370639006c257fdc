#!/usr/bin/python3
"""Checks that a browser's screenshot shows an image: each of the image's
three commonest colours must cover, in the screenshot, at least half as
many pixels as in the image (the page shows it at its natural size).

Usage: png_colors.py IMAGE.png SCREENSHOT.png
A minimal PNG reader (8-bit RGB/RGBA/grey, non-interlaced): enough for
what Chromium writes and for the site's image."""
import struct
import sys
import zlib
from collections import Counter


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, palette = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [body[i:i + 3] for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat += body
    if depth != 8 or interlace:
        raise ValueError("%s: only 8-bit non-interlaced PNGs" % path)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    pixels = []
    for line in rows:
        for x in range(width):
            px = line[x * channels:(x + 1) * channels]
            if ctype == 3:
                px = palette[px[0]]
            elif ctype in (0, 4):
                px = bytes([px[0]] * 3)
            pixels.append(bytes(px[:3]))
    return width, height, pixels


def main():
    _, _, image = read_png(sys.argv[1])
    w, h, shot = read_png(sys.argv[2])
    ok = True
    # The image's three commonest colours, each as often in the screenshot
    # as half its count in the image: a page without the image is unlikely
    # to paint all three in such amounts.
    for colour, count in Counter(image).most_common(3):
        near = sum(1 for p in shot if all(abs(p[i] - colour[i]) <= 3 for i in range(3)))
        print("colour #%s: %d pixels in the image, %d in the %dx%d screenshot" % (colour.hex(), count, near, w, h))
        ok = ok and near >= count // 2
    sys.exit(0 if ok else 1)


main()
