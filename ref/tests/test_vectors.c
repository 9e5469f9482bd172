/* Checks every vector in spec/vectors/ against the core codec and matchers.
 * One cmocka test per vector file; a mismatch names the vector id. The
 * directory comes from BUSRT_VECTORS_DIR (default spec/vectors). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busrt/frame.h"
#include "busrt/match.h"
#include "busrt/rpcproto.h"
#include "busrt/utf8.h"

static const char *vectors_dir(void)
{
    const char *d = getenv("BUSRT_VECTORS_DIR");
    return d != NULL ? d : "spec/vectors";
}

static json_t *load_file(const char *name)
{
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/%s", vectors_dir(), name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL) {
        fail_msg("%s:%d: %s", path, err.line, err.text);
    }
    assert_string_equal(json_string_value(json_object_get(root, "schema")),
                        "busrt-vectors/1");
    return root;
}

struct bytes {
    uint8_t *p;
    size_t n;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static struct bytes hex_str(const char *id, const char *s)
{
    size_t len = strlen(s);
    if (len % 2u != 0u) fail_msg("%s: odd hex length", id);
    struct bytes b = {malloc(len / 2u + 1u), len / 2u};
    assert_non_null(b.p);
    for (size_t i = 0; i < b.n; i++) {
        int hi = hexval(s[2u * i]), lo = hexval(s[2u * i + 1u]);
        if (hi < 0 || lo < 0) fail_msg("%s: bad hex", id);
        b.p[i] = (uint8_t)(hi * 16 + lo);
    }
    return b;
}

/* The input bytes of a vector: "hex", or "hex_repeat" {unit, count}. */
static struct bytes input_of(const char *id, json_t *v, const char *key)
{
    json_t *h = json_object_get(v, key);
    if (h != NULL) return hex_str(id, json_string_value(h));
    json_t *r = json_object_get(v, "hex_repeat");
    if (r == NULL) fail_msg("%s: no %s", id, key);
    struct bytes unit = hex_str(id, json_string_value(json_object_get(r, "unit")));
    size_t count = (size_t)json_integer_value(json_object_get(r, "count"));
    struct bytes b = {malloc(unit.n * count + 1u), unit.n * count};
    assert_non_null(b.p);
    for (size_t i = 0; i < count; i++) memcpy(b.p + i * unit.n, unit.p, unit.n);
    free(unit.p);
    return b;
}

static void expect_span(const char *id, const char *field, const uint8_t *base,
                        struct busrt_span sp, json_t *expect)
{
    struct bytes want = hex_str(id, json_string_value(json_object_get(expect, field)));
    if (sp.len != want.n || (want.n > 0 && memcmp(base + sp.off, want.p, want.n) != 0)) {
        fail_msg("%s: field %s differs (got %zu bytes at %zu, want %zu)", id,
                 field, sp.len, sp.off, want.n);
    }
    free(want.p);
}

static int error_code(const char *name)
{
    static const struct { const char *n; int c; } map[] = {
        {"short", BUSRT_ERR_SHORT}, {"greeting", BUSRT_ERR_GREETING},
        {"version", BUSRT_ERR_VERSION}, {"op", BUSRT_ERR_OP},
        {"limit", BUSRT_ERR_LIMIT}, {"nosep", BUSRT_ERR_NOSEP},
        {"utf8", BUSRT_ERR_UTF8}, {"space", BUSRT_ERR_SPACE},
        {"marker", BUSRT_ERR_MARKER}, {"kind", BUSRT_ERR_KIND},
        {"name", BUSRT_ERR_NAME}, {"rpc_kind", BUSRT_ERR_RPC_KIND},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].n, name) == 0) return map[i].c;
    }
    fail_msg("unknown error name '%s' in vectors", name);
    return 0;
}

/* The expected error code, or 1 when the vector expects success. */
static int expected_rc(json_t *expect)
{
    json_t *e = json_object_get(expect, "error");
    return e != NULL ? error_code(json_string_value(e)) : 1;
}

static uint32_t u32_of(json_t *o, const char *k)
{
    json_t *x = json_object_get(o, k);
    if (!json_is_integer(x)) fail_msg("missing integer field %s", k);
    return (uint32_t)json_integer_value(x);
}

typedef void (*vector_fn)(const char *id, json_t *v, json_t *expect);

static size_t run_file(const char *file, vector_fn fn)
{
    json_t *root = load_file(file);
    json_t *vs = json_object_get(root, "vectors");
    assert_true(json_is_array(vs));
    size_t i;
    json_t *v;
    json_array_foreach(vs, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        assert_non_null(id);
        fn(id, v, json_object_get(v, "expect"));
    }
    size_t n = json_array_size(vs);
    json_decref(root);
    assert_true(n > 0);
    return n;
}

/* ---- per-file checks ---------------------------------------------------- */

static void greeting_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    int rc = busrt_greeting_decode(in.p, in.n);
    int want = expected_rc(expect);
    if (want == 1) want = 3;
    if (rc != want) fail_msg("%s: decode returned %d, want %d", id, rc, want);
    free(in.p);
}

static void name_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    const char *check = json_string_value(json_object_get(expect, "check"));
    int want = strcmp(check, "ok") == 0 ? 0 : error_code(check);
    int rc = busrt_name_check(in.p, in.n);
    if (rc != want) fail_msg("%s: name_check %d, want %d", id, rc, want);
    size_t pl = busrt_name_primary_len(in.p, in.n);
    if (pl != (size_t)u32_of(expect, "primary_len"))
        fail_msg("%s: primary_len %zu", id, pl);
    free(in.p);
}

static void name_len_one(const char *id, json_t *v, json_t *expect)
{
    json_t *enc = json_object_get(v, "encode");
    if (enc != NULL) {
        uint8_t out[4];
        int rc = busrt_name_len_encode((size_t)json_integer_value(
                                           json_object_get(enc, "name_len")),
                                       out, sizeof out);
        int want = expected_rc(expect);
        if (want == 1) {
            struct bytes w = hex_str(id, json_string_value(json_object_get(expect, "hex")));
            if (rc != 2 || w.n != 2 || memcmp(out, w.p, 2) != 0)
                fail_msg("%s: encode returned %d or wrong bytes", id, rc);
            free(w.p);
        } else if (rc != want) {
            fail_msg("%s: encode returned %d, want %d", id, rc, want);
        }
        return;
    }
    struct bytes in = input_of(id, v, "hex");
    uint16_t nl = 0;
    int rc = busrt_name_len_decode(in.p, in.n, &nl);
    int want = expected_rc(expect);
    if (want == 1) {
        if (rc != 2 || nl != u32_of(expect, "name_len"))
            fail_msg("%s: decode %d, name_len %u", id, rc, nl);
    } else if (rc != want) {
        fail_msg("%s: decode returned %d, want %d", id, rc, want);
    }
    free(in.p);
}

static void client_header_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    struct busrt_client_header h;
    memset(&h, 0xA5, sizeof h);
    int rc = busrt_client_header_decode(in.p, in.n, u32_of(v, "max_body"), &h);
    int want = expected_rc(expect);
    if (want != 1) {
        if (rc != want) fail_msg("%s: decode %d, want %d", id, rc, want);
        free(in.p);
        return;
    }
    if (rc != 9) fail_msg("%s: decode returned %d, want 9", id, rc);
    if (h.op_id != u32_of(expect, "op_id") || h.op != u32_of(expect, "op") ||
        h.qos != u32_of(expect, "qos") || h.body_len != u32_of(expect, "body_len"))
        fail_msg("%s: decoded fields differ", id);
    if (busrt_client_body_len(&h) != u32_of(expect, "body_to_read"))
        fail_msg("%s: body_to_read differs", id);
    if (json_is_true(json_object_get(expect, "canonical"))) {
        uint8_t out[9];
        if (busrt_client_header_encode(&h, out, sizeof out) != 9 ||
            memcmp(out, in.p, 9) != 0)
            fail_msg("%s: encode(decode(x)) != x", id);
    }
    free(in.p);
}

static void frame_header_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    struct busrt_frame_header h;
    int rc = busrt_frame_header_decode(in.p, in.n, u32_of(v, "max_body"), &h);
    int want = expected_rc(expect);
    if (want != 1) {
        if (rc != want) fail_msg("%s: decode %d, want %d", id, rc, want);
        free(in.p);
        return;
    }
    if (rc != 6) fail_msg("%s: decode returned %d, want 6", id, rc);
    if (h.kind != u32_of(expect, "kind") || h.body_len != u32_of(expect, "body_len") ||
        h.realtime != u32_of(expect, "realtime"))
        fail_msg("%s: decoded fields differ", id);
    if (h.realtime <= 1u) {
        uint8_t out[6];
        if (busrt_frame_header_encode(&h, out, sizeof out) != 6 ||
            memcmp(out, in.p, 6) != 0)
            fail_msg("%s: encode(decode(x)) != x", id);
    }
    free(in.p);
}

static void ack_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    struct busrt_ack a;
    int rc = busrt_ack_decode(in.p, in.n, &a);
    int want = expected_rc(expect);
    if (want != 1) {
        if (rc != want) fail_msg("%s: decode %d, want %d", id, rc, want);
        free(in.p);
        return;
    }
    if (rc != 6 || a.op_id != u32_of(expect, "op_id") || a.code != u32_of(expect, "code"))
        fail_msg("%s: ack decode %d or fields differ", id, rc);
    uint8_t out[6];
    if (busrt_ack_encode(&a, out, sizeof out) != 6 || memcmp(out, in.p, 6) != 0)
        fail_msg("%s: encode(decode(x)) != x", id);
    free(in.p);
}

static void client_body_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    struct busrt_client_body b;
    int rc = busrt_client_body_split((uint8_t)u32_of(v, "op"), in.p, in.n, &b);
    int want = expected_rc(expect);
    if (want != 1) {
        if (rc != want) fail_msg("%s: split %d, want %d", id, rc, want);
    } else {
        if (rc != 0) fail_msg("%s: split returned %d", id, rc);
        expect_span(id, "target", in.p, b.target, expect);
        expect_span(id, "receiver", in.p, b.receiver, expect);
        expect_span(id, "payload", in.p, b.payload, expect);
    }
    free(in.p);
}

static void frame_body_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    struct busrt_frame_body b;
    int rc = busrt_frame_body_split((uint8_t)u32_of(v, "kind"), in.p, in.n, &b);
    int want = expected_rc(expect);
    if (want != 1) {
        if (rc != want) fail_msg("%s: split %d, want %d", id, rc, want);
    } else {
        if (rc != 0) fail_msg("%s: split returned %d", id, rc);
        expect_span(id, "sender", in.p, b.sender, expect);
        expect_span(id, "topic", in.p, b.topic, expect);
        expect_span(id, "payload", in.p, b.payload, expect);
    }
    free(in.p);
}

static void topic_list_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    json_t *items = json_object_get(expect, "items");
    size_t pos = 0, k = 0;
    struct busrt_span it;
    while (busrt_list_next(in.p, in.n, &pos, &it) == 1) {
        if (k >= json_array_size(items)) fail_msg("%s: too many items", id);
        struct bytes w = hex_str(id, json_string_value(json_array_get(items, k)));
        if (it.len != w.n || (w.n > 0 && memcmp(in.p + it.off, w.p, w.n) != 0))
            fail_msg("%s: item %zu differs", id, k);
        free(w.p);
        k++;
    }
    if (k != json_array_size(items)) fail_msg("%s: %zu items, want %zu", id, k,
                                              json_array_size(items));
    free(in.p);
}

static void utf8_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    int want = json_is_true(json_object_get(expect, "valid")) ? 1 : 0;
    if (busrt_utf8_valid(in.p, in.n) != want) fail_msg("%s: utf8_valid != %d", id, want);
    free(in.p);
}

static void match_common(const char *id, json_t *v, json_t *expect,
                         const char *pk, const char *sk,
                         int (*fn)(const uint8_t *, size_t, const uint8_t *, size_t))
{
    const char *p = json_string_value(json_object_get(v, pk));
    const char *s = json_string_value(json_object_get(v, sk));
    assert_non_null(p);
    assert_non_null(s);
    int want = json_is_true(json_object_get(expect, "match")) ? 1 : 0;
    int got = fn((const uint8_t *)p, strlen(p), (const uint8_t *)s, strlen(s));
    if (got != want) fail_msg("%s: '%s' vs '%s' gave %d, want %d", id, p, s, got, want);
}

static void topic_match_one(const char *id, json_t *v, json_t *expect)
{
    match_common(id, v, expect, "pattern", "topic", busrt_topic_matches);
}

static void mask_match_one(const char *id, json_t *v, json_t *expect)
{
    match_common(id, v, expect, "mask", "name", busrt_mask_matches);
}

static void rpc_one(const char *id, json_t *v, json_t *expect)
{
    struct bytes in = input_of(id, v, "hex");
    struct busrt_rpc_header h;
    int rc = busrt_rpc_decode(in.p, in.n, &h);
    int want = expected_rc(expect);
    if (want != 1) {
        if (rc != want) fail_msg("%s: rpc decode %d, want %d", id, rc, want);
        free(in.p);
        return;
    }
    if (rc != 0) fail_msg("%s: rpc decode returned %d", id, rc);
    if (h.kind != u32_of(expect, "kind") || h.call_id != u32_of(expect, "call_id") ||
        h.code != (int16_t)json_integer_value(json_object_get(expect, "code")))
        fail_msg("%s: rpc fields differ", id);
    expect_span(id, "method", in.p, h.method, expect);
    expect_span(id, "data", in.p, h.data, expect);
    free(in.p);
}

/* ---- tests -------------------------------------------------------------- */

#define VECTOR_TEST(fname, file, fn)                                   \
    static void fname(void **state)                                    \
    {                                                                  \
        (void)state;                                                   \
        size_t n = run_file(file, fn);                                 \
        printf("[ vectors  ] %-18s %zu checked\n", file, n);           \
    }

VECTOR_TEST(t_greeting, "greeting.json", greeting_one)
VECTOR_TEST(t_name, "name.json", name_one)
VECTOR_TEST(t_name_len, "name_len.json", name_len_one)
VECTOR_TEST(t_client_header, "client_header.json", client_header_one)
VECTOR_TEST(t_frame_header, "frame_header.json", frame_header_one)
VECTOR_TEST(t_ack, "ack.json", ack_one)
VECTOR_TEST(t_client_body, "client_body.json", client_body_one)
VECTOR_TEST(t_frame_body, "frame_body.json", frame_body_one)
VECTOR_TEST(t_topic_list, "topic_list.json", topic_list_one)
VECTOR_TEST(t_utf8, "utf8.json", utf8_one)
VECTOR_TEST(t_topic_match, "topic_match.json", topic_match_one)
VECTOR_TEST(t_mask_match, "mask_match.json", mask_match_one)
VECTOR_TEST(t_rpc, "rpc.json", rpc_one)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_greeting),      cmocka_unit_test(t_name),
        cmocka_unit_test(t_name_len),      cmocka_unit_test(t_client_header),
        cmocka_unit_test(t_frame_header),  cmocka_unit_test(t_ack),
        cmocka_unit_test(t_client_body),   cmocka_unit_test(t_frame_body),
        cmocka_unit_test(t_topic_list),    cmocka_unit_test(t_utf8),
        cmocka_unit_test(t_topic_match),   cmocka_unit_test(t_mask_match),
        cmocka_unit_test(t_rpc),
    };
    return cmocka_run_group_tests_name("spec vectors", tests, NULL, NULL);
}
