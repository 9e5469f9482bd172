/* Bytes and client frames built from the fields of a case: text or hex
 * fields with ${p} substituted, fills, RPC payloads, and whole frames with
 * op ids, lengths and deliberate defects (truncate, length, flags). */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <stdlib.h>
#include <string.h>

#include "busrt/codes.h"
#include "busrt/le.h"

/* Appends the bytes of field `key` (text, ${p} substituted) or `key_hex`.
 * Returns 1 when one was present, 0 when neither, -1 on bad hex. */
int field_bytes(struct case_exec *ce, const json_t *o, const char *key, struct buf *out)
{
    char hk[64];
    snprintf(hk, sizeof hk, "%s_hex", key);
    json_t *t = json_object_get(o, key);
    json_t *h = json_object_get(o, hk);
    if (t != NULL) {
        char *s = subst(json_string_value(t), ce->prefix, 0);
        buf_adds(out, s);
        free(s);
        return 1;
    }
    if (h != NULL) {
        char *s = subst(json_string_value(h), ce->prefix, 1);
        int rc = hex_decode(s, out);
        free(s);
        return rc == 0 ? 1 : -1;
    }
    return 0;
}

void fill_bytes(struct case_exec *ce, const json_t *fill, struct buf *out)
{
    struct buf pat;
    buf_init(&pat);
    if (field_bytes(ce, fill, "hex", &pat) <= 0 || buf_len(&pat) == 0) {
        buf_addc(&pat, 'x');
    }
    json_int_t len = json_integer_value(json_object_get(fill, "len"));
    buf_reserve(out, (size_t)len);
    for (json_int_t i = 0; i < len; i++) {
        buf_addc(out, buf_data(&pat)[(size_t)i % buf_len(&pat)]);
    }
    buf_free(&pat);
}

static int rpc_bytes(struct case_exec *ce, const json_t *o, struct buf *out)
{
    json_t *k = json_object_get(o, "kind");
    uint8_t kind = 0;
    if (json_is_string(k)) {
        const char *s = json_string_value(k);
        kind = strcmp(s, "notification") == 0 ? BUSRT_RPC_NOTIFICATION
               : strcmp(s, "request") == 0 ? BUSRT_RPC_REQUEST
               : strcmp(s, "reply") == 0 ? BUSRT_RPC_REPLY : BUSRT_RPC_ERROR;
    } else if (json_byte(k, &kind) != 0) {
        return -1;
    }
    buf_addc(out, kind);
    uint8_t id[4];
    busrt_put_le32(id, (uint32_t)json_integer_value(json_object_get(o, "call_id")));
    if (kind == BUSRT_RPC_NOTIFICATION) {
        /* nothing but the payload */
    } else if (kind == BUSRT_RPC_REQUEST) {
        buf_add(out, id, 4);
        if (field_bytes(ce, o, "method", out) < 0) {
            return -1;
        }
        buf_addc(out, 0);
    } else if (kind == BUSRT_RPC_REPLY) {
        buf_add(out, id, 4);
    } else if (kind == BUSRT_RPC_ERROR) {
        buf_add(out, id, 4);
        int16_t code = (int16_t)json_integer_value(json_object_get(o, "code"));
        uint8_t le[2];
        busrt_put_le16(le, (uint16_t)code);
        buf_add(out, le, 2);
        if (field_bytes(ce, o, "message", out) < 0) {
            return -1;
        }
    } else if (json_object_get(o, "call_id") != NULL) {
        buf_add(out, id, 4);
    }
    json_t *pm = json_object_get(o, "params_msgpack");
    if (pm != NULL) {
        struct buf err;
        buf_init(&err);
        int rc = mp_from_json(pm, ce->prefix, out, &err);
        buf_free(&err);
        if (rc != 0) {
            return -1;
        }
    }
    if (field_bytes(ce, o, "params", out) < 0 || field_bytes(ce, o, "data", out) < 0) {
        return -1;
    }
    return 0;
}

static int payload_bytes(struct case_exec *ce, const json_t *f, struct buf *out)
{
    json_t *fill = json_object_get(f, "payload_fill");
    json_t *rpc = json_object_get(f, "payload_rpc");
    if (fill != NULL) {
        fill_bytes(ce, fill, out);
        return 0;
    }
    if (rpc != NULL) {
        return rpc_bytes(ce, rpc, out);
    }
    return field_bytes(ce, f, "payload", out) < 0 ? -1 : 0;
}

static int op_code(const json_t *op, uint8_t *code, int *is_ping)
{
    *is_ping = 0;
    if (json_is_integer(op)) {
        *code = (uint8_t)json_integer_value(op);
        return 0;
    }
    static const struct {
        const char *n;
        uint8_t c;
    } ops[] = {{"ping", 0}, {"op0", 0}, {"publish", BUSRT_OP_PUBLISH},
               {"subscribe", BUSRT_OP_SUBSCRIBE}, {"unsubscribe", BUSRT_OP_UNSUBSCRIBE},
               {"exclude", BUSRT_OP_EXCLUDE}, {"unexclude", BUSRT_OP_UNEXCLUDE},
               {"publish_for", BUSRT_OP_PUBLISH_FOR}, {"message", BUSRT_OP_MESSAGE},
               {"broadcast", BUSRT_OP_BROADCAST}};
    const char *s = json_string_value(op);
    for (size_t i = 0; s != NULL && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].n, s) == 0) {
            *code = ops[i].c;
            *is_ping = i == 0;
            return 0;
        }
    }
    return -1;
}

int build_frame(struct case_exec *ce, struct cf_client *c, const json_t *f, struct built *b)
{
    buf_init(&b->bytes);
    uint8_t op = 0;
    int is_ping = 0;
    json_t *opj = json_object_get(f, "op");
    if (opj != NULL && op_code(opj, &op, &is_ping) != 0) {
        return failf(ce, "bad op");
    }
    json_int_t qos = json_integer_value(json_object_get(f, "qos"));
    uint8_t flags = (uint8_t)(op + (uint8_t)(qos * 64));
    json_t *fl = json_object_get(f, "flags");
    if (fl != NULL) {
        (void)json_byte(fl, &flags);
    }
    b->flags = flags;
    /* op id */
    json_t *oid = json_object_get(f, "op_id");
    json_t *oidh = json_object_get(f, "op_id_hex");
    if (oidh != NULL) {
        struct buf t;
        buf_init(&t);
        if (hex_decode(json_string_value(oidh), &t) != 0 || buf_len(&t) != 4) {
            buf_free(&t);
            return failf(ce, "op_id_hex must be 4 bytes");
        }
        memcpy(b->op_id, buf_data(&t), 4);
        buf_free(&t);
    } else if (oid != NULL) {
        busrt_put_le32(b->op_id, (uint32_t)json_integer_value(oid));
    } else if (is_ping) {
        memset(b->op_id, 0, 4);
    } else {
        busrt_put_le32(b->op_id, c->next_op++);
    }
    /* body */
    struct buf body;
    buf_init(&body);
    int rc = 0;
    if (json_object_get(f, "body") != NULL || json_object_get(f, "body_hex") != NULL) {
        rc = field_bytes(ce, f, "body", &body) < 0 ? -1 : 0;
    } else if (is_ping) {
        /* no body */
    } else if (op == BUSRT_OP_PUBLISH || op == BUSRT_OP_MESSAGE || op == BUSRT_OP_BROADCAST) {
        const char *tk = op == BUSRT_OP_PUBLISH ? "topic"
                         : op == BUSRT_OP_MESSAGE ? "target" : "mask";
        rc = field_bytes(ce, f, tk, &body) < 0 ? -1 : 0;
        buf_addc(&body, 0);
        rc |= payload_bytes(ce, f, &body);
    } else if (op == BUSRT_OP_PUBLISH_FOR) {
        rc = field_bytes(ce, f, "topic", &body) < 0 ? -1 : 0;
        buf_addc(&body, 0);
        rc |= field_bytes(ce, f, "receiver", &body) < 0 ? -1 : 0;
        buf_addc(&body, 0);
        rc |= payload_bytes(ce, f, &body);
    } else if (op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE) {
        json_t *pt = json_object_get(f, "patterns");
        json_t *ph = json_object_get(f, "patterns_hex");
        json_t *arr = pt != NULL ? pt : ph;
        size_t i;
        json_t *p;
        json_array_foreach(arr, i, p) {
            if (i > 0) {
                buf_addc(&body, 0);
            }
            char *s = subst(json_string_value(p), ce->prefix, pt == NULL);
            if (pt != NULL) {
                buf_adds(&body, s);
            } else if (hex_decode(s, &body) != 0) {
                rc = -1;
            }
            free(s);
        }
    } else {
        rc = payload_bytes(ce, f, &body);
    }
    if (rc != 0) {
        buf_free(&body);
        return failf(ce, "cannot build the frame body (bad hex or RPC fields)");
    }
    json_t *pad = json_object_get(f, "pad_body_to");
    while (pad != NULL && buf_len(&body) < (size_t)json_integer_value(pad)) {
        buf_addc(&body, 'a');
    }
    uint8_t hdr[9];
    memcpy(hdr, b->op_id, 4);
    hdr[4] = flags;
    json_t *lenj = json_object_get(f, "length");
    uint32_t len = lenj != NULL ? (uint32_t)json_integer_value(lenj) : (uint32_t)buf_len(&body);
    busrt_put_le32(hdr + 5, len);
    buf_add(&b->bytes, hdr, 9);
    buf_add(&b->bytes, buf_data(&body), buf_len(&body));
    buf_free(&body);
    json_t *tr = json_object_get(f, "truncate");
    if (tr != NULL && (size_t)json_integer_value(tr) < buf_len(&b->bytes)) {
        b->bytes.w = b->bytes.r + (size_t)json_integer_value(tr);
    }
    return 0;
}

int queue_frame(struct case_exec *ce, struct cf_client *c, const json_t *f, struct built *b)
{
    int rc = build_frame(ce, c, f, b);
    if (rc == 0) {
        queue_bytes(c, buf_data(&b->bytes), buf_len(&b->bytes));
    }
    buf_free(&b->bytes);
    return rc;
}
