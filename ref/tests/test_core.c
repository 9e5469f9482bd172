/* Hand-written edge cases for the core, and exhaustive comparisons of the
 * matchers and the UTF-8 validator against independent models written
 * directly from the spec's rules (not from the core's code). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "busrt/frame.h"
#include "busrt/match.h"
#include "busrt/mpack.h"
#include "busrt/rpcproto.h"
#include "busrt/utf8.h"
#include "model/model.h"

#define U8(s) ((const uint8_t *)(s))

/* ---- handshake --------------------------------------------------------- */

static void t_greeting(void **state)
{
    (void)state;
    uint8_t out[3] = {0, 0, 0};
    assert_int_equal(busrt_greeting_encode(out, 2), BUSRT_ERR_SPACE);
    assert_int_equal(out[0], 0);
    assert_int_equal(busrt_greeting_encode(out, 3), 3);
    assert_memory_equal(out, "\xEB\x01\x00", 3);
    assert_int_equal(busrt_greeting_decode(out, 3), 3);
    assert_int_equal(busrt_greeting_decode(out, 0), BUSRT_ERR_SHORT);
    assert_int_equal(busrt_greeting_decode(U8("\xEB\x02\x00"), 3), BUSRT_ERR_VERSION);
    assert_int_equal(busrt_greeting_decode(U8("\xEB\x01\x01"), 3), BUSRT_ERR_VERSION);
    assert_int_equal(busrt_greeting_decode(U8("\xEA\x01\x00"), 3), BUSRT_ERR_GREETING);
}

static void t_name_len_limits(void **state)
{
    (void)state;
    uint8_t out[2] = {0x55, 0x55};
    assert_int_equal(busrt_name_len_encode(65536u, out, 2), BUSRT_ERR_LIMIT);
    assert_int_equal(busrt_name_len_encode(SIZE_MAX, out, 2), BUSRT_ERR_LIMIT);
    assert_int_equal(out[0], 0x55);
    assert_int_equal(busrt_name_len_encode(65535u, out, 1), BUSRT_ERR_SPACE);
    assert_int_equal(busrt_name_len_encode(65535u, out, 2), 2);
    assert_memory_equal(out, "\xFF\xFF", 2);
    uint16_t n = 0;
    assert_int_equal(busrt_name_len_decode(out, 2, &n), 2);
    assert_int_equal(n, 65535);
    assert_int_equal(busrt_name_len_decode(out, 1, &n), BUSRT_ERR_SHORT);
}

static void t_name_check(void **state)
{
    (void)state;
    uint8_t *big = malloc(65535u);
    assert_non_null(big);
    memset(big, 'a', 65535u);
    assert_int_equal(busrt_name_check(big, 65535u), 0);
    big[65534] = 0xC3; /* truncated two-byte sequence at the very end */
    assert_int_equal(busrt_name_check(big, 65535u), BUSRT_ERR_UTF8);
    free(big);
    assert_int_equal(busrt_name_check(U8(""), 0), BUSRT_ERR_NAME);
    assert_int_equal(busrt_name_check(U8(".broker"), 7), BUSRT_ERR_NAME);
    assert_int_equal(busrt_name_check(U8(".\xFF"), 2), BUSRT_ERR_NAME);
    assert_int_equal(busrt_name_check(U8("a.\xFF"), 3), BUSRT_ERR_UTF8);
    assert_int_equal(busrt_name_check(U8("g.s.c"), 5), 0);
    assert_int_equal(busrt_name_check(U8("\xC3\xA9t\xC3\xA9"), 6), 0);
}

static void t_primary_len(void **state)
{
    (void)state;
    assert_int_equal(busrt_name_primary_len(U8("app%%w1"), 7), 3);
    assert_int_equal(busrt_name_primary_len(U8("app"), 3), 3);
    assert_int_equal(busrt_name_primary_len(U8("a%b%%c%%d"), 9), 3);
    assert_int_equal(busrt_name_primary_len(U8("%%"), 2), 0);
    assert_int_equal(busrt_name_primary_len(U8("ab%"), 3), 3);
    assert_int_equal(busrt_name_primary_len(U8("ab%%"), 4), 2);
    assert_int_equal(busrt_name_primary_len(U8(""), 0), 0);
}

/* ---- client header ----------------------------------------------------- */

static int model_op_valid(unsigned op)
{
    return op <= 6u || op == 0x12u || op == 0x13u;
}

/* Every flags byte, with lengths at the limit's edges. */
static void t_client_header_all_flags(void **state)
{
    (void)state;
    static const uint32_t lens[] = {0u, 1u, 100u, 0xFFFFFFFEu, 0xFFFFFFFFu};
    for (unsigned flags = 0; flags < 256u; flags++) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            uint32_t len = lens[li];
            uint8_t buf[9] = {0x78, 0x56, 0x34, 0x12, (uint8_t)flags,
                              (uint8_t)(len % 256u), (uint8_t)((len / 256u) % 256u),
                              (uint8_t)((len / 65536u) % 256u), (uint8_t)(len / 16777216u)};
            struct busrt_client_header h = {0, 0, 0, 0};
            int rc = busrt_client_header_decode(buf, 9, 100u, &h);
            unsigned op = flags % 64u;
            if (!model_op_valid(op)) {
                assert_int_equal(rc, BUSRT_ERR_OP);
                assert_int_equal(h.op_id, 0u); /* untouched on failure */
            } else if (flags != 0u && len > 100u) {
                assert_int_equal(rc, BUSRT_ERR_LIMIT);
            } else {
                assert_int_equal(rc, 9);
                assert_int_equal(h.op_id, 0x12345678u);
                assert_int_equal(h.op, op);
                assert_int_equal(h.qos, flags / 64u);
                assert_int_equal(h.body_len, len);
                assert_int_equal(busrt_client_body_len(&h), flags == 0u ? 0u : len);
                uint8_t out[9];
                assert_int_equal(busrt_client_header_encode(&h, out, 9), 9);
                assert_memory_equal(out, buf, 9);
            }
            for (size_t short_len = 0; short_len < 9; short_len++) {
                assert_int_equal(busrt_client_header_decode(buf, short_len, 100u, &h),
                                 BUSRT_ERR_SHORT);
            }
        }
    }
}

static void t_client_header_max_length(void **state)
{
    (void)state;
    /* A u32 length of 0xFFFFFFFF is rejected against any smaller limit and
     * only reported (never acted on) when the limit allows it. */
    const uint8_t buf[9] = {1, 0, 0, 0, 0x12, 0xFF, 0xFF, 0xFF, 0xFF};
    struct busrt_client_header h;
    assert_int_equal(busrt_client_header_decode(buf, 9, 0xFFFFFFFEu, &h), BUSRT_ERR_LIMIT);
    assert_int_equal(busrt_client_header_decode(buf, 9, 0u, &h), BUSRT_ERR_LIMIT);
    assert_int_equal(busrt_client_header_decode(buf, 9, 0xFFFFFFFFu, &h), 9);
    assert_int_equal(h.body_len, 0xFFFFFFFFu);
    /* the ping ignores its length field entirely */
    const uint8_t ping[9] = {0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(busrt_client_header_decode(ping, 9, 0u, &h), 9);
    assert_int_equal(busrt_client_body_len(&h), 0u);
    /* op 0 with a QoS carries a body, so the limit applies */
    const uint8_t op0q[9] = {0, 0, 0, 0, 0x40, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(busrt_client_header_decode(op0q, 9, 10u, &h), BUSRT_ERR_LIMIT);
}

static void t_client_header_encode_errors(void **state)
{
    (void)state;
    uint8_t out[9];
    struct busrt_client_header h = {1u, BUSRT_OP_PUBLISH, 4u, 0u};
    assert_int_equal(busrt_client_header_encode(&h, out, 9), BUSRT_ERR_ARG);
    h.qos = 3u;
    h.op = 0x07u;
    assert_int_equal(busrt_client_header_encode(&h, out, 9), BUSRT_ERR_OP);
    h.op = BUSRT_OP_BROADCAST;
    assert_int_equal(busrt_client_header_encode(&h, out, 8), BUSRT_ERR_SPACE);
    assert_int_equal(busrt_client_header_encode(&h, out, 9), 9);
    assert_int_equal(out[4], 0xD3);
}

/* ---- delivered header and ACK -------------------------------------------- */

static void t_frame_header(void **state)
{
    (void)state;
    for (unsigned kind = 0; kind < 256u; kind++) {
        uint8_t buf[6] = {(uint8_t)kind, 0x10, 0, 0, 0, 1};
        struct busrt_frame_header h;
        int rc = busrt_frame_header_decode(buf, 6, 0x0Fu, &h);
        int valid = kind == 0u || kind == 1u || kind == 0x12u || kind == 0x13u;
        if (!valid) {
            assert_int_equal(rc, BUSRT_ERR_KIND);
        } else if (kind != 0u) {
            assert_int_equal(rc, BUSRT_ERR_LIMIT);
            assert_int_equal(busrt_frame_header_decode(buf, 6, 0x10u, &h), 6);
            assert_int_equal(h.body_len, 0x10u);
            uint8_t out[6];
            assert_int_equal(busrt_frame_header_encode(&h, out, 6), 6);
            assert_memory_equal(out, buf, 6);
        } else {
            assert_int_equal(rc, 6); /* NOP length is not a body */
        }
        assert_int_equal(busrt_frame_header_decode(buf, 5, 0x10u, &h), BUSRT_ERR_SHORT);
    }
    struct busrt_frame_header h = {BUSRT_KIND_MESSAGE, 5u, 2u};
    uint8_t out[6];
    assert_int_equal(busrt_frame_header_encode(&h, out, 6), BUSRT_ERR_ARG);
    h.realtime = 1u;
    assert_int_equal(busrt_frame_header_encode(&h, out, 5), BUSRT_ERR_SPACE);
    h.kind = 0xFEu;
    assert_int_equal(busrt_frame_header_encode(&h, out, 6), BUSRT_ERR_KIND);
}

static void t_ack(void **state)
{
    (void)state;
    struct busrt_ack a = {0xDEADBEEFu, BUSRT_RC_NOT_DELIVERED}, b = {0, 0};
    uint8_t out[6];
    assert_int_equal(busrt_ack_encode(&a, out, 5), BUSRT_ERR_SPACE);
    assert_int_equal(busrt_ack_encode(&a, out, 6), 6);
    assert_memory_equal(out, "\xFE\xEF\xBE\xAD\xDE\x77", 6);
    assert_int_equal(busrt_ack_decode(out, 6, &b), 6);
    assert_int_equal(b.op_id, a.op_id);
    assert_int_equal(b.code, a.code);
    out[0] = 0x12;
    assert_int_equal(busrt_ack_decode(out, 6, &b), BUSRT_ERR_MARKER);
    assert_int_equal(busrt_ack_decode(out, 5, &b), BUSRT_ERR_SHORT);
}

/* ---- bodies -------------------------------------------------------------- */

static void t_body_split(void **state)
{
    (void)state;
    struct busrt_client_body b;
    assert_int_equal(busrt_client_body_split(0x12, U8("t\0p\0q"), 5, &b), 0);
    assert_int_equal(b.target.len, 1);
    assert_int_equal(b.payload.off, 2);
    assert_int_equal(b.payload.len, 3); /* split at the first NUL only */
    assert_int_equal(busrt_client_body_split(0x12, U8("\0"), 1, &b), 0);
    assert_int_equal(b.target.len, 0);
    assert_int_equal(b.payload.len, 0);
    assert_int_equal(busrt_client_body_split(0x13, U8("abc"), 3, &b), BUSRT_ERR_NOSEP);
    assert_int_equal(busrt_client_body_split(0x01, U8(""), 0, &b), BUSRT_ERR_NOSEP);
    assert_int_equal(busrt_client_body_split(0x00, U8(""), 0, &b), BUSRT_ERR_NOSEP);
    assert_int_equal(busrt_client_body_split(0x06, U8("t\0r"), 3, &b), BUSRT_ERR_NOSEP);
    assert_int_equal(busrt_client_body_split(0x06, U8("t\0r\0"), 4, &b), 0);
    assert_int_equal(b.receiver.off, 2);
    assert_int_equal(b.receiver.len, 1);
    assert_int_equal(b.payload.off, 4);
    assert_int_equal(b.payload.len, 0);
    assert_int_equal(busrt_client_body_split(0x06, U8("\0\0"), 2, &b), 0);
    assert_int_equal(b.target.len + b.receiver.len + b.payload.len, 0);
    assert_int_equal(busrt_client_body_split(0x02, U8(""), 0, &b), 0);
    assert_int_equal(b.target.len, 0);
    assert_int_equal(busrt_client_body_split(0x07, U8("a\0b"), 3, &b), BUSRT_ERR_OP);

    struct busrt_frame_body f;
    assert_int_equal(busrt_frame_body_split(0x01, U8("s\0t\0p"), 5, &f), 0);
    assert_int_equal(f.topic.off, 2);
    assert_int_equal(f.topic.len, 1);
    assert_int_equal(f.payload.off, 4);
    assert_int_equal(busrt_frame_body_split(0x01, U8("s\0t"), 3, &f), BUSRT_ERR_NOSEP);
    assert_int_equal(busrt_frame_body_split(0x00, U8("s\0t"), 3, &f), BUSRT_ERR_KIND);
    assert_int_equal(busrt_frame_body_split(0x13, U8("s\0"), 2, &f), 0);
    assert_int_equal(f.payload.len, 0);
}

static void collect(const char *body, size_t len, char items[][8], size_t *n)
{
    size_t pos = 0;
    struct busrt_span it;
    *n = 0;
    while (busrt_list_next(U8(body), len, &pos, &it) == 1) {
        assert_true(*n < 8 && it.len < 8);
        memcpy(items[*n], body + it.off, it.len);
        items[*n][it.len] = '\0';
        (*n)++;
    }
    /* exhausted stays exhausted */
    assert_int_equal(busrt_list_next(U8(body), len, &pos, &it), 0);
}

static void t_list(void **state)
{
    (void)state;
    char items[8][8];
    size_t n;
    collect("", 0, items, &n);
    assert_int_equal(n, 1);
    assert_string_equal(items[0], "");
    collect("a\0b", 3, items, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[1], "b");
    collect("a\0", 2, items, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[1], "");
    collect("\0\0", 2, items, &n);
    assert_int_equal(n, 3);
    assert_int_equal(busrt_nul_find(U8("ab\0"), 3, 3), 3);
    assert_int_equal(busrt_nul_find(U8("ab\0"), 3, 0), 2);
}

/* ---- matchers against an independent model ------------------------------- */

/* Writes string number k (base-|alpha| digits, length len) into out. */
static void nth_string(const char *alpha, size_t na, size_t len, size_t k, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[i] = alpha[k % na];
        k /= na;
    }
}

static size_t ipow(size_t b, size_t e)
{
    size_t r = 1;
    while (e-- > 0) r *= b;
    return r;
}

typedef int (*match_fn)(const uint8_t *, size_t, const uint8_t *, size_t);

static void exhaustive(const char *alpha, match_fn fn, match_fn model, size_t maxp,
                       size_t maxt)
{
    size_t na = strlen(alpha), checked = 0;
    char p[8], t[8];
    for (size_t pl = 0; pl <= maxp; pl++) {
        for (size_t pk = 0; pk < ipow(na, pl); pk++) {
            nth_string(alpha, na, pl, pk, p);
            for (size_t tl = 0; tl <= maxt; tl++) {
                for (size_t tk = 0; tk < ipow(na, tl); tk++) {
                    nth_string(alpha, na, tl, tk, t);
                    int want = model(U8(p), pl, U8(t), tl);
                    int got = fn(U8(p), pl, U8(t), tl);
                    if (got != want) {
                        fail_msg("'%.*s' vs '%.*s': core %d, model %d", (int)pl, p,
                                 (int)tl, t, got, want);
                    }
                    checked++;
                }
            }
        }
    }
    printf("[ model    ] %zu pattern/subject pairs agree\n", checked);
}

static void t_topic_exhaustive(void **state)
{
    (void)state;
    /* Subjects never contain wildcards in practice, but the matcher must
     * treat them as literal bytes there, so they are included. */
    exhaustive("ab/+#", busrt_topic_matches, model_topic, 5, 5);
}

static void t_mask_exhaustive(void **state)
{
    (void)state;
    exhaustive("ab.?*", busrt_mask_matches, model_mask, 5, 5);
}

static void t_match_examples(void **state)
{
    (void)state;
    /* The deployed quirks, named here so a regression reads plainly. */
    assert_int_equal(busrt_topic_matches(U8("a/#"), 3, U8("a"), 1), 0);
    assert_int_equal(busrt_topic_matches(U8("a/#"), 3, U8("a/"), 2), 1);
    assert_int_equal(busrt_topic_matches(U8("a/#/b"), 5, U8("a/x/y"), 5), 1);
    assert_int_equal(busrt_topic_matches(U8("#"), 1, U8(""), 0), 1);
    assert_int_equal(busrt_topic_matches(U8("+"), 1, U8(""), 0), 1);
    assert_int_equal(busrt_topic_matches(U8("a+"), 2, U8("ab"), 2), 0);
    assert_int_equal(busrt_topic_matches(U8("x"), 1, U8("/x"), 2), 0);
    assert_int_equal(busrt_topic_matches(U8("x//y"), 4, U8("x//y"), 4), 1);
    assert_int_equal(busrt_topic_matches(U8("x/+/y"), 5, U8("x//y"), 4), 1);
    assert_int_equal(busrt_mask_matches(U8("this.is.*"), 9, U8("this.is"), 7), 0);
    assert_int_equal(busrt_mask_matches(U8("this.*"), 6, U8("this.is"), 7), 1);
    assert_int_equal(busrt_mask_matches(U8("this.is.a.*"), 11, U8("this.is.a"), 9), 0);
    assert_int_equal(busrt_mask_matches(U8("?.is.a"), 6, U8("that.is.a"), 9), 1);
    assert_int_equal(busrt_mask_matches(U8("a*"), 2, U8("ab"), 2), 0);
    assert_int_equal(busrt_mask_has_wildcard(U8("a.b"), 3), 0);
    assert_int_equal(busrt_mask_has_wildcard(U8("a.*"), 3), 1);
    assert_int_equal(busrt_mask_has_wildcard(U8("a?b"), 3), 1);
}

/* ---- UTF-8 against two independent models ------------------------------ */

static int model_utf8(const uint8_t *s, size_t n)
{
    int a = model_utf8_decode(s, n), b = model_utf8_dfa(s, n);
    if (a != b) {
        fail_msg("the two UTF-8 models disagree on %zu bytes %02x...", n, s[0]);
    }
    return a;
}

static void t_utf8_exhaustive(void **state)
{
    (void)state;
    uint8_t b[4];
    size_t checked = 0;
    /* every string of 1, 2 and 3 bytes */
    for (uint32_t x = 0; x < (1u << 24); x++) {
        b[0] = (uint8_t)(x >> 16);
        b[1] = (uint8_t)(x >> 8);
        b[2] = (uint8_t)x;
        for (size_t n = 1; n <= 3; n++) {
            if (n < 3 && (x & 0xFFu) != 0u) continue; /* shorter ones once */
            if (n < 2 && (x & 0xFF00u) != 0u) continue;
            if (busrt_utf8_valid(b, n) != model_utf8(b, n))
                fail_msg("%zu bytes %02x %02x %02x disagree", n, b[0], b[1], b[2]);
            checked++;
        }
    }
    /* every 4-byte string whose first byte starts a 4-byte form */
    for (uint32_t x = 0; x < (1u << 24); x++) {
        b[1] = (uint8_t)(x >> 16);
        b[2] = (uint8_t)(x >> 8);
        b[3] = (uint8_t)x;
        if ((b[2] & 0xC0u) != 0x80u && b[2] != 0x41u) continue;
        for (uint32_t first = 0xF0u; first <= 0xF7u; first++) {
            b[0] = (uint8_t)first;
            if (busrt_utf8_valid(b, 4) != model_utf8(b, 4))
                fail_msg("4 bytes %02x %02x %02x %02x disagree", b[0], b[1], b[2], b[3]);
            checked++;
        }
    }
    printf("[ model    ] %zu UTF-8 strings agree\n", checked);
    assert_int_equal(busrt_utf8_valid(U8(""), 0), 1);
    assert_int_equal(busrt_utf8_valid(U8("a\0b"), 3), 1);
}

/* ---- RPC headers --------------------------------------------------------- */

static void t_rpc_roundtrip(void **state)
{
    (void)state;
    uint8_t out[64];
    struct busrt_rpc_header h;
    for (int32_t code = -32768; code <= 32767; code++) {
        assert_int_equal(busrt_rpc_error_encode(7u, (int16_t)code, out, 7), 7);
        assert_int_equal(busrt_rpc_decode(out, 7, &h), 0);
        assert_int_equal(h.kind, BUSRT_RPC_ERROR);
        assert_int_equal(h.call_id, 7u);
        assert_int_equal(h.code, code);
        assert_int_equal(h.data.len, 0);
    }
    assert_int_equal(busrt_rpc_error_encode(1u, -32601, out, 7), 7);
    assert_memory_equal(out, "\x12\x01\x00\x00\x00\xA7\x80", 7); /* -32601 = 0x80A7 */
    assert_int_equal(busrt_rpc_error_encode(1u, 0, out, 6), BUSRT_ERR_SPACE);

    assert_int_equal(busrt_rpc_request_encode(0x01020304u, U8("test"), 4, out, 9),
                     BUSRT_ERR_SPACE);
    assert_int_equal(busrt_rpc_request_encode(0x01020304u, U8("test"), 4, out, 10), 10);
    assert_memory_equal(out, "\x01\x04\x03\x02\x01test\0", 10);
    out[10] = 0x81;
    assert_int_equal(busrt_rpc_decode(out, 11, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_REQUEST);
    assert_int_equal(h.call_id, 0x01020304u);
    assert_int_equal(h.method.off, 5);
    assert_int_equal(h.method.len, 4);
    assert_int_equal(h.data.off, 10);
    assert_int_equal(h.data.len, 1);
    assert_int_equal(busrt_rpc_decode(out, 9, &h), BUSRT_ERR_NOSEP);
    assert_int_equal(busrt_rpc_request_encode(1u, U8("a\0b"), 3, out, 64), BUSRT_ERR_NOSEP);
    assert_int_equal(busrt_rpc_request_encode(1u, U8(""), 65536u, out, 64), BUSRT_ERR_LIMIT);
    assert_int_equal(busrt_rpc_request_encode(1u, U8(""), 0, out, 6), 6);

    assert_int_equal(busrt_rpc_reply_encode(9u, out, 5), 5);
    assert_int_equal(busrt_rpc_decode(out, 5, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_REPLY);
    assert_int_equal(h.call_id, 9u);
    assert_int_equal(busrt_rpc_decode(out, 4, &h), BUSRT_ERR_SHORT);
    assert_int_equal(busrt_rpc_reply_encode(9u, out, 4), BUSRT_ERR_SPACE);

    assert_int_equal(busrt_rpc_notification_encode(out, 0), BUSRT_ERR_SPACE);
    assert_int_equal(busrt_rpc_notification_encode(out, 1), 1);
    assert_int_equal(busrt_rpc_decode(out, 1, &h), 0);
    assert_int_equal(h.data.len, 0);
    assert_int_equal(busrt_rpc_decode(out, 0, &h), BUSRT_ERR_SHORT);
    out[0] = 0x02;
    assert_int_equal(busrt_rpc_decode(out, 8, &h), BUSRT_ERR_RPC_KIND);
}

/* ---- MessagePack extent ------------------------------------------------ */

static void mp_expect(const char *hex, int rc, size_t len)
{
    uint8_t b[64];
    size_t n = strlen(hex) / 2;
    assert_true(n <= sizeof b);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    size_t got = 999;
    int r = busrt_mp_check(b, n, &got);
    if (r != rc || (rc == 0 && got != len) || (rc != 0 && got != 999)) {
        fail_msg("%s: got %d / %zu, want %d / %zu", hex, r, got, rc, len);
    }
}

static void t_mpack_examples(void **state)
{
    (void)state;
    mp_expect("", BUSRT_ERR_SHORT, 0);
    mp_expect("c0", 0, 1);
    mp_expect("c0c0", 0, 1);                 /* one object; the rest is not read */
    mp_expect("c1", BUSRT_ERR_MSGPACK, 0);
    mp_expect("91c1", BUSRT_ERR_MSGPACK, 0);
    mp_expect("81a26f6bc3", 0, 5);           /* {"ok": true} */
    mp_expect("81a26f6b", BUSRT_ERR_SHORT, 0);
    mp_expect("a3616263", 0, 4);
    mp_expect("d90361", BUSRT_ERR_SHORT, 0);
    mp_expect("c7020501ff", 0, 5);           /* ext8: length, type, data */
    mp_expect("d8" "05" "000102030405060708090a0b0c0d0e0f", 0, 18);
    mp_expect("cb3ff0000000000000", 0, 9);
    mp_expect("cf00000000000000", BUSRT_ERR_SHORT, 0);
    mp_expect("dc0002c0c3", 0, 5);
    mp_expect("dc0003c0c3", BUSRT_ERR_SHORT, 0);
    mp_expect("de0001a161c0", 0, 6);
    /* Counts beyond the bytes left are refused before anything else. */
    mp_expect("dfffffffff", BUSRT_ERR_SHORT, 0);
    mp_expect("ddffffffffc0c0c0", BUSRT_ERR_SHORT, 0);
    mp_expect("dbffffffff", BUSRT_ERR_SHORT, 0);
    mp_expect("9f00000000000000000000000000", BUSRT_ERR_SHORT, 0);
    mp_expect("9f000000000000000000000000000000", 0, 16);
    mp_expect("92919090", 0, 4);             /* [[[]], []] */
    mp_expect("929190", BUSRT_ERR_SHORT, 0);
}

/* Every input of 1, 2 and 3 bytes against msgpack-c: the same objects
 * accepted, with the same length. (No input this short can make msgpack-c
 * allocate for a count above 65535.) Under AddressSanitizer, whose
 * allocator makes msgpack-c's per-call zone cost ~3 us, up to 2 bytes;
 * fuzz/fuzz_mpack.c covers longer inputs there. */
#if defined(__SANITIZE_ADDRESS__)
#define MP_EXHAUSTIVE_MAX 2u
#else
#define MP_EXHAUSTIVE_MAX 3u
#endif
static void t_mpack_vs_msgpack_c(void **state)
{
    (void)state;
    uint8_t b[3];
    unsigned long accepted = 0;
    msgpack_unpacked u; /* one zone for every call: msgpack-c reuses it */
    msgpack_unpacked_init(&u);
    unsigned long inputs = 0;
    for (size_t n = 1; n <= MP_EXHAUSTIVE_MAX; n++) {
        unsigned long total = 1ul << (8 * n);
        inputs += total;
        for (unsigned long v = 0; v < total; v++) {
            for (size_t i = 0; i < n; i++) {
                b[i] = (uint8_t)(v >> (8 * i));
            }
            size_t got = 0;
            int r = busrt_mp_check(b, n, &got);
            size_t off = 0;
            int lib = msgpack_unpack_next(&u, (const char *)b, n, &off) == MSGPACK_UNPACK_SUCCESS;
            if ((r == 0) != lib || (lib && off != got)) {
                fail_msg("n=%zu v=%06lx: check %d/%zu, msgpack-c %d/%zu", n, v, r, got, lib, off);
            }
            accepted += r == 0 && got == n;
        }
    }
    msgpack_unpacked_destroy(&u);
    printf("[ mpack    ] %lu inputs of 1..%u bytes agree with msgpack-c "
           "(%lu are exactly one object)\n", inputs, MP_EXHAUSTIVE_MAX, accepted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_greeting),
        cmocka_unit_test(t_mpack_examples),
        cmocka_unit_test(t_mpack_vs_msgpack_c),
        cmocka_unit_test(t_name_len_limits),
        cmocka_unit_test(t_name_check),
        cmocka_unit_test(t_primary_len),
        cmocka_unit_test(t_client_header_all_flags),
        cmocka_unit_test(t_client_header_max_length),
        cmocka_unit_test(t_client_header_encode_errors),
        cmocka_unit_test(t_frame_header),
        cmocka_unit_test(t_ack),
        cmocka_unit_test(t_body_split),
        cmocka_unit_test(t_list),
        cmocka_unit_test(t_topic_exhaustive),
        cmocka_unit_test(t_mask_exhaustive),
        cmocka_unit_test(t_match_examples),
        cmocka_unit_test(t_utf8_exhaustive),
        cmocka_unit_test(t_rpc_roundtrip),
    };
    return cmocka_run_group_tests_name("core edge cases", tests, NULL, NULL);
}
