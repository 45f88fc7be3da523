"""A small PNG reader (standard library only) for the screenshot checks of test_browser.py:
8-bit greyscale, RGB, grey+alpha and RGBA, not interlaced; what Chromium writes."""

import struct
import zlib


class Image:
    def __init__(self, width, height, channels, rows):
        self.width = width
        self.height = height
        self.channels = channels
        self.rows = rows  # bytes per row, unfiltered

    def pixel(self, x, y):
        c = self.channels
        row = self.rows[y]
        px = row[x * c:(x + 1) * c]
        if c == 1:
            return (px[0], px[0], px[0])
        if c == 2:
            return (px[0], px[0], px[0])
        return (px[0], px[1], px[2])

    def region(self, x0, y0, x1, y1):
        """RGB tuples of the pixels in [x0, x1) x [y0, y1), clipped to the image."""
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(self.width, x1), min(self.height, y1)
        c = self.channels
        out = []
        for y in range(y0, y1):
            row = self.rows[y]
            seg = row[x0 * c:x1 * c]
            if c >= 3:
                out.extend(zip(seg[0::c], seg[1::c], seg[2::c]))
            else:
                out.extend((v, v, v) for v in seg[0::c])
        return out


_MASKS = {}


def _add_bytes(a, b):
    """Bytewise (a + b) mod 256 of two equal-length byte strings, without a Python loop: the low
    7 bits of each byte add without carrying into the next byte, the top bit is an XOR."""
    n = len(a)
    m = _MASKS.get(n)
    if m is None:
        m = _MASKS[n] = (int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big"))
    x = int.from_bytes(a, "big")
    y = int.from_bytes(b, "big")
    return (((x & m[0]) + (y & m[0])) ^ ((x ^ y) & m[1])).to_bytes(n, "big")


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos = 8
    idat = []
    hdr = None
    while pos + 8 <= len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat.append(body)
        elif typ == b"IEND":
            break
        pos += 12 + n
    if hdr is None:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _comp, _filt, interlace = hdr
    if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
        raise ValueError("unsupported PNG (depth %d, colour type %d, interlace %d)"
                         % (depth, ctype, interlace))
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = w * ch
    rows = []
    prev = bytes(stride)
    bpp = ch
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        if ft == 0:
            cur = bytes(line)
        elif ft == 2:
            cur = _add_bytes(line, prev)
        elif ft == 1:
            cur = bytearray(line)
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
            cur = bytes(cur)
        elif ft == 3:
            cur = bytearray(line)
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
            cur = bytes(cur)
        elif ft == 4:
            cur = bytearray(line)
            for i in range(stride):
                if i >= bpp:
                    a = cur[i - bpp]
                    c = prev[i - bpp]
                else:
                    a = c = 0
                b = prev[i]
                p = a + b - c
                pa = p - a if p > a else a - p
                pb = p - b if p > b else b - p
                pc = p - c if p > c else c - p
                if pa <= pb and pa <= pc:
                    pr = a
                elif pb <= pc:
                    pr = b
                else:
                    pr = c
                cur[i] = (cur[i] + pr) & 255
            cur = bytes(cur)
        else:
            raise ValueError("bad filter type %d in row %d" % (ft, y))
        rows.append(cur)
        prev = cur
    return Image(w, h, ch, rows)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def write_png_all_filters(path, width, height, pixel):
    """Writes an RGB PNG whose rows use filter types 0-4 in turn (a reference for self_test)."""
    bpp, stride = 3, width * 3
    prev = bytes(stride)
    out = bytearray()
    for y in range(height):
        cur = bytes(v for x in range(width) for v in pixel(x, y))
        ft = y % 5
        f = bytearray(stride)
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = (0, a, b, (a + b) >> 1, _paeth(a, b, c))[ft]
            f[i] = (cur[i] - pred) & 255
        out.append(ft)
        out += f
        prev = cur

    def chunk(t, body):
        return (struct.pack(">I", len(body)) + t + body +
                struct.pack(">I", zlib.crc32(t + body) & 0xffffffff))
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                     0, 0, 0)) +
                 chunk(b"IDAT", zlib.compress(bytes(out))) + chunk(b"IEND", b""))


def self_test(path):
    """Round-trips an image through every filter type; raises AssertionError on a mismatch."""
    def pixel(x, y):
        return ((x * 37 + y * 11) & 255, (x * y + 7) & 255, (x ^ (y * 3)) & 255)
    write_png_all_filters(path, 23, 17, pixel)
    im = read_png(path)
    for y in range(17):
        for x in range(23):
            assert im.pixel(x, y) == pixel(x, y), "PNG reader: pixel %d,%d" % (x, y)
