#!/usr/bin/env python3
"""Generator of the BUS/RT v1 wire-protocol test vectors (spec/vectors/*.json).

    python3 spec/vectors/gen.py            write every vector file
    python3 spec/vectors/gen.py --check    exit 0 iff the files on disk equal
                                           what would be written, else 1

Standard library only, fully deterministic. Every expected result is computed
by the small model below, written straight from the rules with bytes.split,
str.split and recursion; it shares no code with any implementation. Cases
come in three origins, recorded in each vector's "origin" field:

    hand    listed explicitly in this script (for the matchers, together with
            the expected verdict, which the model must reproduce)
    enum    systematic enumerations and boundaries (every flags byte, every
            kind byte, every RPC kind byte, every single byte for UTF-8, ...)
    random  drawn from random.Random(seed) with a fixed seed per file
"""

import json
import os
import random
import sys

SCHEMA = "busrt-vectors/1"
HERE = os.path.dirname(os.path.abspath(__file__))
U32 = 0xFFFFFFFF

# ===========================================================================
# The model: one function per decoder/splitter/matcher, straight from rules.
# Each returns a dict that is the vector's "expect" object.
# ===========================================================================

VALID_OPS = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x12, 0x13)
VALID_KINDS = (0x00, 0x01, 0x12, 0x13)
RPC_KINDS = (0x00, 0x01, 0x11, 0x12)


def le(b):
    return int.from_bytes(b, "little")


def m_greeting(b):
    if len(b) < 3:
        return {"error": "short"}
    if b[0] != 0xEB:
        return {"error": "greeting"}
    if le(b[1:3]) != 1:
        return {"error": "version"}
    return {"ok": True}


def m_name(b):
    if b == b"" or b[:1] == b".":
        check = "name"
    else:
        try:
            b.decode("utf-8")
            check = "ok"
        except UnicodeDecodeError:
            check = "utf8"
    primary = b.find(b"%%")
    return {"check": check, "primary_len": len(b) if primary < 0 else primary}


def m_name_len_decode(b):
    if len(b) < 2:
        return {"error": "short"}
    return {"name_len": le(b[0:2])}


def m_name_len_encode(n):
    if n > 65535:
        return {"error": "limit"}
    return {"hex": n.to_bytes(2, "little").hex()}


def m_client_header(b, max_body):
    if len(b) < 9:
        return {"error": "short"}
    op_id, flags, body_len = le(b[0:4]), b[4], le(b[5:9])
    op, qos = flags % 64, flags // 64
    if op not in VALID_OPS:
        return {"error": "op"}
    ping = op == 0 and qos == 0
    if not ping and body_len > max_body:
        return {"error": "limit"}
    reencoded = (op_id.to_bytes(4, "little") + bytes([qos * 64 + op])
                 + body_len.to_bytes(4, "little"))
    return {"op_id": op_id, "op": op, "qos": qos, "body_len": body_len,
            "body_to_read": 0 if ping else body_len,
            "canonical": reencoded == b[0:9]}


def m_frame_header(b, max_body):
    if len(b) < 6:
        return {"error": "short"}
    kind, body_len, realtime = b[0], le(b[1:5]), b[5]
    if kind not in VALID_KINDS:
        return {"error": "kind"}
    if kind != 0 and body_len > max_body:
        return {"error": "limit"}
    return {"kind": kind, "body_len": body_len, "realtime": realtime}


def m_ack(b):
    if len(b) < 6:
        return {"error": "short"}
    if b[0] != 0xFE:
        return {"error": "marker"}
    return {"op_id": le(b[1:5]), "code": b[5]}


def m_client_body(op, body):
    if op in (0x00, 0x01, 0x12, 0x13):
        parts = body.split(b"\x00", 1)
        if len(parts) < 2:
            return {"error": "nosep"}
        return {"target": parts[0].hex(), "receiver": "",
                "payload": parts[1].hex()}
    if op == 0x06:
        parts = body.split(b"\x00", 2)
        if len(parts) < 3:
            return {"error": "nosep"}
        return {"target": parts[0].hex(), "receiver": parts[1].hex(),
                "payload": parts[2].hex()}
    if op in (0x02, 0x03, 0x04, 0x05):
        return {"target": body.hex(), "receiver": "", "payload": ""}
    return {"error": "op"}


def m_frame_body(kind, body):
    if kind in (0x12, 0x13):
        parts = body.split(b"\x00", 1)
        if len(parts) < 2:
            return {"error": "nosep"}
        return {"sender": parts[0].hex(), "topic": "",
                "payload": parts[1].hex()}
    if kind == 0x01:
        parts = body.split(b"\x00", 2)
        if len(parts) < 3:
            return {"error": "nosep"}
        return {"sender": parts[0].hex(), "topic": parts[1].hex(),
                "payload": parts[2].hex()}
    return {"error": "kind"}


def m_topic_list(body):
    return {"items": [item.hex() for item in body.split(b"\x00")]}


def m_utf8(b):
    try:
        b.decode("utf-8", "strict")
        return {"valid": True}
    except UnicodeDecodeError:
        return {"valid": False}


def chunks_match(pat, subj, one, many):
    """pat, subj: lists of chunks. Recursive rule of the matchers."""
    if not pat:
        return not subj
    if pat[0] == many:
        return len(subj) >= 1
    if not subj:
        return False
    if pat[0] == one or pat[0] == subj[0]:
        return chunks_match(pat[1:], subj[1:], one, many)
    return False


def m_topic(pattern, topic):
    return {"match": chunks_match(pattern.encode().split(b"/"),
                                  topic.encode().split(b"/"), b"+", b"#")}


def m_mask(mask, name):
    return {"match": chunks_match(mask.encode().split(b"."),
                                  name.encode().split(b"."), b"?", b"*")}


def m_rpc(b):
    if len(b) == 0:
        return {"error": "short"}
    kind = b[0]
    if kind not in RPC_KINDS:
        return {"error": "rpc_kind"}
    if kind == 0x00:
        return {"kind": 0, "call_id": 0, "method": "", "code": 0,
                "data": b[1:].hex()}
    need = 7 if kind == 0x12 else 5
    if len(b) < need:
        return {"error": "short"}
    call_id = le(b[1:5])
    if kind == 0x01:
        parts = b[5:].split(b"\x00", 1)
        if len(parts) < 2:
            return {"error": "nosep"}
        return {"kind": 1, "call_id": call_id, "method": parts[0].hex(),
                "code": 0, "data": parts[1].hex()}
    if kind == 0x11:
        return {"kind": 0x11, "call_id": call_id, "method": "", "code": 0,
                "data": b[5:].hex()}
    code = int.from_bytes(b[5:7], "little", signed=True)
    return {"kind": 0x12, "call_id": call_id, "method": "", "code": code,
            "data": b[7:].hex()}


# ===========================================================================
# Vector files
# ===========================================================================

def h(s):
    """Bytes from a hex string that may contain spaces."""
    return bytes.fromhex(s.replace(" ", ""))


class VectorFile:
    def __init__(self, name, prefix, description):
        self.name = name
        self.prefix = prefix
        self.description = description
        self.vectors = []
        self.seen = set()

    def add(self, origin, req, description, fields, expect, dedup=None):
        """Appends a vector; returns False (and adds nothing) when dedup is
        a key already used in this file."""
        if dedup is not None:
            if dedup in self.seen:
                if origin == "hand":
                    sys.exit("%s: duplicate hand case %r" % (self.name, dedup))
                return False
            self.seen.add(dedup)
        assert origin in ("hand", "enum", "random")
        v = {"id": "%s-%04d" % (self.prefix, len(self.vectors) + 1),
             "origin": origin, "req": sorted(set(req)),
             "description": description, "expect": expect}
        for k, val in fields.items():
            assert k not in v
            v[k] = val
        self.vectors.append(v)
        return True

    def document(self):
        return {"schema": SCHEMA, "file": self.name,
                "description": self.description, "vectors": self.vectors}


def input_field(b, repeat=None):
    """The "hex" field, or the "hex_repeat" form for long inputs."""
    if repeat is not None:
        unit, count = repeat
        assert unit * count == b
        return {"hex_repeat": {"unit": unit.hex(), "count": count}}
    return {"hex": b.hex()}


# ---- greeting.json --------------------------------------------------------

def gen_greeting():
    f = VectorFile("greeting.json", "hs",
                   "Handshake greeting check (either direction): EB, then the "
                   "protocol version as u16 LE = 1. Errors in order: short "
                   "(fewer than 3 bytes), greeting (byte 0 is not EB), version. "
                   "Bytes after the third are not looked at.")

    def req_of(e):
        # The check itself: the broker's (REQ-HS-3) and the client's
        # (REQ-HS-7). An accepted input is the greeting both sides send.
        r = ["REQ-HS-3", "REQ-HS-7"]
        if "error" not in e:
            r += ["REQ-HS-1", "REQ-HS-2"]
        return r

    hand = [
        ("", "empty input"),
        ("eb", "greeting byte only"),
        ("eb01", "two bytes of a good greeting"),
        ("eb0100", "the greeting"),
        ("eb010000", "greeting followed by one more byte"),
        ("eb0100eb0100", "greeting followed by a second greeting"),
        ("eb0100ff", "greeting followed by garbage"),
        ("eb0000", "version 0"),
        ("eb0200", "version 2"),
        ("eb0001", "version 256 (big-endian 1)"),
        ("eb0101", "version 257"),
        ("ebffff", "version 65535"),
        ("eb00", "two bytes, version incomplete"),
        ("ec0100", "greeting byte EC"),
        ("ea0100", "greeting byte EA"),
        ("000000", "three zero bytes"),
        ("ff0100", "greeting byte FF"),
        ("010000", "an OK reply byte where the greeting belongs"),
        ("75", "one NOT-SUPPORTED byte"),
        ("ec", "one wrong byte: short wins over greeting"),
        ("ec02", "two wrong bytes: short wins over greeting"),
        ("ec0200", "wrong greeting and wrong version: greeting wins"),
        ("000200", "zero greeting and version 2: greeting wins"),
        ("0001", "two bytes that spell version 1 without greeting"),
        ("be0100", "byte-swapped nibbles of EB"),
        ("eb01000000000000", "greeting followed by zero padding"),
        ("01eb00", "greeting bytes rotated"),
        ("0100eb", "greeting bytes reversed"),
    ]
    for hx, d in hand:
        e = m_greeting(h(hx))
        f.add("hand", req_of(e), d, input_field(h(hx)), e)
    for b0 in range(256):
        b = bytes([b0, 1, 0])
        e = m_greeting(b)
        f.add("enum", req_of(e), "byte 0 = %02x, version 1" % b0,
              input_field(b), e, dedup=b)
    for ver in (0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x101, 0x1FF, 0x0201,
                0x7FFF, 0x8000, 0x8001, 0xFFFE, 0xFFFF):
        b = bytes([0xEB]) + ver.to_bytes(2, "little")
        e = m_greeting(b)
        f.add("enum", req_of(e), "greeting EB, version %d" % ver,
              input_field(b), e, dedup=b)
    rng = random.Random(0xB5001)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 40:
        n = rng.randrange(0, 6)
        b = bytes(rng.choice((0xEB, 0x01, 0x00, rng.randrange(256)))
                  for _ in range(n))
        e = m_greeting(b)
        f.add("random", req_of(e), "random bytes", input_field(b), e,
              dedup=b)
    return f


# ---- name.json ------------------------------------------------------------

def gen_name():
    f = VectorFile("name.json", "name",
                   "Client name check for registration (check: ok, name = empty "
                   "or first byte '.', utf8 = not well-formed UTF-8; name is "
                   "checked before utf8) and primary_len: the offset of the "
                   "first '%%' (two consecutive 0x25 bytes), or the length.")

    def req_of(b, e):
        # Every vector checks the empty/'.' rule and computes primary_len;
        # the UTF-8 rule is reached when the name rule does not refuse.
        r = ["REQ-NAME-1", "REQ-NAME-4"]
        if e["check"] != "name":
            r += ["REQ-NAME-2", "REQ-UTF8-1"]
        return r

    hand = [
        ("", None, "empty name"),
        ("61", None, "one letter"),
        ("746869732e69732e61", None, "this.is.a"),
        ("67726f75702e73756267726f75702e636c69656e74", None,
         "group.subgroup.client"),
        ("2e", None, "a single dot"),
        ("2e2e", None, "two dots"),
        ("2e62726f6b6572", None, ".broker is reserved"),
        ("2e61", None, "dot then letter"),
        ("612e", None, "trailing dot is allowed"),
        ("612e2e62", None, "double dot inside is allowed"),
        ("20", None, "a single space"),
        ("202e", None, "space then dot: not a leading dot"),
        ("00", None, "a single NUL byte (well-formed UTF-8)"),
        ("6100", None, "letter then NUL"),
        ("c3bc", None, "u with diaeresis"),
        ("e282ac", None, "euro sign"),
        ("f09f9880", None, "emoji (4-byte UTF-8)"),
        ("c3", None, "truncated 2-byte sequence"),
        ("ff", None, "byte FF"),
        ("61ff", None, "letter then FF"),
        ("eda080", None, "UTF-16 surrogate D800 encoded"),
        ("f4908080", None, "code point above U+10FFFF"),
        ("c080", None, "overlong NUL"),
        ("2eff", None, "dot then invalid byte: name wins over utf8"),
        ("2ec3", None, "dot then truncated sequence: name wins"),
        ("ff2e", None, "invalid byte then dot: utf8"),
        ("2525", None, "%% alone: primary part is empty"),
        ("25", None, "single percent"),
        ("252525", None, "three percents: first %% at 0"),
        ("612525", None, "a%%"),
        ("6125252577", None, "a%%%w: first %% at 1"),
        ("612577", None, "a%w: no %%"),
        ("61256225256325", None, "a%b%%c%: first %% at 3"),
        ("61707025257763726b657231", None, "app%%worker1"),
        ("617070252577312525773225", None, "app%%w1%%w2%: first %% wins"),
        ("252561", None, "%%a"),
        ("ff2525", None, "invalid UTF-8 before %%"),
        ("2e2525", None, "dot name with %%"),
        ("c3a9252578", None, "multi-byte char then %%"),
        ("2e62726f6b657225257831", None, ".broker%%x1"),
        ("61253235", None, "a%25 (URL-escape text, no %%)"),
        ("25002525", None, "% NUL %%: first %% at 2"),
        ("61" * 65535, (b"a", 65535),
         "65535 letters (the longest name the length field carries)"),
        ("25" * 65535, (b"%", 65535), "65535 percent signs"),
        ("e282ac" * 21845, (b"\xe2\x82\xac", 21845),
         "21845 euro signs (65535 bytes)"),
        ("2e" * 65535, (b".", 65535), "65535 dots"),
    ]
    for hx, rep, d in hand:
        b = h(hx)
        e = m_name(b)
        f.add("hand", req_of(b, e), d, input_field(b, rep), e, dedup=b)
    rng = random.Random(0xB5002)
    pool = (0x2E, 0x25, 0x25, 0x61, 0x62, 0xC3, 0xBC, 0xFF, 0x00, 0x80)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 60:
        n = rng.randrange(0, 9)
        b = bytes(rng.choice(pool) for _ in range(n))
        e = m_name(b)
        f.add("random", req_of(b, e), "random name bytes", input_field(b), e,
              dedup=b)
    return f


# ---- name_len.json ---------------------------------------------------------

def gen_name_len():
    f = VectorFile("name_len.json", "nlen",
                   "The u16 LE length field before a client name. Decode: "
                   "name_len, or short for fewer than 2 bytes (extra bytes are "
                   "not looked at). Encode: the 2 bytes, or limit above 65535.")
    req = ["REQ-HS-4"]
    dec = [
        ("", "empty input"), ("00", "one byte"), ("ff", "one byte FF"),
        ("0000", "length 0"), ("0100", "length 1"), ("ff00", "length 255"),
        ("0001", "length 256 (byte order)"), ("3412", "length 0x1234"),
        ("feff", "length 65534"), ("ffff", "length 65535"),
        ("0a00ff", "length 10, extra byte ignored"),
        ("050061626364", "length 5 followed by name bytes"),
        ("0c00746869732e69732e61", "length 12 followed by a 9-byte name"),
    ]
    for hx, d in dec:
        b = h(hx)
        f.add("hand", req, "decode: " + d, input_field(b),
              m_name_len_decode(b), dedup=("d", b))
    for n in (0, 1, 9, 255, 256, 0x1234, 0x7FFF, 0x8000, 65534, 65535,
              65536, 65537, 100000, 0x7FFFFFFF, U32):
        f.add("enum", req, "encode name_len %d" % n,
              {"encode": {"name_len": n}}, m_name_len_encode(n),
              dedup=("e", n))
    rng = random.Random(0xB5003)
    count = 0
    while count < 12:
        b = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 4)))
        if f.add("random", req, "decode: random bytes", input_field(b),
                 m_name_len_decode(b), dedup=("d", b)):
            count += 1
    return f


# ---- client_header.json ----------------------------------------------------

def chdr(op_id, flags, length, tail=b""):
    return (op_id.to_bytes(4, "little") + bytes([flags])
            + length.to_bytes(4, "little") + tail)


def gen_client_header():
    f = VectorFile("client_header.json", "chdr",
                   "Client -> broker 9-byte header: op id u32 LE, flags (op = "
                   "flags % 64, qos = flags // 64), body length u32 LE. Errors in "
                   "order: short (< 9 bytes), op (unknown operation), limit (body "
                   "length > max_body, never checked for a ping: op 0 with qos 0, "
                   "whose body_to_read is 0).")

    def req_of(b, mb, e):
        r = ["REQ-FRM-1"]
        if len(b) >= 9:
            flags = b[4]
            op, qos = flags % 64, flags // 64
            # op and QoS from the flags; the set of valid operations
            r += ["REQ-FRM-2", "REQ-OP-1"]
            if e.get("error") == "op":
                r.append("REQ-FRM-4")
            elif flags == 0:
                # a ping: 9 bytes, its length field ignored
                r += ["REQ-FRM-3", "REQ-QUIRK-7"]
            else:
                # the body limit is checked for every other frame
                r.append("REQ-FRM-5")
                if op == 0:
                    # op 0 with a non-zero QoS has a body
                    r += ["REQ-BODY-5", "REQ-QUIRK-2"]
        return r

    def add(origin, d, b, mb):
        e = m_client_header(b, mb)
        f.add(origin, req_of(b, mb, e), d,
              dict(input_field(b), max_body=mb), e, dedup=(b, mb))

    good = chdr(0x04030201, 0x41, 5)
    for n in range(9):
        add("hand", "short: first %d bytes of a valid header" % n, good[:n],
            100)
    add("hand", "short: 8 bytes with an unknown op", chdr(1, 0x3F, 0)[:8], 0)
    add("hand", "short: 8 bytes with a length over the limit",
        chdr(1, 0x01, U32)[:8], 0)
    hand = [
        ("ping as clients send it", chdr(0, 0, 0), 0),
        ("ping with garbage length 0xFFFFFFFF, max_body 0", chdr(0, 0, U32), 0),
        ("ping with length 5 and op id", chdr(0x12345678, 0, 5), 100),
        ("ping with length 1, max_body 0", chdr(7, 0, 1), 0),
        ("ping followed by another ping", chdr(0, 0, 0) + chdr(0, 0, 0), 0),
        ("op 0 qos 1 (quirk): body read, length within limit",
         chdr(1, 0x40, 5), 5),
        ("op 0 qos 1 (quirk): length over the limit", chdr(1, 0x40, U32), 0),
        ("op 0 qos 2: length one over the limit", chdr(1, 0x80, 6), 5),
        ("op 0 qos 3: length 0", chdr(1, 0xC0, 0), 0),
        ("publish, length equal to max_body", chdr(1, 0x01, 100), 100),
        ("publish, length one over max_body", chdr(1, 0x01, 101), 100),
        ("publish, length 0 with max_body 0", chdr(1, 0x01, 0), 0),
        ("publish, length 1 with max_body 0", chdr(1, 0x01, 1), 0),
        ("message, length 0xFFFFFFFF, max_body 0xFFFFFFFE",
         chdr(1, 0x12, U32), U32 - 1),
        ("message, length 0xFFFFFFFF, max_body 0xFFFFFFFF",
         chdr(1, 0x12, U32), U32),
        ("broadcast, length 0xFFFFFFFF, max_body 0", chdr(1, 0x13, U32), 0),
        ("subscribe, length 0xFFFFFFFF, max_body 65536",
         chdr(1, 0x02, U32), 65536),
        ("publish-for qos 3, length 0xFFFFFFFE, max_body 0xFFFFFFFF",
         chdr(U32, 0xC6, U32 - 1), U32),
        ("unknown op with a length over the limit: op wins",
         chdr(1, 0x07, U32), 0),
        ("unknown op 0x3F qos 3, length 0", chdr(1, 0xFF, 0), U32),
        ("op id bytes are little-endian", chdr(0x04030201, 0x12, 3), 3),
        ("op id 0xFFFFFFFF", chdr(U32, 0x52, 2), 10),
        ("body length bytes are little-endian", h("00000000 01 01020304"),
         U32),
        ("header followed by its body", chdr(9, 0x01, 3, b"a\x00b"), 3),
        ("message with qos 1 (processed)", chdr(2, 0x52, 10), 10),
        ("message with qos 2 (realtime)", chdr(2, 0x92, 10), 10),
        ("message with qos 3 (realtime processed)", chdr(2, 0xD2, 10), 10),
        ("flags 0x11 (not an operation, one below message)",
         chdr(1, 0x11, 0), 0),
        ("flags 0x14 (not an operation, one above broadcast)",
         chdr(1, 0x14, 0), 0),
        ("flags 0x07 (one above publish-for)", chdr(1, 0x07, 0), 0),
        ("flags 0xFE (the ACK marker as flags)", chdr(1, 0xFE, 0), 0),
    ]
    for d, b, mb in hand:
        add("hand", d, b, mb)
    for flags in range(256):
        op_id = (flags * 0x9E3779B1) & U32
        add("enum", "flags %02x (op %02x, qos %d)" % (flags, flags % 64,
                                                      flags // 64),
            chdr(op_id, flags, flags * 3), 1000)
    # each valid op and qos at the limit boundary
    for op in VALID_OPS:
        for qos in range(4):
            add("enum", "op %02x qos %d, length one over max_body 0x7FFFFFFF"
                % (op, qos), chdr(0xA5A5A5A5, qos * 64 + op, 0x80000000),
                0x7FFFFFFF)
    rng = random.Random(0xB5004)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 80:
        r = rng.randrange(10)
        if r == 0:
            b = bytes(rng.randrange(256) for _ in range(rng.randrange(9)))
        else:
            flags = (rng.choice(VALID_OPS) if rng.randrange(2) else
                     rng.randrange(64)) + 64 * rng.randrange(4)
            length = rng.choice((0, 1, rng.randrange(1 << 16),
                                 rng.getrandbits(32), U32))
            tail = bytes(rng.randrange(256) for _ in range(rng.randrange(3)))
            b = chdr(rng.getrandbits(32), flags, length, tail)
        mb = rng.choice((0, 1, 1 << 16, rng.getrandbits(32), U32))
        if rng.randrange(4) == 0 and len(b) >= 9:
            mb = le(b[5:9]) + rng.choice((-1, 0, 1))
            mb = max(0, min(mb, U32))
        e = m_client_header(b, mb)
        f.add("random", req_of(b, mb, e), "random header",
              dict(input_field(b), max_body=mb), e, dedup=(b, mb))
    return f


# ---- frame_header.json -----------------------------------------------------

def fhdr(kind, length, rt, tail=b""):
    return bytes([kind]) + length.to_bytes(4, "little") + bytes([rt]) + tail


def gen_frame_header():
    f = VectorFile("frame_header.json", "fhdr",
                   "Broker -> client 6-byte delivered-frame header: kind, body "
                   "length u32 LE, realtime byte (reported raw). Kinds 00 (NOP), "
                   "01, 12, 13. Errors in order: short (< 6 bytes), kind (FE = an "
                   "ACK, or any other byte), limit (length > max_body, never "
                   "checked for a NOP).")

    def req_of(b, e):
        r = ["REQ-DLV-1"]
        if len(b) >= 6:
            if b[0] == 0xFE:
                # FE starts an ACK, not a delivered frame
                r.append("REQ-ACK-1")
            elif e.get("error") == "kind":
                # a first byte the client cannot frame
                r.append("REQ-DLV-8")
            elif b[0] == 0:
                # a NOP: no body, whatever bytes 1..5 hold
                r.append("REQ-DLV-4")
            else:
                # the client's limit on delivered bodies
                r.append("REQ-LIM-7")
            if "error" not in e and b[0] != 0:
                # the realtime byte is reported as received
                r.append("REQ-DLV-5")
        return r

    def add(origin, d, b, mb):
        e = m_frame_header(b, mb)
        f.add(origin, req_of(b, e), d, dict(input_field(b), max_body=mb), e,
              dedup=(b, mb))

    good = fhdr(0x12, 5, 1)
    for n in range(6):
        add("hand", "short: first %d bytes of a header" % n, good[:n], 100)
    add("hand", "short: 5 bytes of an ACK", h("fe01000000"), 100)
    hand = [
        ("keep-alive NOP: six zero bytes", bytes(6), 0),
        ("NOP with length 0xFFFFFFFF, max_body 0: not checked",
         fhdr(0, U32, 0), 0),
        ("NOP with realtime 1", fhdr(0, 0, 1), 0),
        ("message, length equal to max_body", fhdr(0x12, 100, 0), 100),
        ("message, length one over max_body", fhdr(0x12, 101, 0), 100),
        ("broadcast, length 0xFFFFFFFF, max_body 0xFFFFFFFF",
         fhdr(0x13, U32, 0), U32),
        ("broadcast, length 0xFFFFFFFF, max_body 0xFFFFFFFE",
         fhdr(0x13, U32, 0), U32 - 1),
        ("publication, length 0, max_body 0", fhdr(0x01, 0, 0), 0),
        ("publication, length 1, max_body 0", fhdr(0x01, 1, 0), 0),
        ("length bytes are little-endian", h("12 01020304 00"), U32),
        ("realtime byte 2 is reported raw", fhdr(0x12, 1, 2), 10),
        ("realtime byte FF is reported raw", fhdr(0x01, 1, 0xFF), 10),
        ("an ACK is not a delivered frame", h("fe 01000000 01"), 100),
        ("an ACK with error code", h("fe ffffffff 77"), U32),
        ("kind 06 (publish-for is an op, not a kind)", fhdr(0x06, 0, 0), 10),
        ("kind 02", fhdr(0x02, 0, 0), 10),
        ("kind 11", fhdr(0x11, 0, 0), 10),
        ("kind 14", fhdr(0x14, 0, 0), 10),
        ("unknown kind with a length over the limit: kind wins",
         fhdr(0x55, U32, 0), 0),
        ("header followed by its body", fhdr(0x12, 3, 0, b"a\x00b"), 3),
        ("NOP followed by a message header", bytes(6) + fhdr(0x12, 1, 0), 0),
    ]
    for d, b, mb in hand:
        add("hand", d, b, mb)
    for kind in range(256):
        add("enum", "kind %02x" % kind, fhdr(kind, kind + 1, kind % 2), 1000)
    rng = random.Random(0xB5005)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 60:
        if rng.randrange(8) == 0:
            b = bytes(rng.randrange(256) for _ in range(rng.randrange(6)))
        else:
            kind = (rng.choice(VALID_KINDS) if rng.randrange(3) else
                    rng.randrange(256))
            length = rng.choice((0, 1, rng.randrange(1 << 16),
                                 rng.getrandbits(32), U32))
            rt = rng.choice((0, 1, rng.randrange(256)))
            tail = bytes(rng.randrange(256) for _ in range(rng.randrange(3)))
            b = fhdr(kind, length, rt, tail)
        mb = rng.choice((0, 1, 1 << 16, rng.getrandbits(32), U32))
        if rng.randrange(4) == 0 and len(b) >= 6:
            mb = max(0, min(le(b[1:5]) + rng.choice((-1, 0, 1)), U32))
        e = m_frame_header(b, mb)
        f.add("random", req_of(b, e), "random header",
              dict(input_field(b), max_body=mb), e, dedup=(b, mb))
    return f


# ---- ack.json --------------------------------------------------------------

def gen_ack():
    f = VectorFile("ack.json", "ack",
                   "Broker -> client 6-byte ACK: FE, op id u32 LE, result code. "
                   "Errors in order: short (< 6 bytes), marker (byte 0 is not "
                   "FE). Any code byte is reported; bytes after the sixth are not "
                   "looked at.")
    req = ["REQ-ACK-1"]

    def add(origin, d, b):
        f.add(origin, req, d, input_field(b), m_ack(b), dedup=b)

    for n in range(6):
        add("hand", "short: first %d bytes of an ACK" % n,
            h("fe 01000000 01")[:n])
    add("hand", "short: 5 bytes with a wrong marker", h("00 01000000"))
    hand = [
        ("OK for op id 1", "fe 01000000 01"),
        ("op id bytes are little-endian", "fe 01020304 01"),
        ("op id 0", "fe 00000000 01"),
        ("op id 0xFFFFFFFF", "fe ffffffff 01"),
        ("code 00 (not a defined code, reported raw)", "fe 05000000 00"),
        ("code FF (not a defined code, reported raw)", "fe 05000000 ff"),
        ("followed by a delivered frame", "fe 07000000 01 12 01000000 00"),
        ("marker 00", "00 01000000 01"),
        ("marker 12 (a message header)", "12 01000000 00"),
        ("marker FF", "ff 01000000 01"),
        ("marker EB (a greeting)", "eb 0100 000000"),
        ("marker FD", "fd 01000000 01"),
        ("six zero bytes (a NOP) are not an ACK", "000000000000"),
    ]
    for d, hx in hand:
        add("hand", d, h(hx))
    for code in (0x01, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79):
        add("enum", "result code %02x" % code,
            h("fe 2a000000") + bytes([code]))
    rng = random.Random(0xB5006)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 30:
        n = rng.randrange(0, 9)
        b = bytes(rng.randrange(256) for _ in range(n))
        if n and rng.randrange(3):
            b = b"\xfe" + b[1:]
        add("random", "random bytes", b)
    return f


# ---- client_body.json ------------------------------------------------------

def body_req(op, e):
    if op in (0x01, 0x12, 0x13):
        r = ["REQ-BODY-1"]
    elif op == 0x06:
        r = ["REQ-BODY-2"]
    elif op in (0x02, 0x03, 0x04, 0x05):
        r = ["REQ-BODY-3"]
    elif op == 0x00:
        r = ["REQ-BODY-5", "REQ-QUIRK-2"]
    else:
        # not an operation code: the connection is closed
        return ["REQ-OP-1", "REQ-FRM-4"]
    if e.get("error") == "nosep":
        r.append("REQ-BODY-4")
    return r


def gen_client_body():
    f = VectorFile("client_body.json", "cbody",
                   "Split of a client frame body by operation. Ops 00 (op 0 with "
                   "non-zero QoS), 01, 12, 13: target NUL payload (first NUL). Op "
                   "06: target NUL receiver NUL payload (first two NULs). Ops "
                   "02-05: target = the whole body. Errors: op (any other op "
                   "value), nosep (fewer NULs than required). UTF-8 is not checked "
                   "here.")

    def add(origin, d, op, b):
        e = m_client_body(op, b)
        f.add(origin, body_req(op, e), d, dict(input_field(b), op=op), e,
              dedup=(op, b))

    for op, name in ((0x01, "publish"), (0x12, "message"),
                     (0x13, "broadcast"), (0x00, "op 0 with QoS")):
        for hx, d in (("", "empty body"), ("61", "no NUL"),
                      ("612f62", "topic without NUL"),
                      ("00", "NUL only: empty target and payload"),
                      ("6100", "target, empty payload"),
                      ("0061", "empty target, payload"),
                      ("612f6200 7061796c6f6164", "target and payload"),
                      ("61 00 62 00 63", "payload keeps later NULs"),
                      ("0000", "two NULs: payload is one NUL"),
                      ("ff 00 ff", "invalid UTF-8 target is split anyway")):
            add("hand", "%s: %s" % (name, d), op, h(hx))
    add("hand", "message to .broker with an RPC request payload", 0x12,
        h("2e62726f6b6572 00 01 01000000 74657374 00"))
    add("hand", "broadcast with mask this.*", 0x13, b"this.*\x00hello")
    for hx, d in (("", "empty body"), ("61", "no NUL"),
                  ("6100", "one NUL only"), ("610062", "one NUL, receiver text"),
                  ("0000", "two NULs: all parts empty"),
                  ("000000", "three NULs: payload is one NUL"),
                  ("61 00 62 00", "topic, receiver, empty payload"),
                  ("61 00 62 00 63", "topic, receiver, payload"),
                  ("61 00 62 00 63 00 64", "payload keeps later NULs"),
                  ("00 62 00 63", "empty topic"),
                  ("61 00 00 63", "empty receiver"),
                  ("612f62 00 617070 00 7061796c6f6164",
                   "topic a/b for receiver app")):
        add("hand", "publish-for: " + d, 0x06, h(hx))
    for op, name in ((0x02, "subscribe"), (0x03, "unsubscribe"),
                     (0x04, "exclude"), (0x05, "unexclude")):
        for hx, d in (("", "empty body (one empty topic)"),
                      ("61", "one topic"),
                      ("61 00 62", "two topics: whole body is the target"),
                      ("00", "NUL only"),
                      ("612f23 00 2b2f62 00", "trailing NUL kept")):
            add("hand", "%s: %s" % (name, d), op, h(hx))
    for op in (0x07, 0x08, 0x10, 0x11, 0x14, 0x20, 0x3F, 0x40, 0x41, 0x52,
               0x80, 0xC1, 0xFE, 0xFF):
        add("hand", "op %02x is not an operation" % op, op, h("61 00 62 00 63"))
        add("hand", "op %02x with an empty body" % op, op, b"")
    for op in range(64):
        add("enum", "op %02x, body t NUL r NUL p" % op, op, h("74 00 72 00 70"))
    rng = random.Random(0xB5007)
    pool = (0x00, 0x00, 0x61, 0x62, 0xFF)
    ops = VALID_OPS + VALID_OPS + (0x07, 0x11, 0x3F)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 100:
        op = rng.choice(ops)
        b = bytes(rng.choice(pool) for _ in range(rng.randrange(0, 8)))
        add("random", "random body", op, b)
    return f


# ---- frame_body.json -------------------------------------------------------

def gen_frame_body():
    f = VectorFile("frame_body.json", "fbody",
                   "Split of a delivered frame body by kind. Kinds 12, 13: sender "
                   "NUL payload (topic empty). Kind 01: sender NUL topic NUL "
                   "payload. Errors: kind (00 = NOP, or any other kind), nosep.")

    def req_of(kind):
        # the body layouts (REQ-DLV-2, REQ-DLV-3) and the client's split
        # (REQ-DLV-7); a NOP and an ACK have no body; other first bytes
        # cannot be framed
        return {0x12: ["REQ-DLV-2", "REQ-DLV-7"],
                0x13: ["REQ-DLV-2", "REQ-DLV-7"],
                0x01: ["REQ-DLV-3", "REQ-DLV-7"],
                0x00: ["REQ-DLV-4"], 0xFE: ["REQ-ACK-1"]}.get(kind,
                                                              ["REQ-DLV-8"])

    def add(origin, d, kind, b):
        f.add(origin, req_of(kind), d, dict(input_field(b), kind=kind),
              m_frame_body(kind, b), dedup=(kind, b))

    for kind, name in ((0x12, "message"), (0x13, "broadcast")):
        for hx, d in (("", "empty body"), ("61", "no NUL"),
                      ("00", "NUL only"), ("6100", "empty payload"),
                      ("0061", "empty sender"),
                      ("2e62726f6b6572 00 11 01000000 81a26f6bc3",
                       "from .broker with an RPC reply"),
                      ("61 00 62 00 63", "payload keeps later NULs"),
                      ("61707025257731 00 6869", "from a secondary client")):
            add("hand", "%s: %s" % (name, d), kind, h(hx))
    for hx, d in (("", "empty body"), ("61", "no NUL"),
                  ("6100", "one NUL"), ("61 00 62", "one NUL, topic text"),
                  ("0000", "two NULs: all empty"),
                  ("61 00 62 00", "empty payload"),
                  ("61 00 62 00 63", "sender, topic, payload"),
                  ("61 00 62 00 63 00 64", "payload keeps later NULs"),
                  ("2e62726f6b6572 00 2e62726f6b65722f696e666f 00 83",
                   ".broker on .broker/info"),
                  ("00 612f62 00 78", "empty sender")):
        add("hand", "publication: " + d, 0x01, h(hx))
    for kind in (0x00, 0x06, 0x02, 0x11, 0x14, 0xFE, 0xFF):
        add("hand", "kind %02x with a valid-looking body" % kind, kind,
            h("61 00 62 00 63"))
        add("hand", "kind %02x with an empty body" % kind, kind, b"")
    for kind in range(256):
        add("enum", "kind %02x, body s NUL t NUL p" % kind, kind,
            h("73 00 74 00 70"))
    rng = random.Random(0xB5008)
    pool = (0x00, 0x00, 0x61, 0x62, 0xFF)
    kinds = VALID_KINDS + (0x01, 0x12, 0x13, 0x01, 0x12, 0x13, 0xFE)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 80:
        kind = rng.choice(kinds)
        b = bytes(rng.choice(pool) for _ in range(rng.randrange(0, 8)))
        add("random", "random body", kind, b)
    return f


# ---- topic_list.json -------------------------------------------------------

def gen_topic_list():
    f = VectorFile("topic_list.json", "tlist",
                   "A NUL-joined list (subscribe/unsubscribe/exclude/unexclude "
                   "bodies) split on every NUL: n NULs give n + 1 items; an empty "
                   "body is one empty item.")
    def add(origin, d, b):
        # an empty body is the one-item list [""] (REQ-QUIRK-3)
        req = ["REQ-BODY-3"] + (["REQ-QUIRK-3"] if b == b"" else [])
        f.add(origin, req, d, input_field(b), m_topic_list(b), dedup=b)

    for hx, d in (("", "empty body: one empty topic"),
                  ("00", "one NUL: two empty items"),
                  ("0000", "two NULs: three empty items"),
                  ("000000", "three NULs"),
                  ("61", "one topic"), ("6100", "trailing NUL"),
                  ("0061", "leading NUL"), ("61 00 62", "two topics"),
                  ("61 00 62 00 63", "three topics"),
                  ("61 0000 62", "empty item in the middle"),
                  ("2e62726f6b65722f7761726e", ".broker/warn"),
                  ("612f2b 00 23 00 782f2f79", "a/+, #, x//y"),
                  ("c3bc 00 e282ac", "multi-byte UTF-8 topics"),
                  ("ff 00 fe", "invalid UTF-8 is split anyway")):
        add("hand", d, h(hx))
    rng = random.Random(0xB5009)
    pool = (0x00, 0x00, 0x61, 0x62, 0x2F)
    while sum(1 for v in f.vectors if v["origin"] == "random") < 40:
        b = bytes(rng.choice(pool) for _ in range(rng.randrange(0, 9)))
        add("random", "random list", b)
    return f


# ---- utf8.json -------------------------------------------------------------

def gen_utf8():
    f = VectorFile("utf8.json", "utf8",
                   "Well-formed UTF-8 per RFC 3629: shortest form only, no "
                   "surrogates (U+D800..U+DFFF), nothing above U+10FFFF; NUL "
                   "bytes are valid; the empty string is valid.")
    req = ["REQ-UTF8-1"]

    def add(origin, d, b, rep=None):
        f.add(origin, req, d, input_field(b, rep), m_utf8(b), dedup=b)

    hand = [
        ("", "empty string"),
        ("7f", "last 1-byte code point"),
        ("80", "lone continuation byte 80"),
        ("bf", "lone continuation byte BF"),
        ("c080", "overlong 2-byte NUL"),
        ("c0af", "overlong 2-byte slash"),
        ("c1bf", "overlong 2-byte U+007F"),
        ("c280", "first 2-byte code point U+0080"),
        ("dfbf", "last 2-byte code point U+07FF"),
        ("c2", "truncated 2-byte sequence at end"),
        ("c27f", "2-byte lead, then ASCII"),
        ("c2c0", "2-byte lead, then lead byte"),
        ("c200", "2-byte lead, then NUL"),
        ("c28080", "2-byte sequence plus stray continuation"),
        ("e08080", "overlong 3-byte NUL"),
        ("e09fbf", "overlong 3-byte U+07FF"),
        ("e0a080", "first 3-byte code point U+0800"),
        ("e0a0", "truncated 3-byte sequence (2 of 3)"),
        ("e0", "truncated 3-byte sequence (1 of 3)"),
        ("e180", "truncated 3-byte sequence after E1"),
        ("e18080", "U+1000"),
        ("ec bfbf", "U+CFFF"),
        ("ed8080", "U+D000"),
        ("ed9fbf", "U+D7FF, last before surrogates"),
        ("eda080", "surrogate U+D800"),
        ("edafbf", "surrogate U+DBFF"),
        ("edb080", "surrogate U+DC00"),
        ("edbfbf", "surrogate U+DFFF"),
        ("eda0bdedb2a9", "CESU-8 surrogate pair for U+1F4A9"),
        ("ee8080", "U+E000, first after surrogates"),
        ("efbbbf", "byte order mark U+FEFF"),
        ("efbfbe", "noncharacter U+FFFE (well-formed)"),
        ("efbfbf", "U+FFFF, last 3-byte code point"),
        ("efbf", "truncated U+FFFF"),
        ("ef7fbf", "3-byte lead, ASCII in second position"),
        ("efbf7f", "3-byte lead, ASCII in third position"),
        ("f0808080", "overlong 4-byte NUL"),
        ("f08fbfbf", "overlong 4-byte U+FFFF"),
        ("f0908080", "first 4-byte code point U+10000"),
        ("f09080", "truncated 4-byte sequence (3 of 4)"),
        ("f090", "truncated 4-byte sequence (2 of 4)"),
        ("f0", "truncated 4-byte sequence (1 of 4)"),
        ("f09f9880", "U+1F600"),
        ("f3bfbfbf", "U+FFFFF"),
        ("f4808080", "U+100000"),
        ("f48fbfbf", "U+10FFFF, last code point"),
        ("f4908080", "U+110000, above the range"),
        ("f4bfbfbf", "above the range, F4 BF"),
        ("f5808080", "lead F5"),
        ("f7bfbfbf", "lead F7 (old 4-byte form, U+1FFFFF)"),
        ("f888808080", "5-byte form"),
        ("fc8480808080", "6-byte form"),
        ("fe", "byte FE"),
        ("ff", "byte FF"),
        ("fefe", "FE FE"),
        ("fffe", "UTF-16 LE BOM bytes"),
        ("feff", "UTF-16 BE BOM bytes"),
        ("00", "NUL"),
        ("610062", "NUL between letters"),
        ("000000", "three NULs"),
        ("c3bc00e282ac", "NUL between multi-byte characters"),
        ("61c3", "letter then truncated sequence"),
        ("61e282", "letter then truncated 3-byte sequence"),
        ("61f09f98", "letter then truncated 4-byte sequence"),
        ("c361", "2-byte lead followed by a letter"),
        ("e282ac61", "euro then letter"),
        ("8061", "continuation then letter"),
        ("e282ace282", "euro then truncated euro"),
        ("68656c6c6f", "hello"),
        ("2e62726f6b65722f7761726e", ".broker/warn"),
        ("cebae1bdb9cf83cebccebe", "Greek kosme"),
        ("f4 8f bf bf f0 90 80 80", "two 4-byte boundaries"),
        ("ed 9f bf ee 80 80", "around the surrogate gap"),
        ("c1 80", "C1 80"),
        ("e0 9f 80", "E0 9F 80 (overlong)"),
        ("e0 c0 80", "E0 then lead byte"),
        ("f0 8f 80 80", "F0 8F 80 80 (overlong)"),
        ("f4 c0 80 80", "F4 then lead byte"),
    ]
    for hx, d in hand:
        add("hand", d, h(hx))
    for b0 in range(256):
        add("enum", "single byte %02x" % b0, bytes([b0]))
    for lead in (0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3,
                 0xF4):
        for second in (0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0):
            n = 2 if lead < 0xE0 else (3 if lead < 0xF0 else 4)
            b = bytes([lead, second]) + b"\x80" * (n - 2)
            add("enum", "lead %02x, second byte %02x" % (lead, second), b)
    add("enum", "65535 letters", b"a" * 65535, (b"a", 65535))
    add("enum", "20000 U+10FFFF", b"\xf4\x8f\xbf\xbf" * 20000,
        (b"\xf4\x8f\xbf\xbf", 20000))
    add("enum", "20000 surrogates", b"\xed\xa0\x80" * 20000,
        (b"\xed\xa0\x80", 20000))
    add("enum", "65536 NULs", bytes(65536), (b"\x00", 65536))
    rng = random.Random(0xB500A)
    pools = ([0x00, 0x41, 0x7F], list(range(0x80, 0xC0)),
             list(range(0xC2, 0xE0)), list(range(0xE0, 0xF0)),
             list(range(0xF0, 0xF5)), [0xC0, 0xC1, 0xF5, 0xF8, 0xFE, 0xFF],
             [0x80, 0x9F, 0xA0, 0xBF])
    n_rand = 0
    while n_rand < 150:
        b = bytes(rng.choice(rng.choice(pools))
                  for _ in range(rng.randrange(0, 11)))
        if f.add("random", req, "random bytes", input_field(b), m_utf8(b),
                 dedup=b):
            n_rand += 1
    ranges = ((0x00, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF),
              (0xE000, 0xFFFF), (0x10000, 0x10FFFF))
    n_rand = 0
    while n_rand < 150:
        s = "".join(chr(rng.randrange(lo, hi + 1))
                    for lo, hi in (rng.choice(ranges)
                                   for _ in range(rng.randrange(1, 6))))
        b = s.encode("utf-8")
        if rng.randrange(3) == 0:
            # damage: truncate at a random byte or drop a random byte
            i = rng.randrange(len(b))
            b = b[:i] if rng.randrange(2) else b[:i] + b[i + 1:]
            d = "random valid string, damaged"
        else:
            d = "random valid string"
        if f.add("random", req, d, input_field(b), m_utf8(b), dedup=b):
            n_rand += 1
    return f


# ---- topic_match.json / mask_match.json ------------------------------------

def match_req(pat, subj, sep, one, many, ids):
    """ids: a dict of requirement id lists by what a case exercises (see
    TOPIC_IDS). The pattern's chunks up to its first many-chunk wildcard are
    the ones matched; the rest is ignored."""
    pc = pat.split(sep)
    used = pc[:pc.index(many) + 1] if many in pc else pc
    r = list(ids["all"]) + list(ids["split"])
    if one in used:
        r += ids["one"]
    if many in used:
        r += ids["many"]
        i = pc.index(many)
        if i < len(pc) - 1:
            r += ids["mid"]
        if subj.split(sep) == pc[:i]:
            r += ids["parent"]
    if any(c != one and c != many for c in used):
        r += ids["literal"]
    if any(one in c or many in c for c in subj.split(sep)):
        r += ids["literal_subject"]
    return r


# Requirement ids of the matcher cases. all: the definition of a match;
# split: separator and empty chunks; one / many: the wildcard chunks; mid: a
# many-chunk wildcard that is not the last chunk; parent: the subject is
# the pattern's part before the many-chunk wildcard; literal: every other
# chunk matches only equal bytes (including chunks that merely contain a
# wildcard character); literal_subject: wildcard characters in the subject
# are ordinary bytes.
TOPIC_IDS = {"all": [], "split": ["REQ-TOPIC-1"], "one": ["REQ-TOPIC-2"],
             "many": ["REQ-TOPIC-3"], "mid": ["REQ-QUIRK-5"],
             "parent": ["REQ-TOPIC-4", "REQ-QUIRK-4"],
             "literal": ["REQ-TOPIC-5"], "literal_subject": ["REQ-TOPIC-5"]}
MASK_IDS = {"all": ["REQ-MASK-6"], "split": ["REQ-MASK-1"],
            "one": ["REQ-MASK-2"], "many": ["REQ-MASK-3"],
            "mid": ["REQ-QUIRK-5"], "parent": [],
            "literal": ["REQ-MASK-4"], "literal_subject": []}

# (pattern, topic, expected match, description): expectations written by
# hand; the generator stops if the model disagrees with any of them.
TOPIC_HAND = [
    ("a/#", "a", False, "quirk: a/# does not match a (MQTT would)"),
    ("a/#", "a/b", True, "# matches one chunk"),
    ("a/#", "a/b/c", True, "# matches several chunks"),
    ("a/#", "a/", True, "# matches one empty chunk"),
    ("a/#", "a//", True, "# matches two empty chunks"),
    ("a/#", "b/c", False, "literal prefix differs"),
    ("a/#", "ab", False, "no separator"),
    ("sport/tennis/#", "sport/tennis", False, "MQTT example parent level"),
    ("sport/tennis/#", "sport/tennis/player1", True, "MQTT example"),
    ("sport/tennis/#", "sport/tennis/player1/ranking", True, "MQTT example"),
    ("a/#/b", "a/x", True, "# mid-pattern: a/#/b behaves as a/#"),
    ("a/#/b", "a/x/y", True, "# mid-pattern ignores the rest"),
    ("a/#/b", "a/b", True, "# mid-pattern, topic equal to the tail"),
    ("a/#/b", "a", False, "# mid-pattern still needs one chunk"),
    ("a/#/b", "a/x/b", True, "# mid-pattern, topic spelled like pattern"),
    ("#/a", "b", True, "leading # ends the pattern"),
    ("#/#", "a", True, "#/# behaves as #"),
    ("a/#/#", "a/b", True, "a/#/# behaves as a/#"),
    ("#", "", True, "# matches the empty topic (one empty chunk)"),
    ("#", "a", True, "# matches one chunk"),
    ("#", "a/b/c", True, "# matches every topic"),
    ("#", "/", True, "# matches two empty chunks"),
    ("#", "//", True, "# matches three empty chunks"),
    ("#", "#", True, "# matches a topic named #"),
    ("#", "+", True, "# matches a topic named +"),
    ("#", "$SYS/broker", True, "unlike MQTT, # matches $-topics"),
    ("+/broker", "$SYS/broker", True, "unlike MQTT, + matches $ chunks"),
    ("#", ".broker/warn", True, "# matches the broker's warn topic"),
    (".broker/warn", ".broker/warn", True, "the topic every client has"),
    (".broker/#", ".broker/info", True, "broker info events"),
    (".broker/#", ".broker", False, "quirk again: no parent match"),
    ("/x", "x", False, "leading slash makes a distinct topic"),
    ("x", "/x", False, "leading slash makes a distinct topic"),
    ("/x", "/x", True, "leading slash, equal"),
    ("x//y", "x/y", False, "double slash makes a distinct topic"),
    ("x/y", "x//y", False, "double slash makes a distinct topic"),
    ("x//y", "x//y", True, "double slash, equal"),
    ("x/+/y", "x//y", True, "+ matches the empty middle chunk"),
    ("x/+/y", "x/y", False, "+ needs a chunk to exist"),
    ("a/", "a", False, "trailing slash makes a distinct topic"),
    ("a", "a/", False, "trailing slash makes a distinct topic"),
    ("a/", "a/", True, "trailing slash, equal"),
    ("a/+", "a/", True, "+ matches the trailing empty chunk"),
    ("a/+", "a", False, "+ does not match a missing chunk"),
    ("a/+/", "a/b/", True, "+ then trailing slash"),
    ("a/+/", "a/b", False, "+ then trailing slash, topic has none"),
    ("+", "a", True, "+ matches one chunk"),
    ("+", "", True, "+ matches the empty topic (one empty chunk)"),
    ("+", "/", False, "+ does not match two chunks"),
    ("+", "a/b", False, "+ does not match two chunks"),
    ("+/+", "/", True, "+/+ matches two empty chunks"),
    ("+/+", "a/", True, "+/+ with an empty second chunk"),
    ("+/+", "/a", True, "+/+ with an empty first chunk"),
    ("+/+", "a", False, "+/+ needs two chunks"),
    ("+/+/+", "//", True, "three empty chunks"),
    ("/+", "//", False, "/+ has two chunks, // has three"),
    ("//", "//", True, "only separators, equal"),
    ("//", "/", False, "three empty chunks vs two"),
    ("/", "//", False, "two empty chunks vs three"),
    ("/#", "/", True, "/# with one empty chunk after"),
    ("/#", "", False, "/# needs the empty first chunk and one more"),
    ("/#", "/a/b", True, "/# on a rooted topic"),
    ("+/#", "a", False, "+/# needs two chunks"),
    ("+/#", "a/b", True, "+/# on two chunks"),
    ("+/#", "/", True, "+/# on two empty chunks"),
    ("+/topic/#", "x/topic/event", True, "overview example"),
    ("+/topic/#", "x/topic/sub/event", True, "overview example"),
    ("+/topic/#", "x/topic", False, "overview example, no parent match"),
    ("+/topic/#", "x/y/topic/event", False, "+ is exactly one chunk"),
    ("a/+/c", "a/b/c", True, "+ in the middle"),
    ("a/+/c", "a/b/c/d", False, "pattern must consume all chunks"),
    ("a/+/c", "a/c", False, "+ does not match zero chunks"),
    ("a/+/+", "a/b/c", True, "two +"),
    ("", "", True, "empty pattern matches only the empty topic"),
    ("", "a", False, "empty pattern vs a"),
    ("a", "", False, "a vs the empty topic"),
    ("", "/", False, "empty pattern vs /"),
    ("/", "", False, "/ vs the empty topic"),
    ("/", "/", True, "/ vs /"),
    ("a+", "a+", True, "a+ is a literal chunk"),
    ("a+", "ab", False, "a+ is not a wildcard"),
    ("+a", "ba", False, "+a is not a wildcard"),
    ("a#", "a#", True, "a# is a literal chunk"),
    ("a#", "ab", False, "a# is not a wildcard"),
    ("#a", "xa", False, "#a is not a wildcard"),
    ("#a", "#a", True, "#a literal"),
    ("++", "a", False, "++ is a literal chunk"),
    ("++", "++", True, "++ literal"),
    ("##", "a", False, "## is a literal chunk"),
    ("##", "a/b", False, "## is a literal chunk"),
    ("a/b+", "a/b", False, "b+ literal"),
    ("a", "+", False, "+ in a topic is a literal chunk"),
    ("+", "+", True, "+ matches the chunk +"),
    ("a/b", "a/+", False, "a topic chunk + is not a wildcard"),
    ("a/b", "a/#", False, "a topic chunk # is not a wildcard"),
    ("a/#", "a/#", True, "# matches the chunk #"),
    ("a/b", "a/b", True, "equal"),
    ("a/b", "a/c", False, "last chunk differs"),
    ("a/b", "a/b/c", False, "topic longer"),
    ("a/b/c", "a/b", False, "topic shorter"),
    ("A", "a", False, "case-sensitive"),
    ("a b", "a b", True, "spaces are ordinary bytes"),
    ("a.b", "a.b", True, "dots are ordinary in topics"),
    ("a.?", "a.b", False, "? is not a topic wildcard"),
    ("a/*", "a/b", False, "* is not a topic wildcard"),
    ("*", "a", False, "* is not a topic wildcard"),
    ("?", "a", False, "? is not a topic wildcard"),
    ("\u00fcber/+", "\u00fcber/x", True, "multi-byte literal chunk"),
    ("\u00fc", "u", False, "multi-byte vs ASCII"),
    ("u", "\u00fc", False, "ASCII vs multi-byte"),
    ("+/\u20ac", "x/\u20ac", True, "euro sign chunk"),
    ("+", "\u20ac", True, "+ matches a multi-byte chunk"),
    ("+", "\u20ac/\u20ac", False, "+ vs two multi-byte chunks"),
    ("\U0001f600/#", "\U0001f600/a", True, "emoji chunk"),
    ("\U0001f600", "\U0001f601", False, "emoji differing in the last byte"),
    ("\u65e5\u672c/+/\u8a9e", "\u65e5\u672c/x/\u8a9e", True, "CJK chunks"),
    ("\u65e5\u672c/#", "\u65e5\u672c", False, "CJK parent, no match"),
    ("a/b/c/d/e/f/g/h", "a/b/c/d/e/f/g/h", True, "eight chunks equal"),
    ("a/b/c/d/e/f/g/+", "a/b/c/d/e/f/g/h", True, "eight chunks, last +"),
    ("+/+/+/+/+/+/+/+", "a/b/c/d/e/f/g/h", True, "eight +"),
    ("+/+/+/+/+/+/+", "a/b/c/d/e/f/g/h", False, "seven + vs eight chunks"),
    ("a/b/c/d/e/f/g/#", "a/b/c/d/e/f/g", False, "deep parent, no match"),
]

MASK_NAMES = ["this.is.a", "this.is.b", "this.is", "this", "that.is.a"]
# Documented broadcast examples of the deployed broker: mask -> clients reached.
MASK_FACTS = [
    ("this.is.*", {"this.is.a", "this.is.b"}),
    ("this.*", {"this.is.a", "this.is.b", "this.is"}),
    ("*", set(MASK_NAMES)),
    ("this.?.a", {"this.is.a"}),
    ("?.is.a", {"this.is.a", "that.is.a"}),
    ("this.is.a.*", set()),
    ("this.is", {"this.is"}),
]

MASK_HAND = [
    ("a*", "a*", True, "a* is a literal chunk"),
    ("a*", "ab", False, "a* is not a wildcard"),
    ("a*", "a.b", False, "a* is not a wildcard"),
    ("*a", "ba", False, "*a is not a wildcard"),
    ("a?", "ab", False, "a? is not a wildcard"),
    ("a?", "a?", True, "a? literal"),
    ("**", "a", False, "** is a literal chunk"),
    ("**", "**", True, "** literal"),
    ("??", "ab", False, "?? is a literal chunk"),
    ("this.is.*.x", "this.is.a", True, "* ends the mask"),
    ("this.*.x", "this.is.y", True, "* ends the mask, rest ignored"),
    ("*.?", "a", True, "*.? behaves as *"),
    ("?.*", "a", False, "?.* needs two chunks"),
    ("?.*", "a.b.c", True, "?.* on three chunks"),
    ("a.*", "a", False, "a.* does not match a"),
    ("a.?", "a", False, "? does not match a missing chunk"),
    ("?", "a.b", False, "? is exactly one chunk"),
    ("?", "a", True, "? is one chunk"),
    ("*", "", True, "* matches the empty name (one empty chunk)"),
    ("?", "", True, "? matches the empty name (one empty chunk)"),
    ("", "", True, "empty mask matches only the empty name"),
    ("", "a", False, "empty mask vs a"),
    ("a", "", False, "a vs the empty name"),
    (".", ".", True, "two empty chunks"),
    ("?.?", ".", True, "? matches empty chunks"),
    (".", "", False, "two empty chunks vs one"),
    ("a..b", "a..b", True, "double dot, equal"),
    ("a.?.b", "a..b", True, "? matches the empty middle chunk"),
    ("a.b", "a..b", False, "double dot makes a distinct name"),
    ("a.", "a", False, "trailing dot makes a distinct name"),
    ("a.?", "a.", True, "? matches the trailing empty chunk"),
    (".broker", ".broker", True, "the broker's own name"),
    (".*", ".broker", True, ".* reaches .broker"),
    ("*", ".broker", True, "* reaches .broker"),
    ("?", ".broker", False, ".broker has two chunks"),
    ("?.?", ".broker", True, "? matches the empty first chunk"),
    ("app%%worker1", "app%%worker1", True, "secondary name, exact"),
    ("app", "app%%worker1", False, "primary name does not reach secondary"),
    ("?", "app%%worker1", True, "a secondary name without dots is one chunk"),
    ("g1.*", "g1.app%%w1", True, "secondary under a group"),
    ("?.test.*", "g1.test.client1", True, "overview example"),
    ("?.test.*", "g1.test.subgroup.client2", True, "overview example"),
    ("?.test.*", "g1.test", False, "overview example, no parent match"),
    ("?.test.*", "test.client1", False, "? needs its own chunk"),
    ("a/b", "a/b", True, "slashes are ordinary in names"),
    ("a/+", "a/b", False, "+ is not a mask wildcard"),
    ("+", "a", False, "+ is not a mask wildcard"),
    ("#", "a", False, "# is not a mask wildcard"),
    ("a", "*", False, "* in a name is a literal chunk"),
    ("*", "*", True, "* matches the chunk *"),
    ("?", "*", True, "? matches the chunk *"),
    ("a.b", "a.?", False, "? in a name is not a wildcard"),
    ("This", "this", False, "case-sensitive"),
    ("\u00fc.?", "\u00fc.x", True, "multi-byte literal chunk"),
    ("?", "\u00fc", True, "? matches a multi-byte chunk"),
    ("\u00fc", "u", False, "multi-byte vs ASCII"),
    ("\u65e5.*", "\u65e5.\u672c.\u8a9e", True, "CJK"),
    ("a.b.c.d.e.f.g.?", "a.b.c.d.e.f.g.h", True, "eight chunks, last ?"),
    ("?.?.?.?.?.?.?", "a.b.c.d.e.f.g.h", False, "seven ? vs eight chunks"),
]


def gen_match(kind):
    if kind == "topic":
        f = VectorFile("topic_match.json", "topic",
                       "Subscription pattern vs publication topic. Both split "
                       "on '/'; empty chunks are ordinary; a chunk exactly '+' "
                       "matches one chunk; a chunk exactly '#' matches one or "
                       "more remaining chunks and ends the pattern; other "
                       "chunks match only equal bytes; the whole topic must be "
                       "consumed.")
        sep, one, many, ids, model = "/", "+", "#", TOPIC_IDS, m_topic
        keys = ("pattern", "topic")
        hand, alpha, seed, n_random = TOPIC_HAND, "ab/+#", 0xB500B, 400
    else:
        f = VectorFile("mask_match.json", "mask",
                       "Broadcast mask vs client name. Both split on '.'; empty "
                       "chunks are ordinary; a chunk exactly '?' matches one "
                       "chunk; a chunk exactly '*' matches one or more remaining "
                       "chunks and ends the mask; other chunks match only equal "
                       "bytes; the whole name must be consumed.")
        sep, one, many, ids, model = ".", "?", "*", MASK_IDS, m_mask
        keys = ("mask", "name")
        hand, alpha, seed, n_random = MASK_HAND, "ab.?*", 0xB500C, 200

    def add(origin, d, p, s):
        e = model(p, s)
        return f.add(origin, match_req(p, s, sep, one, many, ids), d,
                     {keys[0]: p, keys[1]: s}, e, dedup=(p, s))

    if kind == "mask":
        for mask, reached in MASK_FACTS:
            for name in MASK_NAMES:
                want = name in reached
                got = model(mask, name)["match"]
                if got != want:
                    sys.exit("model disagrees with a documented example: %r vs %r"
                             % (mask, name))
                add("hand", "documented example: %s %s %s" % (
                    mask, "reaches" if want else "does not reach", name),
                    mask, name)
    for p, s, want, d in hand:
        got = model(p, s)["match"]
        if got != want:
            sys.exit("model disagrees with hand label: %r vs %r" % (p, s))
        if not add("hand", d, p, s):
            sys.exit("duplicate hand case: %r vs %r" % (p, s))
    rng = random.Random(seed)
    plain = alpha.replace(one, "").replace(many, "")
    count = 0
    while count < n_random:
        if rng.randrange(2):
            p = "".join(rng.choice(alpha) for _ in range(rng.randrange(7)))
            s = "".join(rng.choice(alpha) for _ in range(rng.randrange(7)))
            d = "random pattern and subject"
        else:
            s = "".join(rng.choice(plain) for _ in range(rng.randrange(7)))
            pc = s.split(sep)
            for i in range(len(pc)):
                r = rng.randrange(6)
                if r == 0:
                    pc[i] = one
                elif r == 1:
                    pc[i] = many
                elif r == 2:
                    pc[i] = rng.choice(plain.replace(sep, ""))
            if rng.randrange(4) == 0:
                pc.append(rng.choice((one, many, "a")))
            elif rng.randrange(4) == 0 and len(pc) > 1:
                pc.pop()
            p = sep.join(pc)
            d = "random subject, pattern derived from it"
        if add("random", d, p, s):
            count += 1
    return f


# ---- rpc.json --------------------------------------------------------------

def gen_rpc():
    f = VectorFile("rpc.json", "rpc",
                   "RPC layer header in a message payload. 00 notification: "
                   "data = rest. 01 request (>= 5 bytes): call id u32 LE, method "
                   "up to the first NUL at offset >= 5, data after that NUL. 11 "
                   "reply (>= 5 bytes): call id, data. 12 error (>= 7 bytes): "
                   "call id, code i16 LE signed, data. Errors: short (empty, or "
                   "fewer bytes than the kind's fixed fields), rpc_kind (other "
                   "first byte, checked before length), nosep (request without "
                   "NUL after the method).")

    def req_of(b, e):
        # the layout of the kind; a payload the endpoint cannot use
        # (empty, unknown kind, short, request without NUL) is REQ-RPC-9
        r = [] if not b else {0x00: ["REQ-RPC-1"], 0x01: ["REQ-RPC-2"],
                              0x11: ["REQ-RPC-3"],
                              0x12: ["REQ-RPC-4"]}.get(b[0], [])
        if "error" in e:
            r.append("REQ-RPC-9")
        return r

    def add(origin, d, b):
        e = m_rpc(b)
        return f.add(origin, req_of(b, e), d, input_field(b), e, dedup=b)

    hand = [
        ("", "empty payload"),
        ("00", "notification without data"),
        ("00 6162", "notification with data"),
        ("00 00", "notification whose data is one NUL"),
        ("00 01000000 74657374 00", "notification data that looks like a call"),
        ("01", "request: kind only"),
        ("01 010000", "request: 4 bytes"),
        ("01 01000000", "request: 5 bytes, no method, no NUL"),
        ("01 01000000 74657374", "request: method without NUL"),
        ("01 01000000 74657374 00", "request test, call id 1, no params"),
        ("01 02000000 74657374 00 80", "request test with params {}"),
        ("01 00000000 74657374 00", "call0: call id 0"),
        ("01 ffffffff 74657374 00", "call id 0xFFFFFFFF"),
        ("01 01020304 6d 00", "call id bytes are little-endian"),
        ("01 01000000 00", "empty method"),
        ("01 01000000 00 6162", "empty method with params"),
        ("01 00010000 74657374 00", "NUL bytes in the call id are not the separator"),
        ("01 00000000 00", "call id 0, empty method, 6 bytes"),
        ("01 01000000 6d 00 61 00 62", "params keep later NULs"),
        ("01 01000000 636c69656e742e6c697374 00 81a666696c746572a3612e2a",
         "client.list with a filter"),
        ("01 05000000 62656e63686d61726b2e74657374 00 000102",
         "benchmark.test echo params"),
        ("01 01000000 ff 00", "method bytes are not UTF-8 checked"),
        ("11", "reply: kind only"),
        ("11 010000", "reply: 4 bytes"),
        ("11 01000000", "reply without result"),
        ("11 01000000 81a26f6bc3", "broker test reply {\"ok\": true}"),
        ("11 ffffffff 00", "reply, call id 0xFFFFFFFF, result NUL"),
        ("11 00000000", "reply to call id 0"),
        ("12", "error: kind only"),
        ("12 01000000", "error: 5 bytes"),
        ("12 01000000 a7", "error: 6 bytes"),
        ("12 01000000 0080 00", "error message is one NUL"),
        ("02", "kind 02, one byte"),
        ("02 01000000 00", "kind 02"),
        ("10 01000000", "kind 10"),
        ("13 01000000 0000", "kind 13"),
        ("21", "kind 21"),
        ("ff", "kind FF"),
        ("fe 01000000 01", "an ACK is not an RPC payload"),
        ("81a26f6bc3", "bare msgpack is not an RPC payload"),
    ]
    for hx, d in hand:
        if not add("hand", d, h(hx)):
            sys.exit("duplicate rpc hand case %s" % hx)
    # error replies: the code bytes are computed here from the number, so
    # that a description can never disagree with its bytes
    for code, d in ((-32601, "method not found"), (-32700, "parse"),
                    (-32600, "invalid request"), (-32602, "invalid params"),
                    (-32603, "internal"), (-32001, "not found"),
                    (-32000 - 0x71, "-32000 - 0x71, not registered ACK"),
                    (-32000 - 0x77, "-32000 - 0x77, not delivered ACK"),
                    (-32000 - 0x79, "-32000 - 0x79, access ACK"),
                    (0, "zero"), (1, "one"), (-1, "minus one"),
                    (32767, "largest"), (-32768, "smallest"),
                    (-31969, "bytes 1f 83: not -32601")):
        code_le = code.to_bytes(2, "little", signed=True)
        add("hand", "error %d (%s), LE bytes %s" % (code, d, code_le.hex()),
            h("12 01000000") + code_le)
    add("hand", "error -32601 with a message",
        h("12 01000000") + (-32601).to_bytes(2, "little", signed=True)
        + b"method not found")
    for k in range(256):
        add("enum", "first byte %02x, then id 1, m NUL, x" % k,
            bytes([k]) + h("01000000 6d 00 78"))
    rng = random.Random(0xB500D)
    count = 0
    while count < 80:
        kind = rng.choice(RPC_KINDS + RPC_KINDS + (0x02, 0x13))
        n = rng.randrange(0, 11)
        b = bytes([kind]) + bytes(rng.choice((0x00, 0x00, 0x6D, 0xFF,
                                              rng.randrange(256)))
                                  for _ in range(n))
        if add("random", "random payload", b):
            count += 1
    return f


# ===========================================================================
# Output
# ===========================================================================

# The sections of spec/busrt-v1.md whose requirements each vector file may
# be tagged with; a section admits its subsections ("6" admits "6.2").
# `make spec-check` (scripts/spec-check.py) reads this table and fails when
# a vector carries a requirement defined anywhere else.
VECTOR_REQ_SECTIONS = {
    "greeting.json": ["4.1"],
    "name.json": ["4.3", "5.6"],
    "name_len.json": ["4.2"],
    "client_header.json": ["5.1", "5.2", "5.4", "5.5", "17.3", "17.8"],
    "frame_header.json": ["6.1", "6.2", "6.4", "6.5", "16.1"],
    "ack.json": ["6.5"],
    "client_body.json": ["5.2", "5.5", "17.3"],
    "frame_body.json": ["6.1", "6.3", "6.4", "6.5"],
    "topic_list.json": ["5.5", "17.4"],
    "utf8.json": ["5.6"],
    "topic_match.json": ["8.4", "17.5", "17.6"],
    "mask_match.json": ["8.3", "17.6"],
    "rpc.json": ["12.1", "12.2"],
}

GENERATORS = [gen_greeting, gen_name, gen_name_len, gen_client_header,
              gen_frame_header, gen_ack, gen_client_body, gen_frame_body,
              gen_topic_list, gen_utf8, lambda: gen_match("topic"),
              lambda: gen_match("mask"), gen_rpc]


def build():
    files = [g() for g in GENERATORS]
    ids = set()
    for f in files:
        if f.name not in VECTOR_REQ_SECTIONS:
            sys.exit("%s: no entry in VECTOR_REQ_SECTIONS" % f.name)
        for v in f.vectors:
            if v["id"] in ids:
                sys.exit("duplicate id %s" % v["id"])
            ids.add(v["id"])
    return {f.name: json.dumps(f.document(), sort_keys=True, indent=1,
                               ensure_ascii=False) + "\n" for f in files}, files


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] and not check:
        sys.stderr.write("usage: gen.py [--check]\n")
        return 2
    texts, files = build()
    if check:
        bad = []
        for name, text in sorted(texts.items()):
            path = os.path.join(HERE, name)
            try:
                with open(path, encoding="utf-8", newline="") as fh:
                    on_disk = fh.read()
            except OSError:
                bad.append("%s: missing" % name)
                continue
            if on_disk != text:
                bad.append("%s: differs from the generator's output" % name)
        for name in sorted(os.listdir(HERE)):
            if name.endswith(".json") and name not in texts:
                bad.append("%s: not produced by the generator" % name)
        if bad:
            sys.stderr.write("vector files are stale; run python3 "
                             "spec/vectors/gen.py\n  " + "\n  ".join(bad) + "\n")
            return 1
        print("%d vector files up to date" % len(texts))
        return 0
    for name, text in sorted(texts.items()):
        with open(os.path.join(HERE, name), "w", encoding="utf-8",
                  newline="\n") as fh:
            fh.write(text)
    total = 0
    for f in files:
        by = {}
        for v in f.vectors:
            by[v["origin"]] = by.get(v["origin"], 0) + 1
        total += len(f.vectors)
        print("%-20s %5d  (hand %d, enum %d, random %d)" % (
            f.name, len(f.vectors), by.get("hand", 0), by.get("enum", 0),
            by.get("random", 0)))
    print("%-20s %5d" % ("total", total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
