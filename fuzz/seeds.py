#!/usr/bin/env python3
"""Writes seed corpora for the in-process harnesses from spec/vectors/.

Usage: fuzz/seeds.py VECTORS_DIR OUT_DIR
Creates OUT_DIR/<harness>/<vector-id> files (one input each)."""
import json
import os
import struct
import sys


def load(vdir, name):
    with open(os.path.join(vdir, name)) as f:
        return json.load(f)["vectors"]


def raw(v):
    if "hex" in v:
        return bytes.fromhex(v["hex"])
    r = v["hex_repeat"]
    return bytes.fromhex(r["unit"]) * r["count"]


def main():
    vdir, out = sys.argv[1], sys.argv[2]
    seeds = {h: {} for h in ("client_frame", "frame_header", "handshake", "rpc",
                             "encode", "mpack", "match", "utf8", "conn", "broker", "cli")}
    lim = lambda v: struct.pack("<I", v.get("max_body", 0xFFFFFFFF))
    for v in load(vdir, "client_header.json"):
        seeds["client_frame"][v["id"]] = lim(v) + raw(v)
    for v in load(vdir, "client_body.json"):
        if "error" in v["expect"] and v["expect"]["error"] == "op":
            continue
        body = raw(v)
        hdr = struct.pack("<IBI", 1, v["op"] | 0x40, len(body))
        seeds["client_frame"][v["id"]] = struct.pack("<I", 1 << 20) + hdr + body
    for f in ("frame_header.json", "ack.json"):
        for v in load(vdir, f):
            seeds["frame_header"][v["id"]] = lim(v) + raw(v)
    for v in load(vdir, "frame_body.json"):
        body = raw(v)
        seeds["frame_header"][v["id"]] = struct.pack("<I", 1 << 20) + \
            struct.pack("<BIB", v["kind"], len(body), 0) + body
    for f in ("greeting.json", "name.json", "name_len.json"):
        for v in load(vdir, f):
            if "hex" in v or "hex_repeat" in v:
                seeds["handshake"][v["id"]] = raw(v)
    for v in load(vdir, "rpc.json"):
        seeds["rpc"][v["id"]] = raw(v)
    for v in load(vdir, "utf8.json"):
        seeds["utf8"][v["id"]] = raw(v)
    for v in load(vdir, "topic_match.json"):
        seeds["match"][v["id"]] = b"\x00" + v["pattern"].encode() + b"\x00" + v["topic"].encode()
    for v in load(vdir, "mask_match.json"):
        seeds["match"][v["id"]] = b"\x01" + v["mask"].encode() + b"\x00" + v["name"].encode()
    # A whole session for the connection harness: handshake, then frames.
    hs = b"\xeb\x01\x00" + struct.pack("<H", 4) + b"fuzz"
    frame = lambda op, qos, body: struct.pack("<IBI", 7, op | qos << 6, len(body)) + body
    session = hs + frame(2, 1, b"x/+\x00y/#") + frame(1, 3, b"x/1\x00hi") + \
        frame(0x12, 1, b"fuzz\x00self") + frame(0x13, 0, b"*\x00all") + \
        frame(0x12, 1, b".broker\x00\x01\x05\x00\x00\x00test\x00") + b"\x00" * 9 + \
        frame(6, 1, b"x/2\x00peer\x00pf") + frame(4, 1, b"x/#") + frame(3, 1, b"x/+")
    for step in (1, 7, 64):
        seeds["conn"]["session-%d" % step] = bytes([step - 1]) + session
    for v in load(vdir, "client_header.json")[:64]:
        seeds["conn"][v["id"]] = b"\x3f" + hs + raw(v)
    seeds["broker"]["ops-1"] = bytes(range(0, 90, 1)) * 2
    seeds["broker"]["ops-2"] = bytes([0, 1, 3, 0x61, 0x2f, 0x23, 20, 1, 2, 0x61, 0x62, 35, 3])
    # Encoders: each selector with capacities just below and at the size.
    fields = b"\x2a\x00\x00\x00\x41\x00\x10\x00\x00\x00\x01"
    for sel, size in enumerate((3, 2, 9, 6, 6, 1, 5, 7, 12)):
        for cap in (size - 1, size, 255):
            c = cap if sel != 8 else min(cap - size + 128, 255)
            seeds["encode"]["sel%d-cap%d" % (sel, cap)] = bytes([sel, c]) + fields
    seeds["encode"]["request-nul"] = b"\x08\x80\x01\x00\x00\x00te\x00st"
    seeds["encode"]["request-long"] = b"\x23\x80\x01\x00\x00\x00method"
    # CLI: key=value words (flags byte first) and the payloads of the RPC vectors.
    words = [b"force=true\nn=3\nratio=0.5\nwho=me", b"a=1\na=x\nb=-9223372036854775808",
             b"x=1e309\ny=+.5e-3\nz=\xc3\xa9", b"novalue", b"=v", b"k=\xff\xfe"]
    for i, w in enumerate(words):
        seeds["cli"]["words-%d" % i] = bytes([i % 4]) + w
    for v in load(vdir, "rpc.json")[:200]:
        seeds["cli"][v["id"]] = b"\x00" + raw(v)
    seeds["cli"]["json"] = b'\x00{"b": [1, 2.5, null], "a": "\\u00e9"}'
    seeds["cli"]["msgpack"] = b"\x02\x82\xa1a\x93\x01\xcb\x40\x04\x00\x00\x00\x00\x00\x00\xc0\x01\xc3"
    # Maps nested 30 deep as keys: each level is quoted inside the next
    # (output once grew exponentially; the CLI caps a key's text).
    seeds["cli"]["nested-keys"] = b"\x02" + b"\x81" * 30 + b"\x01" + b"\x02" * 30
    # MessagePack: every RPC vector's data, and one object of each type.
    for v in load(vdir, "rpc.json")[:200]:
        seeds["mpack"][v["id"]] = raw(v)[1:]
    for name, hx in (("fix", "93c0c2c3"), ("map", "82a161cc01a162cb3ff0000000000000"),
                     ("str", "d903616263c403010203c7010561"), ("ext", "d4010dd8" + "00" * 17),
                     ("int", "d0ffd1fffed2fffffffed3" + "ff" * 8), ("array16", "dc000201c0"),
                     ("map32", "df0000000101c0"), ("c1", "91c1"), ("huge", "dfffffffff")):
        seeds["mpack"][name] = bytes.fromhex(hx)
    for h, files in seeds.items():
        d = os.path.join(out, h)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print("seeds: " + ", ".join("%s %d" % (h, len(f)) for h, f in seeds.items()))


if __name__ == "__main__":
    main()
