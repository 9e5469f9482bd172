/* Router: one client frame in, deliveries and an ACK out. Receivers come
 * from the indexes; each delivered frame is built once and shared by every
 * receiver's queue. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "budget.h"
#include "broker.h"
#include "busrt/codes.h"
#include "busrt/frame.h"
#include "busrt/utf8.h"
#include "conn.h"
#include "coreapi.h"
#include "index.h"
#include "log.h"
#include "mem.h"
#include "outq.h"
#include "registry.h"
#include "mem.h"

struct outbuf *router_build(struct broker *b, uint8_t kind, int realtime,
                            const struct client *from, const uint8_t *topic, size_t topic_len,
                            const uint8_t *payload, size_t payload_len)
{
    size_t body = from->name_len + 1u + payload_len;
    if (kind == BUSRT_KIND_PUBLISH) {
        body += topic_len + 1u;
    }
    if (body > UINT32_MAX) {
        return NULL;
    }
    struct outbuf *f;
    while ((f = outbuf_new(BUSRT_FRAME_HEADER_LEN + body)) == NULL && budget_reclaim(b)) {
    }
    if (f == NULL) {
        return NULL;
    }
    struct busrt_frame_header h = {kind, (uint32_t)body, realtime ? 1u : 0u};
    (void)busrt_frame_header_encode(&h, f->data, BUSRT_FRAME_HEADER_LEN);
    uint8_t *p = f->data + BUSRT_FRAME_HEADER_LEN;
    memcpy(p, from->name, from->name_len);
    p += from->name_len;
    *p++ = 0;
    if (kind == BUSRT_KIND_PUBLISH) {
        if (topic_len > 0) {
            memcpy(p, topic, topic_len);
        }
        p += topic_len;
        *p++ = 0;
    }
    if (payload_len > 0) {
        memcpy(p, payload, payload_len);
    }
    return f;
}

int router_deliver(struct broker *b, struct client *c, struct outbuf *f)
{
    int rc = client_enqueue(b, c, f);
    if (rc == 0 || rc == CLIENT_Q_NOMEM) {
        return rc;
    }
    if (rc == CLIENT_Q_DROPPED) {
        return -1;
    }
    log_warn("client %s: output queue full (%zu frames, %zu bytes; limits "
             "--queue-size %zu, --queue-bytes %zu); dropping it",
             client_label(c), c->q.count, c->q.bytes, b->cfg.queue_size,
             b->cfg.queue_bytes);
    client_kill(b, c, "output queue full");
    return -1;
}

void router_ack(struct broker *b, struct client *c, uint8_t code)
{
    struct outbuf *f;
    while ((f = outbuf_new(BUSRT_ACK_LEN)) == NULL && budget_reclaim(b)) {
    }
    if (f == NULL || c->dead) {
        outbuf_unref(f);
        if (!c->dead) { /* REQ-ERR-7: an ACK that cannot be queued closes */
            client_kill(b, c, "out of memory");
        }
        return;
    }
    struct busrt_ack a = {c->hdr.op_id, code};
    (void)busrt_ack_encode(&a, f->data, BUSRT_ACK_LEN);
    if (router_deliver(b, c, f) == CLIENT_Q_NOMEM) {
        client_kill(b, c, "out of memory");
    }
    outbuf_unref(f);
}

/* Index visitor: collects each client once per routing generation. */
static void collect(void *ctx, struct client *c)
{
    struct broker *b = ctx;
    if (c->mark == b->gen || c->dead) {
        return;
    }
    if (b->nrcpt == b->rcpt_cap) {
        size_t ncap = b->rcpt_cap == 0 ? 64u : b->rcpt_cap * 2u;
        struct client **n = mem_realloc(b->rcpt, ncap * sizeof *n);
        if (n == NULL) {
            b->rcpt_short = 1; /* the caller answers 74 (REQ-ERR-7) */
            return;
        }
        b->rcpt = n;
        b->rcpt_cap = ncap;
    }
    c->mark = b->gen;
    b->rcpt[b->nrcpt++] = c;
}

/* Starts collecting the receivers of one frame. */
static void collect_start(struct broker *b)
{
    b->gen++;
    b->nrcpt = 0;
    b->rcpt_short = 0;
}

/* Delivers one frame to every collected receiver (filter may skip some).
 * Returns the sender's result: 01, or 74 when memory ran out and some
 * receivers, or all, did not get the frame (REQ-ERR-7). */
static uint8_t deliver_all(struct broker *b, uint8_t kind, int realtime,
                           const struct client *from, const uint8_t *topic, size_t tlen,
                           const uint8_t *payload, size_t plen)
{
    struct budget_note *short_note = &b->notes[NOTE_RCPT_SHORT];
    if (b->rcpt_short && mem_limit() != 0u) {
        budget_warn(b, short_note,
                    "no room to collect the receivers of a frame from %s: only %zu of them "
                    "get it; the sender's result is 74",
                    client_label(from), b->nrcpt);
    } else if (b->rcpt_short) {
        log_error("out of memory collecting the receivers of a frame from %s: only %zu of "
                  "them get it; the sender's result is 74",
                  client_label(from), b->nrcpt);
    }
    struct budget_note *build_note = &b->notes[NOTE_FRAME_BUILD];
    struct budget_note *queue_note = &b->notes[NOTE_FRAME_QUEUE];
    struct outbuf *f = NULL;
    size_t reached = 0, missed = 0;
    for (size_t i = 0; i < b->nrcpt; i++) {
        struct client *r = b->rcpt[i];
        if (r->dead || r->kind == KIND_INTERNAL) {
            continue;
        }
        if (kind == BUSRT_KIND_PUBLISH && registry_matches(&r->excls, topic, tlen)) {
            continue;
        }
        if (f == NULL && (f = router_build(b, kind, realtime, from, topic, tlen, payload,
                                           plen)) == NULL) {
            if (mem_limit() != 0u) {
                budget_warn(b, build_note,
                            "no room for a frame of %zu bytes from %s: no receiver gets it; "
                            "the sender's result is 74",
                            plen + tlen + from->name_len, client_label(from));
            } else {
                log_error("out of memory building a frame from %s: no receiver gets it; "
                          "the sender's result is 74",
                          client_label(from));
            }
            return BUSRT_RC_OTHER;
        }
        if (router_deliver(b, r, f) == CLIENT_Q_NOMEM) {
            missed++;
        } else {
            reached++;
        }
    }
    outbuf_unref(f);
    if (missed > 0u) {
        budget_warn(b, queue_note,
                    "no room to queue a frame from %s for %zu of its receivers (%zu got it); "
                    "the sender's result is 74",
                    client_label(from), missed, reached);
    }
    return b->rcpt_short || missed > 0u ? BUSRT_RC_OTHER : BUSRT_RC_OK;
}

/* r: the registered client named by the target, or NULL. */
static uint8_t route_message(struct broker *b, const struct client *from, struct client *r,
                             const uint8_t *p, size_t plen, int realtime)
{
    if (r == NULL || r->dead) {
        return BUSRT_RC_NOT_REGISTERED;
    }
    struct budget_note *note = &b->notes[NOTE_LIST_STORE];
    struct outbuf *f = router_build(b, BUSRT_KIND_MESSAGE, realtime, from, NULL, 0, p, plen);
    int rc = f != NULL ? router_deliver(b, r, f) : CLIENT_Q_NOMEM;
    outbuf_unref(f);
    if (rc == CLIENT_Q_NOMEM) {
        if (mem_limit() != 0u) {
            budget_warn(b, note,
                        "no room for a message of %zu bytes from %s to %s: not delivered; "
                        "the sender's result is 74",
                        plen, client_label(from), client_label(r));
        } else {
            log_error("out of memory building a message from %s to %s: not delivered; the "
                      "sender's result is 74",
                      client_label(from), client_label(r));
        }
        return BUSRT_RC_OTHER; /* REQ-ERR-7 */
    }
    return rc == 0 ? BUSRT_RC_OK : BUSRT_RC_NOT_DELIVERED;
}

static uint8_t route_broadcast(struct broker *b, const struct client *from, const uint8_t *m,
                               size_t mlen, const uint8_t *p, size_t plen, int realtime)
{
    int rc;
    do { /* the walk needs a stack: make room when it cannot have one */
        collect_start(b);
        rc = name_index_match(&b->bnames, m, mlen, collect, b);
    } while (rc != 0 && budget_reclaim(b));
    b->rcpt_short |= rc != 0;
    return deliver_all(b, BUSRT_KIND_BROADCAST, realtime, from, NULL, 0, p, plen);
}

static uint8_t route_publish(struct broker *b, const struct client *from, const uint8_t *t,
                             size_t tlen, const uint8_t *p, size_t plen, int realtime)
{
    int rc;
    do {
        collect_start(b);
        rc = topic_index_match(&b->topics, t, tlen, collect, b);
    } while (rc != 0 && budget_reclaim(b));
    b->rcpt_short |= rc != 0;
    return deliver_all(b, BUSRT_KIND_PUBLISH, realtime, from, t, tlen, p, plen);
}

static uint8_t route_publish_for(struct broker *b, const struct client *from, const uint8_t *t,
                                 size_t tlen, const uint8_t *rcv, size_t rlen,
                                 const uint8_t *p, size_t plen, int realtime)
{
    struct client *primary = registry_get(b, rcv, rlen);
    collect_start(b);
    if (primary != NULL && primary->primary == NULL) {
        if (registry_matches(&primary->subs, t, tlen)) {
            collect(b, primary);
        }
        for (struct client *s = primary->secondary; s != NULL; s = s->next_secondary) {
            if (registry_matches(&s->subs, t, tlen)) {
                collect(b, s);
            }
        }
    }
    return deliver_all(b, BUSRT_KIND_PUBLISH, realtime, from, t, tlen, p, plen);
}

/* 1 when the access control file refuses op on s for c (logged). */
static int denied(const struct client *c, enum acl_op op, const uint8_t *s, size_t len)
{
    static const char *const what[] = {"message to", "publication on", "subscription to",
                                       "broadcast to"};
    if (c->acl == NULL || acl_allows(c->acl, op, s, len)) {
        return 0;
    }
    log_warn("client %s: %s '%.*s' denied by the access control file", client_label(c),
             what[op], len > 128u ? 128 : (int)len, (const char *)s);
    return 1;
}

/* Applies a subscribe-family operation to each topic of the list. Refused
 * patterns are skipped; the ACK reports the first refusal kind met. */
static uint8_t apply_list(struct broker *b, struct client *c, uint8_t op,
                          const uint8_t *body, size_t len)
{
    uint8_t code = BUSRT_RC_OK;
    size_t pos = 0;
    struct busrt_span it;
    while (busrt_list_next(body, len, &pos, &it) == 1) {
        const uint8_t *p = body + it.off;
        int rc = 0;
        if (op == BUSRT_OP_SUBSCRIBE && denied(c, ACL_SUBSCRIBE, p, it.len)) {
            code = BUSRT_RC_ACCESS;
            continue;
        }
        if (op == BUSRT_OP_SUBSCRIBE || op == BUSRT_OP_EXCLUDE) {
            /* room for the copy, its map slot and index nodes (budget.h) */
            (void)budget_admit(b, 4u * mem_charge(it.len + 1u) + 1024u, 0);
            if (c->dead) {
                return code; /* c itself was dropped to make room */
            }
        }
        switch (op) {
        case BUSRT_OP_SUBSCRIBE: rc = sub_add(b, c, p, it.len); break;
        case BUSRT_OP_UNSUBSCRIBE: sub_del(b, c, p, it.len); break;
        case BUSRT_OP_EXCLUDE: rc = excl_add(b, c, p, it.len); break;
        default: excl_del(b, c, p, it.len); break;
        }
        if (rc != 0 && code == BUSRT_RC_OK) {
            code = BUSRT_RC_OTHER; /* the rest of the list is still applied */
        }
    }
    return code;
}

static int utf8_or_close(struct broker *b, struct client *c, const uint8_t *p, size_t n,
                         const char *what)
{
    if (busrt_utf8_valid(p, n) == 1) {
        return 0;
    }
    log_warn("client %s: %s is not well-formed UTF-8 (op 0x%02x); closing",
             client_label(c), what, c->hdr.op);
    client_close(b, c, "invalid UTF-8");
    return -1;
}

/* The checks every routed target passes, in the order of Section 11:
 * UTF-8 (else close: -1), then the access policy (refused: 0); 1 to route. */
static int admit(struct broker *b, struct client *c, const uint8_t *t, size_t n,
                 const char *what, enum acl_op op)
{
    if (utf8_or_close(b, c, t, n, what) != 0) {
        return -1;
    }
    return denied(c, op, t, n) ? 0 : 1;
}

void router_dispatch(struct broker *b, struct client *c, const uint8_t *body, size_t len)
{
    const uint8_t op = c->hdr.op;
    const int realtime = (c->hdr.qos & BUSRT_QOS_REALTIME) != 0u;
    const int needs_ack = (c->hdr.qos & BUSRT_QOS_PROCESSED) != 0u;
    struct busrt_client_body fb;
    int rc = busrt_client_body_split(op, body, len, &fb);
    if (rc != 0) {
        log_warn("client %s: %s (op 0x%02x, %zu body bytes); closing", client_label(c),
                 busrt_strerror(rc), op, len);
        client_close(b, c, "malformed frame body");
        return;
    }
    const uint8_t *t = body + fb.target.off;
    const uint8_t *p = body + fb.payload.off;
    uint8_t code = BUSRT_RC_OK;
    switch (op) {
    case BUSRT_OP_NOP:
        return; /* a body with a NUL and no effect; no ACK, as deployed */
    case BUSRT_OP_MESSAGE: {
        int a = admit(b, c, t, fb.target.len, "message target", ACL_MESSAGE);
        if (a <= 0) {
            if (a < 0) {
                return;
            }
            code = BUSRT_RC_ACCESS;
            break;
        }
        struct client *r = registry_get(b, t, fb.target.len);
        if (r != NULL && r->kind == KIND_INTERNAL) {
            /* ACK first: the reply is the internal client's own later frame */
            if (needs_ack) {
                router_ack(b, c, BUSRT_RC_OK);
            }
            if (!c->dead) {
                coreapi_handle(b, c, p, fb.payload.len);
            }
            return;
        }
        code = route_message(b, c, r, p, fb.payload.len, realtime);
        break;
    }
    case BUSRT_OP_BROADCAST: {
        int a = admit(b, c, t, fb.target.len, "broadcast mask", ACL_BROADCAST);
        if (a < 0) {
            return;
        }
        code = a == 0 ? BUSRT_RC_ACCESS
                      : route_broadcast(b, c, t, fb.target.len, p, fb.payload.len, realtime);
        break;
    }
    case BUSRT_OP_PUBLISH: {
        int a = admit(b, c, t, fb.target.len, "topic", ACL_PUBLISH);
        if (a < 0) {
            return;
        }
        code = a == 0 ? BUSRT_RC_ACCESS
                      : route_publish(b, c, t, fb.target.len, p, fb.payload.len, realtime);
        break;
    }
    case BUSRT_OP_PUBLISH_FOR: {
        const uint8_t *rcv = body + fb.receiver.off;
        if (utf8_or_close(b, c, t, fb.target.len, "topic") != 0 ||
            utf8_or_close(b, c, rcv, fb.receiver.len, "receiver") != 0) {
            return;
        }
        if (denied(c, ACL_PUBLISH, t, fb.target.len)) {
            code = BUSRT_RC_ACCESS;
            break;
        }
        code = route_publish_for(b, c, t, fb.target.len, rcv, fb.receiver.len, p,
                                 fb.payload.len, realtime);
        break;
    }
    default: /* subscribe, unsubscribe, exclude, unexclude */
        if (utf8_or_close(b, c, body, len, "topic list") != 0) {
            return;
        }
        code = apply_list(b, c, op, body, len);
        break;
    }
    if (needs_ack && !c->dead) {
        router_ack(b, c, code);
    }
}

void router_publish_internal(struct broker *b, const uint8_t *topic, size_t tlen,
                             const uint8_t *payload, size_t len)
{
    (void)route_publish(b, b->internal, topic, tlen, payload, len, 0);
}

void router_broadcast_internal(struct broker *b, const uint8_t *mask, size_t mlen,
                               const uint8_t *payload, size_t len)
{
    (void)route_broadcast(b, b->internal, mask, mlen, payload, len, 0);
}

void router_message_internal(struct broker *b, const uint8_t *target, size_t tlen,
                             const uint8_t *payload, size_t len)
{
    struct client *r = registry_get(b, target, tlen);
    if (r == NULL || r->kind == KIND_INTERNAL ||
        route_message(b, b->internal, r, payload, len, 0) != BUSRT_RC_OK) {
        log_warn("internal message to '%.*s' not delivered", tlen > 64u ? 64 : (int)tlen,
                 (const char *)target);
    }
}
