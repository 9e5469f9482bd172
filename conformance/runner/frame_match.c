/* Matching received frames against a case's matchers, and rendering both
 * sides (the expected bytes with ?? where a matcher does not fix them, the
 * received frame in hex and decoded) for the report. */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <stdlib.h>
#include <string.h>

#include "busrt/codes.h"
#include "busrt/le.h"
#include "busrt/rpcproto.h"

/* Appends a readable description of a received frame. */
static void describe_frame(const struct bframe *f, struct buf *out)
{
    if (f->type == F_ACK) {
        buf_adds(out, "ACK op id ");
        hex_append(out, f->raw + 1, 4, 4);
        buf_printf(out, " result %02x", f->code);
        return;
    }
    if (f->type == F_NOP) {
        buf_adds(out, "NOP");
        return;
    }
    const char *k = f->kind == BUSRT_KIND_PUBLISH ? "publication"
                    : f->kind == BUSRT_KIND_MESSAGE ? "message" : "broadcast";
    buf_printf(out, "%s (realtime %02x) from ", k, f->rt);
    text_append(out, bframe_span(f, f->b.sender), f->b.sender.len, 80);
    if (f->kind == BUSRT_KIND_PUBLISH) {
        buf_adds(out, " topic ");
        text_append(out, bframe_span(f, f->b.topic), f->b.topic.len, 80);
    }
    buf_adds(out, " payload ");
    const uint8_t *p = bframe_span(f, f->b.payload);
    size_t pl = f->b.payload.len;
    struct busrt_rpc_header h;
    if (f->kind == BUSRT_KIND_MESSAGE && busrt_rpc_decode(p, pl, &h) == 0 &&
        h.kind != BUSRT_RPC_NOTIFICATION) {
        buf_printf(out, "[rpc kind %02x call id %u", h.kind, h.call_id);
        if (h.kind == BUSRT_RPC_ERROR) {
            buf_printf(out, " code %d", h.code);
        }
        if (h.kind == BUSRT_RPC_REQUEST) {
            buf_adds(out, " method ");
            text_append(out, p + h.method.off, h.method.len, 60);
        }
        buf_adds(out, " data ");
        if (h.data.len > 0) {
            mp_render(p + h.data.off, h.data.len, out);
            buf_adds(out, " = ");
        }
        hex_append(out, p + h.data.off, h.data.len, 48);
        buf_adds(out, "]");
    } else {
        text_append(out, p, pl, 80);
        if (pl > 0 && (p[0] & 0xf0u) == 0x80u) {
            buf_adds(out, " msgpack ");
            mp_render(p, pl, out);
        }
    }
}

/* ---- matching --------------------------------------------------------------- */

/* The op id an ACK matcher names (the bytes of op_id_hex, or op_id as 4
 * little-endian bytes), appended to out. Returns 0 when it names none. */
static int matcher_op_id(const json_t *m, struct buf *out)
{
    json_t *oidh = json_object_get(m, "op_id_hex");
    json_t *oid = json_object_get(m, "op_id");
    if (oidh != NULL) {
        (void)hex_decode(json_string_value(oidh), out);
        return 1;
    }
    if (oid != NULL) {
        uint8_t id[4];
        busrt_put_le32(id, (uint32_t)json_integer_value(oid));
        buf_add(out, id, 4);
        return 1;
    }
    return 0;
}

static uint8_t kind_byte(const char *k)
{
    return strcmp(k, "publication") == 0 ? BUSRT_KIND_PUBLISH
           : strcmp(k, "message") == 0 ? BUSRT_KIND_MESSAGE : BUSRT_KIND_BROADCAST;
}

static int match_bytes_field(struct case_exec *ce, const json_t *m, const char *key,
                             const uint8_t *d, size_t n, struct buf *why, const char *what)
{
    struct buf want;
    buf_init(&want);
    int have = field_bytes(ce, m, key, &want);
    int ok = 1;
    if (have > 0 && (buf_len(&want) != n || memcmp(buf_data(&want), d, n) != 0)) {
        buf_printf(why, "%s is ", what);
        text_append(why, d, n, 64);
        buf_adds(why, ", expected ");
        text_append(why, buf_data(&want), buf_len(&want), 64);
        ok = 0;
    }
    buf_free(&want);
    return ok;
}

/* "code": one RPC error code, or an array of the codes allowed (REQ-QUIRK-8). */
static int rpc_code_ok(const json_t *code, int16_t got, struct buf *why)
{
    if (!json_is_array(code)) {
        if (got == (int16_t)json_integer_value(code)) {
            return 1;
        }
        buf_printf(why, "RPC error code %d, expected %d", got, (int)json_integer_value(code));
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(code, i, v) {
        if (got == (int16_t)json_integer_value(v)) {
            return 1;
        }
    }
    buf_printf(why, "RPC error code %d, expected one of", got);
    json_array_foreach(code, i, v) {
        buf_printf(why, "%s %d", i > 0 ? "," : "", (int)json_integer_value(v));
    }
    return 0;
}

static int rpc_match(struct case_exec *ce, const json_t *m, const uint8_t *p, size_t n,
                     struct buf *why)
{
    struct busrt_rpc_header h;
    if (busrt_rpc_decode(p, n, &h) != 0) {
        buf_adds(why, "the payload is not a valid RPC frame (Section 12.1)");
        return 0;
    }
    const char *ks = json_string_value(json_object_get(m, "kind"));
    uint8_t want = strcmp(ks, "notification") == 0 ? BUSRT_RPC_NOTIFICATION
                   : strcmp(ks, "request") == 0 ? BUSRT_RPC_REQUEST
                   : strcmp(ks, "reply") == 0 ? BUSRT_RPC_REPLY : BUSRT_RPC_ERROR;
    if (h.kind != want) {
        buf_printf(why, "RPC kind %02x, expected %02x (%s)", h.kind, want, ks);
        return 0;
    }
    json_t *cid = json_object_get(m, "call_id");
    if (cid != NULL && h.call_id != (uint32_t)json_integer_value(cid)) {
        buf_printf(why, "RPC call id %u, expected %u", h.call_id,
                   (uint32_t)json_integer_value(cid));
        return 0;
    }
    json_t *code = json_object_get(m, "code");
    if (code != NULL && !rpc_code_ok(code, h.code, why)) {
        return 0;
    }
    const uint8_t *dd = p + h.data.off;
    size_t dl = h.data.len;
    if (!match_bytes_field(ce, m, "method", p + h.method.off, h.method.len, why, "RPC method")) {
        return 0;
    }
    const char *dk[] = {"result", "message", "params", "data"};
    for (size_t i = 0; i < 4; i++) {
        if (!match_bytes_field(ce, m, dk[i], dd, dl, why, "RPC data")) {
            return 0;
        }
    }
    const char *mk[] = {"result_msgpack", "params_msgpack"};
    for (size_t i = 0; i < 2; i++) {
        json_t *mm = json_object_get(m, mk[i]);
        if (mm != NULL && !mp_match(dd, dl, mm, ce->prefix, why)) {
            return 0;
        }
    }
    return 1;
}

int frame_match(struct case_exec *ce, const struct bframe *f, const json_t *m, struct buf *why)
{
    const char *k = json_string_value(json_object_get(m, "kind"));
    if (strcmp(k, "ack") == 0) {
        if (f->type != F_ACK) {
            buf_adds(why, "expected an ACK");
            return 0;
        }
        struct buf id;
        buf_init(&id);
        int other = matcher_op_id(m, &id) &&
                    (buf_len(&id) < 4 || memcmp(buf_data(&id), f->raw + 1, 4) != 0);
        buf_free(&id);
        if (other) {
            buf_adds(why, "ACK for another op id");
            return 0;
        }
        json_t *code = json_object_get(m, "code");
        uint8_t c = 0;
        if (code != NULL && json_byte(code, &c) == 0 && c != f->code) {
            buf_printf(why, "ACK result %02x, expected %02x", f->code, c);
            return 0;
        }
        return 1;
    }
    if (f->type != F_DLV) {
        buf_printf(why, "expected a %s delivery", k);
        return 0;
    }
    if (f->kind != kind_byte(k)) {
        buf_printf(why, "delivery kind %02x, expected %02x (%s)", f->kind, kind_byte(k), k);
        return 0;
    }
    json_t *rt = json_object_get(m, "realtime");
    if (rt != NULL && f->rt != (uint8_t)json_integer_value(rt)) {
        buf_printf(why, "realtime byte %02x, expected %02x", f->rt,
                   (unsigned)json_integer_value(rt));
        return 0;
    }
    if (!match_bytes_field(ce, m, "sender", bframe_span(f, f->b.sender), f->b.sender.len, why,
                           "sender")) {
        return 0;
    }
    if (!match_bytes_field(ce, m, "topic", bframe_span(f, f->b.topic), f->b.topic.len, why,
                           "topic")) {
        return 0;
    }
    const uint8_t *p = bframe_span(f, f->b.payload);
    size_t pl = f->b.payload.len;
    if (!match_bytes_field(ce, m, "payload", p, pl, why, "payload")) {
        return 0;
    }
    json_t *fill = json_object_get(m, "payload_fill");
    if (fill != NULL) {
        struct buf want;
        buf_init(&want);
        fill_bytes(ce, fill, &want);
        int ok = buf_len(&want) == pl && memcmp(buf_data(&want), p, pl) == 0;
        if (!ok) {
            buf_printf(why, "payload of %zu bytes differs from the expected fill of %zu bytes",
                       pl, buf_len(&want));
        }
        buf_free(&want);
        if (!ok) {
            return 0;
        }
    }
    json_t *pm = json_object_get(m, "payload_msgpack");
    if (pm != NULL && !mp_match(p, pl, pm, ce->prefix, why)) {
        return 0;
    }
    json_t *rpc = json_object_get(m, "rpc");
    if (rpc != NULL && !rpc_match(ce, rpc, p, pl, why)) {
        return 0;
    }
    return 1;
}

int frame_matches(struct case_exec *ce, const struct bframe *f, const json_t *m)
{
    struct buf why;
    buf_init(&why);
    int ok = frame_match(ce, f, m, &why);
    buf_free(&why);
    return ok;
}

json_t *ack_matcher(const uint8_t op_id[4], json_t *code)
{
    json_t *m = json_object();
    json_object_set_new(m, "kind", json_string("ack"));
    char idh[16];
    snprintf(idh, sizeof idh, "%02x%02x%02x%02x", op_id[0], op_id[1], op_id[2], op_id[3]);
    json_object_set_new(m, "op_id_hex", json_string(idh));
    json_object_set_new(m, "code", code);
    return m;
}

/* ---- rendering -------------------------------------------------------------- */

/* Appends the bytes the matcher fixes for field key to body. Returns 0
 * when it fixes none. */
static int expected_field(struct case_exec *ce, const json_t *m, const char *key,
                          struct buf *body)
{
    struct buf t;
    buf_init(&t);
    int have = field_bytes(ce, m, key, &t) > 0;
    if (have) {
        buf_add(body, buf_data(&t), buf_len(&t));
    }
    buf_free(&t);
    return have;
}

/* Renders the expected frame: exact hex where the matcher fixes every byte,
 * "??" where it does not, and a description of field matchers. */
static void render_expected(struct case_exec *ce, const json_t *m, struct buf *out)
{
    const char *k = json_string_value(json_object_get(m, "kind"));
    if (strcmp(k, "ack") == 0) {
        buf_adds(out, "fe ");
        struct buf id;
        buf_init(&id);
        if (matcher_op_id(m, &id)) {
            hex_append(out, buf_data(&id), buf_len(&id), 4);
        } else {
            buf_adds(out, "?? ?? ?? ??");
        }
        buf_free(&id);
        uint8_t c;
        if (json_byte(json_object_get(m, "code"), &c) == 0) {
            buf_printf(out, " %02x", c);
        } else {
            buf_adds(out, " ??");
        }
        return;
    }
    struct buf body;
    buf_init(&body);
    int exact = expected_field(ce, m, "sender", &body);
    buf_addc(&body, 0);
    if (strcmp(k, "publication") == 0) {
        exact &= expected_field(ce, m, "topic", &body);
        buf_addc(&body, 0);
    }
    const char *desc = NULL;
    if (expected_field(ce, m, "payload", &body)) {
        /* exact */
    } else if (json_object_get(m, "payload_fill") != NULL) {
        fill_bytes(ce, json_object_get(m, "payload_fill"), &body);
    } else if (json_object_get(m, "rpc") != NULL || json_object_get(m, "payload_msgpack")) {
        exact = 0;
        desc = json_object_get(m, "rpc") != NULL ? "rpc" : "payload_msgpack";
    } else {
        exact = 0;
        desc = "any payload";
    }
    json_t *rt = json_object_get(m, "realtime");
    buf_printf(out, "%02x ", kind_byte(k));
    if (exact) {
        uint8_t l[4];
        busrt_put_le32(l, (uint32_t)buf_len(&body));
        hex_append(out, l, 4, 4);
    } else {
        buf_adds(out, "?? ?? ?? ??");
    }
    if (rt != NULL) {
        buf_printf(out, " %02x ", (unsigned)json_integer_value(rt));
    } else {
        buf_adds(out, " ?? ");
    }
    /* When not exact: the sender and topic parts known, then the payload
     * description. */
    hex_append(out, buf_data(&body), buf_len(&body), 200);
    if (desc != NULL && strcmp(desc, "any payload") == 0) {
        buf_adds(out, " <any payload>");
    } else if (desc != NULL) {
        char *s = json_dumps(json_object_get(m, desc), JSON_COMPACT);
        char *ss = subst(s != NULL ? s : "?", ce->prefix, 0);
        buf_printf(out, " <payload matching %s %s>", desc, ss);
        free(ss);
        free(s);
    }
    buf_free(&body);
}

void set_expected(struct case_exec *ce, const json_t *m)
{
    buf_reset(&ce->res->expected);
    render_expected(ce, m, &ce->res->expected);
}

void set_received(struct case_exec *ce, const struct bframe *f)
{
    buf_reset(&ce->res->received);
    hex_append(&ce->res->received, f->raw, f->raw_len, 256);
    buf_adds(&ce->res->received, "\n  = ");
    describe_frame(f, &ce->res->received);
}
