/* Steps that open and close connections and send: connect (the handshake,
 * with its allowed outcomes), open, send, barrier, close. */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Opens the connection without a handshake: the open step, and the start
 * of connect. */
int step_open(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    client_reset(c);
    json_t *via = json_object_get(st, "via");
    const char *addr = ce->in->addr;
    if (via != NULL && strcmp(json_string_value(via), "extra") == 0) {
        if (ce->in->extra_addr[0] == '\0') {
            return failf(ce, "via \"extra\" needs the broker option extra_listener");
        }
        addr = ce->in->extra_addr;
    }
    int rcvbuf = (int)json_integer_value(json_object_get(st, "rcvbuf"));
    c->fd = net_connect(addr, rcvbuf, now_ms() + ce->bound_ms);
    if (c->fd < 0) {
        int e = errno;
        c->fd = -1;
        return failf(ce, "cannot connect to %s: %s", addr, strerror(e));
    }
    json_t *rd = json_object_get(st, "read");
    c->reading = rd == NULL || json_is_true(rd);
    json_t *ap = json_object_get(st, "autoping");
    c->autoping = ap == NULL || json_is_true(ap);
    c->next_op = 1001;
    c->last_send = now_ms();
    return 0;
}

/* Waits for the broker's one-byte reply to `what`. Returns 1 with it in
 * *r, 0 when the connection closed instead (outcome "close"), or -1 after
 * failf. */
static int reply_byte(struct case_exec *ce, struct cf_client *c, int64_t b, const char *what,
                      uint8_t *r, char *outcome, size_t olen)
{
    int rc = wait_bytes(ce, c, 1, now_ms() + b);
    if (rc < 0) {
        snprintf(outcome, olen, "close");
        return 0;
    }
    if (rc == 0) {
        return failf(ce, "no reply to %s within %lld ms", what, (long long)b);
    }
    *r = buf_data(&c->in)[0];
    buf_consume(&c->in, 1);
    return 1;
}

int handshake(struct case_exec *ce, struct cf_client *c, const json_t *st, char *outcome,
              size_t olen)
{
    int64_t b = step_bound(ce, st);
    if (step_open(ce, st, c) != 0) {
        return -1;
    }
    int rc = wait_bytes(ce, c, 3, now_ms() + b);
    if (rc < 0 && buf_len(&c->in) == 0) {
        snprintf(outcome, olen, "preclose");
        return 0;
    }
    if (rc <= 0) {
        buf_reset(&ce->res->expected);
        buf_adds(&ce->res->expected, "eb 01 00");
        buf_reset(&ce->res->received);
        hex_append(&ce->res->received, buf_data(&c->in), buf_len(&c->in), 8);
        return failf(ce, "the broker's greeting did not arrive (%s)",
                     rc == 0 ? "timeout" : "end of file");
    }
    static const uint8_t greet[3] = {0xEB, 0x01, 0x00};
    if (memcmp(buf_data(&c->in), greet, 3) != 0) {
        buf_reset(&ce->res->expected);
        buf_adds(&ce->res->expected, "eb 01 00");
        buf_reset(&ce->res->received);
        hex_append(&ce->res->received, buf_data(&c->in), 3, 3);
        return failf(ce, "wrong greeting from the broker (REQ-HS-1)");
    }
    buf_consume(&c->in, 3);
    json_t *pt = json_object_get(st, "pause_t");
    int64_t pause = pt != NULL ? (int64_t)(json_number_value(pt) * (double)ce->T_ms) : 0;
    pump(ce, now_ms() + pause, pred_never, NULL);
    struct buf g;
    buf_init(&g);
    if (field_bytes(ce, st, "greeting", &g) == 0) {
        buf_add(&g, greet, 3);
    }
    int good_greeting = buf_len(&g) == 3 && memcmp(buf_data(&g), greet, 3) == 0;
    queue_bytes(c, buf_data(&g), buf_len(&g));
    buf_free(&g);
    uint8_t r1;
    rc = reply_byte(ce, c, b, "the greeting", &r1, outcome, olen);
    if (rc <= 0) {
        return rc;
    }
    if (!good_greeting || r1 != 0x01) {
        snprintf(outcome, olen, "%02x", r1);
        return 0;
    }
    struct buf name;
    buf_init(&name);
    (void)field_bytes(ce, st, "name", &name);
    json_t *pad = json_object_get(st, "name_pad_to");
    while (pad != NULL && buf_len(&name) < (size_t)json_integer_value(pad)) {
        buf_addc(&name, 'x');
    }
    pump(ce, now_ms() + pause, pred_never, NULL);
    uint8_t nl[2];
    (void)busrt_name_len_encode(buf_len(&name) > 65535u ? 65535u : buf_len(&name), nl, 2);
    queue_bytes(c, nl, 2);
    queue_bytes(c, buf_data(&name), buf_len(&name));
    buf_reset(&c->name);
    buf_add(&c->name, buf_data(&name), buf_len(&name));
    buf_free(&name);
    uint8_t r2;
    rc = reply_byte(ce, c, b, "the name", &r2, outcome, olen);
    if (rc <= 0) {
        return rc;
    }
    snprintf(outcome, olen, "%02x", r2);
    if (r2 == 0x01) {
        c->registered = 1;
    }
    return 0;
}

static int alt_has(const json_t *alts, const char *o)
{
    size_t i;
    json_t *a;
    json_array_foreach((json_t *)alts, i, a) {
        if (strcasecmp(json_string_value(a), o) == 0) {
            return 1;
        }
    }
    return 0;
}

int step_connect(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    json_t *e = json_object_get(st, "expect");
    json_t *alts = json_array();
    if (e == NULL) {
        json_array_append_new(alts, json_string("01"));
    } else if (json_is_string(e)) {
        json_array_append(alts, e);
    } else {
        json_array_extend(alts, e);
    }
    json_t *retry = json_object_get(st, "retry_within_t");
    int64_t retry_until = retry != NULL
                              ? now_ms() + (int64_t)(json_number_value(retry) * (double)ce->T_ms)
                              : 0;
    char outcome[32];
    int rc;
    for (;;) {
        rc = handshake(ce, c, st, outcome, sizeof outcome);
        if (rc != 0) {
            break;
        }
        if (strcmp(outcome, "01") != 0 && alt_has(alts, "01") && !alt_has(alts, outcome) &&
            now_ms() < retry_until) {
            client_reset(c);
            sleep_ms(50);
            continue;
        }
        break;
    }
    if (rc == 0) {
        if (!alt_has(alts, outcome)) {
            char *want = json_dumps(alts, JSON_COMPACT);
            buf_reset(&ce->res->expected);
            buf_adds(&ce->res->expected, want != NULL ? want : "?");
            free(want);
            buf_reset(&ce->res->received);
            if (strcmp(outcome, "close") == 0) {
                buf_adds(&ce->res->received, "(end of file, no reply byte)");
            } else if (strcmp(outcome, "preclose") == 0) {
                buf_adds(&ce->res->received, "(end of file before the greeting)");
            } else {
                buf_adds(&ce->res->received, outcome);
            }
            rc = failf(ce, "unexpected handshake result");
        } else if (strcmp(outcome, "01") != 0 && strcmp(outcome, "close") != 0 &&
                   strcmp(outcome, "preclose") != 0) {
            char after[64];
            snprintf(after, sizeof after, "the reply %s", outcome);
            rc = expect_raw_close(ce, c, step_bound(ce, st), after);
        }
        if (rc == 0 && json_array_size(alts) > 1) {
            note_variant(ce, outcome);
        }
    }
    json_decref(alts);
    return rc;
}

int step_send(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    json_t *hx = json_object_get(st, "hex");
    if (hx != NULL) {
        struct buf b;
        buf_init(&b);
        char *s = subst(json_string_value(hx), ce->prefix, 1);
        (void)hex_decode(s, &b);
        free(s);
        queue_bytes(c, buf_data(&b), buf_len(&b));
        buf_free(&b);
        return 0;
    }
    struct built b;
    if (build_frame(ce, c, json_object_get(st, "frame"), &b) != 0) {
        buf_free(&b.bytes);
        return -1;
    }
    json_t *split = json_object_get(st, "split_at");
    size_t from = 0;
    size_t si;
    json_t *sv;
    json_array_foreach(split, si, sv) {
        size_t to = (size_t)json_integer_value(sv);
        if (to <= from || to >= buf_len(&b.bytes)) {
            continue;
        }
        queue_bytes(c, buf_data(&b.bytes) + from, to - from);
        from = to;
        json_t *pt = json_object_get(st, "pause_t");
        int64_t pause = pt != NULL ? (int64_t)(json_number_value(pt) * (double)ce->T_ms) : 50;
        pump(ce, now_ms() + pause, pred_never, NULL);
    }
    queue_bytes(c, buf_data(&b.bytes) + from, buf_len(&b.bytes) - from);
    buf_free(&b.bytes);
    json_t *ack = json_object_get(st, "ack");
    if (ack == NULL) {
        return 0;
    }
    return expect_ack(ce, c, b.op_id, json_incref(ack), now_ms() + step_bound(ce, st));
}

/* Appends the bytes of name as hex digits, as a _hex field takes them. */
static void hex_field(struct buf *out, const struct buf *name)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < buf_len(name); k++) {
        buf_addc(out, (uint8_t)digits[buf_data(name)[k] >> 4]);
        buf_addc(out, (uint8_t)digits[buf_data(name)[k] & 15u]);
    }
}

int step_barrier(struct case_exec *ce, const json_t *st, struct cf_client *a)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(st, "to"), i, l) {
        struct cf_client *t = client_get(ce, json_string_value(l), 0);
        if (t == NULL) {
            return failf(ce, "unknown barrier target");
        }
        char payload[64];
        snprintf(payload, sizeof payload, "barrier-%u", ++ce->barrier_seq);
        json_t *fr = json_object();
        json_object_set_new(fr, "op", json_string("message"));
        json_object_set_new(fr, "qos", json_integer(1));
        struct buf hex;
        buf_init(&hex);
        hex_field(&hex, &t->name);
        json_object_set_new(fr, "target_hex", json_string(buf_str(&hex)));
        json_object_set_new(fr, "payload", json_string(payload));
        struct built b;
        int rc = queue_frame(ce, a, fr, &b);
        json_decref(fr);
        if (rc != 0) {
            buf_free(&hex);
            return -1;
        }
        json_t *msg = json_object();
        json_object_set_new(msg, "kind", json_string("message"));
        buf_reset(&hex);
        hex_field(&hex, &a->name);
        json_object_set_new(msg, "sender_hex", json_string(buf_str(&hex)));
        buf_free(&hex);
        json_object_set_new(msg, "payload", json_string(payload));
        json_object_set_new(msg, "realtime", json_integer(0));
        int64_t deadline = now_ms() + ce->bound_ms;
        if (t == a) {
            rc = expect_frames_strict(ce, a, msg, deadline);
            if (rc == 0) {
                rc = expect_ack(ce, a, b.op_id, json_string("01"), deadline);
            }
        } else {
            rc = expect_ack(ce, a, b.op_id, json_string("01"), deadline);
            if (rc == 0) {
                rc = expect_frames_strict(ce, t, msg, deadline);
                if (rc != 0) {
                    buf_printf(&ce->res->msg, " (barrier message to client %s: every frame "
                               "from %s queued before it must have been consumed)", t->label,
                               a->label);
                }
            }
        }
        json_decref(msg);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

int step_close(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    (void)st;
    int64_t deadline = now_ms() + 1000;
    while (buf_len(&c->out) > 0 && !c->wclosed && now_ms() < deadline) {
        pump(ce, now_ms() + 10, pred_never, NULL);
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    return 0;
}
