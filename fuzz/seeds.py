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
                             "match", "utf8", "conn", "broker")}
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
    for h, files in seeds.items():
        d = os.path.join(out, h)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print("seeds: " + ", ".join("%s %d" % (h, len(f)) for h, f in seeds.items()))


if __name__ == "__main__":
    main()
