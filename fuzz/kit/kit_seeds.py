#!/usr/bin/env python3
"""Writes the seed corpus of the kit harness (fuzz/kit/kit_diff.c) from the
test vectors in spec/vectors/.

Usage: fuzz/kit/kit_seeds.py VECTORS_DIR OUT_DIR
Creates OUT_DIR/<vector-id> files: the selector byte of kit_diff.c, then the
data that selector expects (see the comment at the top of kit_diff.c)."""
import json
import os
import struct
import sys

CLIENT_FRAME, BROKER_FRAME, TOPIC, MASK, UTF8, NAME, LIST, CLIENT_BODY, FRAME_BODY = range(9)


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
    seeds = {}
    sel = lambda s, data: bytes([s]) + data
    lim = lambda v: struct.pack("<I", v.get("max_body", 0xFFFFFFFF))
    for v in load(vdir, "client_header.json"):
        seeds[v["id"]] = sel(CLIENT_FRAME, lim(v) + raw(v))
    for v in load(vdir, "client_body.json"):
        body = raw(v)
        seeds[v["id"]] = sel(CLIENT_BODY, bytes([v["op"] & 0xFF]) + body)
        if 0 <= v["op"] < 64:
            hdr = struct.pack("<IBI", 1, v["op"] | 0x40, len(body))
            seeds[v["id"] + "-frame"] = sel(CLIENT_FRAME, struct.pack("<I", 1 << 20) + hdr + body)
    for f in ("frame_header.json", "ack.json"):
        for v in load(vdir, f):
            seeds[v["id"]] = sel(BROKER_FRAME, lim(v) + raw(v))
    for v in load(vdir, "frame_body.json"):
        body = raw(v)
        seeds[v["id"]] = sel(FRAME_BODY, bytes([v["kind"] & 0xFF]) + body)
        if v["kind"] in (0x01, 0x12, 0x13):
            seeds[v["id"] + "-frame"] = sel(BROKER_FRAME, struct.pack("<I", 1 << 20) +
                                            struct.pack("<BIB", v["kind"], len(body), 0) + body)
    for v in load(vdir, "topic_match.json"):
        seeds[v["id"]] = sel(TOPIC, v["pattern"].encode() + b"\0" + v["topic"].encode())
    for v in load(vdir, "mask_match.json"):
        seeds[v["id"]] = sel(MASK, v["mask"].encode() + b"\0" + v["name"].encode())
    for v in load(vdir, "utf8.json"):
        seeds[v["id"]] = sel(UTF8, raw(v))
    for v in load(vdir, "name.json"):
        seeds[v["id"]] = sel(NAME, raw(v))
    for v in load(vdir, "topic_list.json"):
        seeds[v["id"]] = sel(LIST, raw(v))
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("kit seeds: %d files in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
