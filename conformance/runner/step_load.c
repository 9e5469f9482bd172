/* The flood step: many frames from one client, either all at once (the
 * broker must keep reading), one at a time, or until a given ACK. */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <string.h>

#include "busrt/le.h"

static int pred_flushed(struct case_exec *ce, void *arg)
{
    (void)ce;
    struct cf_client *c = arg;
    return buf_len(&c->out) == 0 || c->wclosed;
}

/* One frame at a time: send, then wait for its ACK okc. */
static int flood_lockstep(struct case_exec *ce, struct cf_client *c, const json_t *fr,
                          json_int_t count, uint8_t okc, int64_t b)
{
    for (json_int_t i = 0; i < count; i++) {
        struct built bb;
        if (queue_frame(ce, c, fr, &bb) != 0) {
            return -1;
        }
        if (expect_ack(ce, c, bb.op_id, json_integer(okc), now_ms() + b) != 0) {
            buf_printf(&ce->res->msg, " (ACK %lld of %lld)", (long long)i + 1,
                       (long long)count);
            return -1;
        }
    }
    return 0;
}

/* Every frame at once: the broker must read them all within the bound,
 * then, for a QoS with ACKs, acknowledge each with okc in order. */
static int flood_burst(struct case_exec *ce, struct cf_client *c, const json_t *fr,
                       json_int_t count, uint8_t okc, int64_t b)
{
    uint8_t first_id[4] = {0};
    int wants_ack = 0;
    for (json_int_t i = 0; i < count; i++) {
        struct built bb;
        if (queue_frame(ce, c, fr, &bb) != 0) {
            return -1;
        }
        if (i == 0) {
            memcpy(first_id, bb.op_id, 4);
        }
        wants_ack = (bb.flags / 64u) & 1u;
    }
    int64_t deadline = now_ms() + b;
    pump(ce, deadline, pred_flushed, c);
    if (buf_len(&c->out) > 0 && !c->wclosed) {
        return failf(ce, "the broker did not read the flood of %lld frames within %lld ms "
                     "(it must keep reading from the sender)", (long long)count,
                     (long long)b);
    }
    if (!wants_ack) {
        return 0;
    }
    uint32_t id = busrt_get_le32(first_id);
    for (json_int_t i = 0; i < count; i++) {
        uint8_t op_id[4];
        busrt_put_le32(op_id, id + (uint32_t)i);
        if (expect_ack(ce, c, op_id, json_integer(okc), deadline + b) != 0) {
            buf_printf(&ce->res->msg, " (ACK %lld of %lld)", (long long)i + 1,
                       (long long)count);
            return -1;
        }
    }
    return 0;
}

/* Frames one by one, each acknowledged okc, until the broker answers one
 * with want; any_ack is the matcher named when no ACK comes. */
static int flood_until(struct case_exec *ce, struct cf_client *c, const json_t *fr,
                       json_int_t max, uint8_t okc, uint8_t want, int64_t b,
                       const json_t *any_ack)
{
    for (json_int_t i = 0; i < max; i++) {
        struct built bb;
        if (queue_frame(ce, c, fr, &bb) != 0) {
            return -1;
        }
        int64_t deadline = now_ms() + b;
        for (;;) {
            struct bframe f;
            if (await_frame(ce, c, deadline, &f, any_ack, "flood: waiting for an ACK") != 1) {
                return -1;
            }
            if (ignorable(ce, &f)) {
                bframe_free(&f);
                continue;
            }
            if (f.type != F_ACK || memcmp(f.raw + 1, bb.op_id, 4) != 0 ||
                (f.code != want && f.code != okc)) {
                buf_reset(&ce->res->expected);
                buf_printf(&ce->res->expected, "fe %02x %02x %02x %02x %02x (or %02x)",
                           bb.op_id[0], bb.op_id[1], bb.op_id[2], bb.op_id[3], okc, want);
                set_received(ce, &f);
                bframe_free(&f);
                return failf(ce, "flood: unexpected frame after frame %lld", (long long)i + 1);
            }
            int done = f.code == want;
            bframe_free(&f);
            if (done) {
                if (ce->r->verbose) {
                    fprintf(stderr, "#   flood: ACK %02x after %lld frames\n", want,
                            (long long)i + 1);
                }
                return 0;
            }
            break;
        }
    }
    return failf(ce, "flood: no ACK %02x after %lld frames", want, (long long)max);
}

int step_flood(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    json_t *fr = json_object_get(st, "frame");
    uint8_t okc = 0x01;
    json_t *acks = json_object_get(st, "acks");
    if (acks != NULL) {
        (void)json_byte(acks, &okc);
    }
    json_t *until = json_object_get(st, "until_ack");
    int64_t b = step_bound(ce, st);
    json_int_t count = json_integer_value(json_object_get(st, "count"));
    if (until == NULL) {
        return json_is_true(json_object_get(st, "lockstep"))
                   ? flood_lockstep(ce, c, fr, count, okc, b)
                   : flood_burst(ce, c, fr, count, okc, b);
    }
    uint8_t want;
    (void)json_byte(until, &want);
    json_int_t max = json_integer_value(json_object_get(st, "max"));
    json_t *any_ack = json_pack("{s:s}", "kind", "ack");
    int rc = flood_until(ce, c, fr, max, okc, want, b, any_ack);
    json_decref(any_ack);
    return rc;
}
