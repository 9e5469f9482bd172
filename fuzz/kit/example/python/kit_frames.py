#!/usr/bin/env python3
"""A broker-to-client frame parser in Python, written from Section 6 of
spec/busrt-v1.md, answering the kit's pipe protocol (fuzz/README.md,
"Pipe protocol") so that kit-diff compares it with the reference core:

    build/kit-diff --pipe 'python3 fuzz/kit/example/python/kit_frames.py' \\
        --seeds build/fuzz/kit/seeds/example --seconds 10

It provides the delivered-frame header (6.2), the ACK (6.5), the delivered
body split (6.3) and UTF-8 validation (5.6, through Python's strict UTF-8
decoder). With KIT_EXAMPLE_BUG=1 it has a planted bug (a NOP's length is
reported), which kit-diff must find.
"""
import os
import struct
import sys

F_FRAME_HEADER, F_ACK, F_FRAME_BODY, F_UTF8 = 0x008, 0x010, 0x020, 0x100
ERR_SHORT, ERR_LIMIT, ERR_NOSEP, ERR_MARKER, ERR_KIND = -1, -5, -6, -9, -10
KINDS = (0x00, 0x01, 0x12, 0x13)
BUG = os.environ.get('KIT_EXAMPLE_BUG') == '1'

I32 = struct.Struct('<i')
HEADER = struct.Struct('<iBIB')        # result, kind, body length, realtime
ACK = struct.Struct('<iIB')            # result, op id, code
SPANS = struct.Struct('<iIIIIII')      # result, sender, topic, payload (off, len)


def frame_header(d):
    max_body = struct.unpack_from('<I', d)[0]
    b = d[4:]
    if len(b) < 6:
        return HEADER.pack(ERR_SHORT, 0, 0, 0)
    kind, length, rt = b[0], struct.unpack_from('<I', b, 1)[0], b[5]
    if kind not in KINDS:
        return HEADER.pack(ERR_KIND, 0, 0, 0)
    if kind == 0:
        return HEADER.pack(6, 0, length if BUG else 0, rt)   # a NOP has no body
    if length > max_body:
        return HEADER.pack(ERR_LIMIT, 0, 0, 0)
    return HEADER.pack(6, kind, length, rt)


def ack(b):
    if len(b) < 6:
        return ACK.pack(ERR_SHORT, 0, 0)
    if b[0] != 0xFE:
        return ACK.pack(ERR_MARKER, 0, 0)
    return ACK.pack(6, struct.unpack_from('<I', b, 1)[0], b[5])


def frame_body(d):
    kind, body = d[0], d[1:]
    n = len(body)
    if kind not in (0x01, 0x12, 0x13):
        return SPANS.pack(ERR_KIND, 0, 0, 0, 0, 0, 0)
    a = body.find(b'\0')
    if a < 0:
        return SPANS.pack(ERR_NOSEP, 0, 0, 0, 0, 0, 0)
    if kind != 0x01:
        return SPANS.pack(0, 0, a, a + 1, 0, a + 1, n - a - 1)
    t = body.find(b'\0', a + 1)
    if t < 0:
        return SPANS.pack(ERR_NOSEP, 0, 0, 0, 0, 0, 0)
    return SPANS.pack(0, 0, a, a + 1, t - a - 1, t + 1, n - t - 1)


def utf8(b):
    try:
        b.decode('utf-8', 'strict')
        return I32.pack(1)
    except UnicodeDecodeError:
        return I32.pack(0)


HANDLERS = {0x05: frame_header, 0x06: ack, 0x07: frame_body, 0x0A: utf8}


def main():
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    pending = []
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return 0
        n = struct.unpack('<I', head)[0]
        req = inp.read(n)
        if len(req) < n or n == 0:
            return 1
        code = req[0]
        if code == 0xFF:                       # flush: write every pending answer
            out.write(b''.join(pending))
            out.flush()
            pending.clear()
            continue
        if code == 0x00:
            ans = I32.pack(F_FRAME_HEADER | F_ACK | F_FRAME_BODY | F_UTF8)
        else:
            ans = HANDLERS[code](req[1:])
        pending.append(struct.pack('<I', len(ans)) + ans)


if __name__ == '__main__':
    sys.exit(main())
