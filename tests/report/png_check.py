#!/usr/bin/env python3
"""Says whether a PNG screenshot shows something: at least MIN_COLOURS distinct colours and
at least MIN_INK of its pixels not white. Decoded with zlib alone (8-bit RGB or RGBA,
not interlaced: what Chromium writes).

usage: png_check.py FILE.png [MIN_COLOURS] [MIN_INK]
A blank page is one colour with no ink; a page that drew only its text would pass the
colours but, at these bounds, the report's figures are what put it over the ink bound.
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    w, h, depth, colour, _, _, interlace = hdr
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("unsupported PNG: depth %d colour type %d interlace %d"
                         % (depth, colour, interlace))
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
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
    return w, h, bpp, rows


def main(argv):
    min_colours = int(argv[2]) if len(argv) > 2 else 16
    min_ink = float(argv[3]) if len(argv) > 3 else 0.01
    w, h, bpp, rows = decode(argv[1])
    colours, ink = set(), 0
    for line in rows:
        for x in range(0, len(line), bpp):
            px = line[x:x + 3]
            colours.add(px)
            ink += px != b"\xff\xff\xff"
    share = ink / float(w * h)
    print("png_check: %s: %dx%d, %d colours, %.1f %% not white"
          % (argv[1], w, h, len(colours), 100 * share))
    if len(colours) < min_colours or share < min_ink:
        print("png_check: blank (want at least %d colours and %.1f %% ink)"
              % (min_colours, 100 * min_ink))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
