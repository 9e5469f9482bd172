/* Differential harness of the third-party kit: every function of
 * busrt_kit.h against the reference core (ref/include/busrt/), on the same
 * bytes. Built for libFuzzer (clang -fsanitize=fuzzer) and AFL++
 * (afl-clang-fast -fsanitize=fuzzer, AFL++'s libFuzzer driver), or with
 * kit_pipe.c for an implementation in any language (fuzz/README.md); any
 * difference prints both results and aborts, so both fuzzers keep the
 * input as a crash.
 *
 * Input: byte 0 selects the check (byte 0 mod 9), the rest is its data:
 *   0  4-byte max_body (LE), client frame: header decode, then the body
 *      split (and the pattern list) of the body bytes present
 *   1  4-byte max_body (LE), broker frame: ACK decode when byte 0 is FE
 *      (the header decoder must then say KIT_ERR_KIND), else header
 *      decode and the body split of the body bytes present
 *   2  pattern NUL topic: topic match (the topic ends at its next NUL)
 *   3  mask NUL name: mask match (the name ends at its next NUL)
 *   4  bytes: UTF-8
 *   5  bytes: name check
 *   6  bytes: pattern list split
 *   7  op byte, body: client body split with any op
 *   8  kind byte, body: delivered body split with any kind */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busrt/frame.h"
#include "busrt/le.h"
#include "busrt/match.h"
#include "busrt/utf8.h"
#include "busrt_kit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set by the pipe mode (kit_pipe.c) while it plans a batch of requests,
 * whose answers are the reference core's own: DIFF() then does nothing. */
int kit_diff_planning = 0;

static const uint8_t *g_in;
static size_t g_in_len;

static void dump_input(void)
{
    fprintf(stderr, "  input (%zu bytes, selector byte included):", g_in_len);
    for (size_t i = 0; i < g_in_len && i < 512; i++) {
        fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n    " : " ", g_in[i]);
    }
    fprintf(stderr, "%s\n", g_in_len > 512 ? " ..." : "");
}

#define DIFF(fn, ...)                                                                    \
    do {                                                                                 \
        if (kit_diff_planning) {                                                         \
            break;                                                                       \
        }                                                                                \
        fprintf(stderr, "kit_diff: DIFFERENCE in %s\n", fn);                             \
        dump_input();                                                                    \
        fprintf(stderr, __VA_ARGS__);                                                    \
        abort();                                                                         \
    } while (0)

static int same_span(struct busrt_span a, struct kit_span b)
{
    return a.off == b.off && a.len == b.len;
}

static void check_list(const uint8_t *body, size_t len)
{
    enum { CAP = 64 };
    struct kit_span items[CAP];
    memset(items, 0xA5, sizeof items);
    int n = kit_list_split(body, len, items, CAP);
    size_t pos = 0, k = 0;
    struct busrt_span it;
    while (busrt_list_next(body, len, &pos, &it) == 1) {
        if (k < CAP && (int)k < n && !same_span(it, items[k])) {
            DIFF("kit_list_split", "  item %zu: reference [%zu, +%zu), yours [%zu, +%zu)\n", k,
                 it.off, it.len, items[k].off, items[k].len);
        }
        k++;
    }
    if (n < 0 || (size_t)n != k) {
        DIFF("kit_list_split", "  reference %zu items, yours %d\n", k, n);
    }
}

static void check_client_body(uint8_t op, const uint8_t *body, size_t len)
{
    struct busrt_client_body r;
    struct kit_span t = {0, 0}, rc = {0, 0}, p = {0, 0};
    int ref = busrt_client_body_split(op, body, len, &r);
    int yours = kit_client_body_split(op, body, len, &t, &rc, &p);
    if (ref != yours) {
        DIFF("kit_client_body_split", "  op 0x%02x, %zu body bytes\n  reference: %d (%s)\n"
             "  yours:     %d (%s)\n", op, len, ref, busrt_strerror(ref), yours,
             busrt_strerror(yours));
    }
    if (ref != 0) {
        return;
    }
    int sub = op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE;
    if (!same_span(r.target, t) || (op == BUSRT_OP_PUBLISH_FOR && !same_span(r.receiver, rc)) ||
        (!sub && !same_span(r.payload, p))) {
        DIFF("kit_client_body_split",
             "  op 0x%02x, %zu body bytes\n"
             "  reference: target [%zu, +%zu) receiver [%zu, +%zu) payload [%zu, +%zu)\n"
             "  yours:     target [%zu, +%zu) receiver [%zu, +%zu) payload [%zu, +%zu)\n"
             "  (receiver compared for publish-for only, payload not for subscribe-family)\n",
             op, len, r.target.off, r.target.len, r.receiver.off, r.receiver.len, r.payload.off,
             r.payload.len, t.off, t.len, rc.off, rc.len, p.off, p.len);
    }
    if (sub && (kit_features() & KIT_F_LIST) != 0) {
        check_list(body, len);
    }
}

static void check_frame_body(uint8_t kind, const uint8_t *body, size_t len)
{
    struct busrt_frame_body r;
    struct kit_span s = {0, 0}, t = {0, 0}, p = {0, 0};
    int ref = busrt_frame_body_split(kind, body, len, &r);
    int yours = kit_frame_body_split(kind, body, len, &s, &t, &p);
    if (ref != yours) {
        DIFF("kit_frame_body_split", "  kind 0x%02x, %zu body bytes\n  reference: %d (%s)\n"
             "  yours:     %d (%s)\n", kind, len, ref, busrt_strerror(ref), yours,
             busrt_strerror(yours));
    }
    if (ref == 0 && (!same_span(r.sender, s) || !same_span(r.payload, p) ||
                     (kind == BUSRT_KIND_PUBLISH && !same_span(r.topic, t)))) {
        DIFF("kit_frame_body_split",
             "  kind 0x%02x, %zu body bytes\n"
             "  reference: sender [%zu, +%zu) topic [%zu, +%zu) payload [%zu, +%zu)\n"
             "  yours:     sender [%zu, +%zu) topic [%zu, +%zu) payload [%zu, +%zu)\n",
             kind, len, r.sender.off, r.sender.len, r.topic.off, r.topic.len, r.payload.off,
             r.payload.len, s.off, s.len, t.off, t.len, p.off, p.len);
    }
}

static void check_client_frame(const uint8_t *d, size_t n)
{
    if (n < 4) {
        return;
    }
    const uint32_t max_body = busrt_get_le32(d);
    d += 4;
    n -= 4;
    struct busrt_client_header h;
    int ref = busrt_client_header_decode(d, n, max_body, &h);
    uint32_t id = 0, blen = 0;
    uint8_t op = 0, qos = 0;
    int yours = kit_client_header_decode(d, n, max_body, &id, &op, &qos, &blen);
    if (ref != yours) {
        DIFF("kit_client_header_decode", "  max_body %u\n  reference: %d (%s)\n"
             "  yours:     %d (%s)\n", max_body, ref, busrt_strerror(ref), yours,
             busrt_strerror(yours));
    }
    if (ref != 9) {
        return;
    }
    const uint32_t rblen = busrt_client_body_len(&h);
    if (h.op_id != id || h.op != op || h.qos != qos || rblen != blen) {
        DIFF("kit_client_header_decode",
             "  max_body %u\n  reference: op_id 0x%08x op 0x%02x qos %u body_len %u\n"
             "  yours:     op_id 0x%08x op 0x%02x qos %u body_len %u\n",
             max_body, h.op_id, h.op, h.qos, rblen, id, op, qos, blen);
    }
    if (rblen > 0 && (kit_features() & KIT_F_CLIENT_BODY) != 0) {
        size_t avail = n - 9;
        check_client_body(h.op, d + 9, rblen < avail ? rblen : avail);
    }
}

static void check_broker_frame(const uint8_t *d, size_t n)
{
    if (n < 4) {
        return;
    }
    const uint32_t max_body = busrt_get_le32(d);
    d += 4;
    n -= 4;
    const unsigned f = kit_features();
    if (n > 0 && d[0] == BUSRT_ACK_MARKER && (f & KIT_F_ACK) != 0) {
        struct busrt_ack a;
        uint32_t id = 0;
        uint8_t code = 0;
        int ref = busrt_ack_decode(d, n, &a);
        int yours = kit_ack_decode(d, n, &id, &code);
        if (ref != yours || (ref == 6 && (a.op_id != id || a.code != code))) {
            DIFF("kit_ack_decode", "  reference: %d op_id 0x%08x code 0x%02x\n"
                 "  yours:     %d op_id 0x%08x code 0x%02x\n", ref,
                 ref == 6 ? a.op_id : 0, ref == 6 ? a.code : 0, yours, id, code);
        }
    }
    if ((f & KIT_F_FRAME_HEADER) == 0) {
        return;
    }
    struct busrt_frame_header h;
    int ref = busrt_frame_header_decode(d, n, max_body, &h);
    uint8_t kind = 0, rt = 0;
    uint32_t blen = 0;
    int yours = kit_frame_header_decode(d, n, max_body, &kind, &blen, &rt);
    if (ref != yours) {
        DIFF("kit_frame_header_decode", "  max_body %u\n  reference: %d (%s)\n"
             "  yours:     %d (%s)\n", max_body, ref, busrt_strerror(ref), yours,
             busrt_strerror(yours));
    }
    if (ref != 6) {
        return;
    }
    const uint32_t rblen = h.kind == BUSRT_KIND_NOP ? 0u : h.body_len;
    if (h.kind != kind || h.realtime != rt || rblen != blen) {
        DIFF("kit_frame_header_decode",
             "  max_body %u\n  reference: kind 0x%02x body_len %u realtime %u\n"
             "  yours:     kind 0x%02x body_len %u realtime %u\n",
             max_body, h.kind, rblen, h.realtime, kind, blen, rt);
    }
    if (h.kind != BUSRT_KIND_NOP && (f & KIT_F_FRAME_BODY) != 0) {
        size_t avail = n - 6;
        check_frame_body(h.kind, d + 6, rblen < avail ? rblen : avail);
    }
}

/* pattern NUL subject; the subject ends at its next NUL. */
static void check_match(int mask, const uint8_t *d, size_t n)
{
    const uint8_t *nul = memchr(d, 0, n);
    size_t pl = nul != NULL ? (size_t)(nul - d) : n;
    const uint8_t *s = nul != NULL ? nul + 1 : d + n;
    size_t rest = n - pl - (nul != NULL ? 1u : 0u);
    const uint8_t *end = memchr(s, 0, rest);
    size_t sl = end != NULL ? (size_t)(end - s) : rest;
    int ref = mask ? busrt_mask_matches(d, pl, s, sl) : busrt_topic_matches(d, pl, s, sl);
    int yours = mask ? kit_mask_match(d, pl, s, sl) : kit_topic_match(d, pl, s, sl);
    if (ref != yours) {
        DIFF(mask ? "kit_mask_match" : "kit_topic_match",
             "  %s \"%.*s\" (%zu bytes), %s \"%.*s\" (%zu bytes)\n  reference: %d\n"
             "  yours:     %d\n", mask ? "mask" : "pattern", (int)pl, (const char *)d, pl,
             mask ? "name" : "topic", (int)sl, (const char *)s, sl, ref, yours);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    g_in = data;
    g_in_len = size;
    const unsigned f = kit_features();
    const uint8_t *d = data + 1;
    const size_t n = size - 1;
    switch (data[0] % 9u) {
    case 0:
        if ((f & KIT_F_CLIENT_HEADER) != 0) {
            check_client_frame(d, n);
        }
        break;
    case 1:
        check_broker_frame(d, n);
        break;
    case 2:
        if ((f & KIT_F_TOPIC) != 0) {
            check_match(0, d, n);
        }
        break;
    case 3:
        if ((f & KIT_F_MASK) != 0) {
            check_match(1, d, n);
        }
        break;
    case 4:
        if ((f & KIT_F_UTF8) != 0 && busrt_utf8_valid(d, n) != kit_utf8_valid(d, n)) {
            DIFF("kit_utf8_valid", "  reference: %d\n  yours:     %d\n", busrt_utf8_valid(d, n),
                 kit_utf8_valid(d, n));
        }
        break;
    case 5:
        if ((f & KIT_F_NAME) != 0) {
            int ref = busrt_name_check(d, n) == 0;
            if (ref != kit_name_valid(d, n)) {
                DIFF("kit_name_valid", "  reference: %d\n  yours:     %d\n", ref,
                     kit_name_valid(d, n));
            }
        }
        break;
    case 6:
        if ((f & KIT_F_LIST) != 0) {
            check_list(d, n);
        }
        break;
    case 7:
        if (n >= 1 && (f & KIT_F_CLIENT_BODY) != 0) {
            check_client_body(d[0], d + 1, n - 1);
        }
        break;
    default:
        if (n >= 1 && (f & KIT_F_FRAME_BODY) != 0) {
            check_frame_body(d[0], d + 1, n - 1);
        }
        break;
    }
    return 0;
}
