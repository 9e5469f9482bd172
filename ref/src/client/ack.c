/* libbusrt: the table of awaited ACKs (a ring in send order) and
 * busrt_wait_ack. */
#include "client_int.h"

#include <stdlib.h>

static struct bc_ack_slot *ack_at(busrt_client *c, size_t i)
{
    return &c->acks[(c->ack_head + i) % c->ack_cap];
}

/* Drops settled slots from the front: ACKed ops that nobody awaits. An op
 * forgotten before its ACK stays (pending) until the ACK comes, so that
 * ACKs keep matching their ops in order. */
static void ack_gc(busrt_client *c)
{
    while (c->ack_count > 0) {
        const struct bc_ack_slot *s = ack_at(c, 0);
        if (!s->done || s->want) {
            break;
        }
        c->ack_head = (c->ack_head + 1u) % c->ack_cap;
        c->ack_count--;
    }
}

int bc_ack_track(busrt_client *c, uint32_t op_id)
{
    ack_gc(c);
    if (c->ack_count == c->ack_cap && c->ack_count > 0 && ack_at(c, 0)->done) {
        /* Full: evict the oldest result nobody collected. */
        c->ack_head = (c->ack_head + 1u) % c->ack_cap;
        c->ack_count--;
    }
    if (c->ack_count == c->ack_cap) {
        size_t ncap = c->ack_cap == 0 ? 64u : c->ack_cap * 2u;
        struct bc_ack_slot *n = malloc(ncap * sizeof *n);
        if (n == NULL) {
            return BUSRT_E_NOMEM;
        }
        for (size_t i = 0; i < c->ack_count; i++) {
            n[i] = *ack_at(c, i);
        }
        free(c->acks);
        c->acks = n;
        c->ack_cap = ncap;
        c->ack_head = 0;
    }
    struct bc_ack_slot *s = &c->acks[(c->ack_head + c->ack_count) % c->ack_cap];
    s->op_id = op_id;
    s->code = 0;
    s->done = 0;
    s->want = 1;
    c->ack_count++;
    return 0;
}

struct bc_ack_slot *bc_ack_find(busrt_client *c, uint32_t op_id)
{
    for (size_t i = 0; i < c->ack_count; i++) {
        struct bc_ack_slot *s = ack_at(c, i);
        if (s->op_id == op_id && s->want) {
            return s;
        }
    }
    return NULL;
}

void bc_ack_forget(busrt_client *c, uint32_t op_id)
{
    struct bc_ack_slot *s = bc_ack_find(c, op_id);
    if (s != NULL) {
        s->want = 0;
        ack_gc(c);
    }
}

/* The first ACK for an op id is its result (REQ-ACK-7); ACKs for ops
 * nobody awaits are ignored. */
void bc_ack_record(busrt_client *c, uint32_t op_id, uint8_t code)
{
    for (size_t i = 0; i < c->ack_count; i++) {
        struct bc_ack_slot *s = ack_at(c, i);
        if (s->op_id == op_id && !s->done) {
            s->done = 1;
            s->code = code;
            break;
        }
    }
    ack_gc(c);
}

int busrt_wait_ack(busrt_client *c, uint32_t op_id, int timeout_ms)
{
    if (c == NULL) {
        return BUSRT_E_INVAL;
    }
    int64_t deadline = bc_deadline(timeout_ms);
    for (;;) {
        struct bc_ack_slot *s = bc_ack_find(c, op_id);
        if (s == NULL) {
            return BUSRT_E_UNKNOWN_OP;
        }
        if (s->done) {
            uint8_t code = s->code;
            s->want = 0;
            ack_gc(c);
            return code == BUSRT_RC_OK ? 0 : BUSRT_E_RC(code);
        }
        if (c->err != 0) {
            s->want = 0;
            return c->err;
        }
        int r = bc_pump(c, deadline);
        if (r == BUSRT_E_TIMEOUT) {
            /* The last read may have brought it. */
            s = bc_ack_find(c, op_id);
            if (s == NULL || !s->done) {
                return r;
            }
        }
    }
}
