/* One client connection: the handshake and frame-reading state machine on
 * top of the proved core decoders, and writing of its output queue. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bmap.h"
#include "budget.h"
#include "inproc.h"
#include "busrt/codes.h"
#include "busrt/frame.h"
#include "ev.h"
#include "log.h"
#include "outq.h"
#include "registry.h"
#include "router.h"
#include "timer.h"
#include "mem.h"

static int send_raw(struct broker *b, struct client *c, const uint8_t *p, size_t n);
static void skip_start(struct broker *b, struct client *c, size_t need);

#define LABEL_NAME_MAX 64u
#define LABEL_CAP 96u

const char *client_label(const struct client *c)
{
    if (c->label != NULL) {
        return c->label;
    }
    if (c->name == NULL) {
        return "(unregistered)";
    }
    return c->name_len <= LABEL_NAME_MAX ? (const char *)c->name : "(a long name)";
}

/* Log lines show at most 64 bytes of a name (names may be 65535 bytes);
 * only longer names need a label of their own. */
static void set_label(struct client *c)
{
    if (c->name_len > LABEL_NAME_MAX && (c->label = mem_alloc(LABEL_CAP)) != NULL) {
        (void)snprintf(c->label, LABEL_CAP, "%.64s...(%zu bytes)", (const char *)c->name,
                       c->name_len);
    }
}

/* Grows the descriptor -> client table to hold fd; 1 when it does. */
static int fd_table_fits(struct broker *b, int fd)
{
    size_t need = (size_t)fd + 1u;
    if (need <= b->byfd_cap) {
        return 1;
    }
    size_t ncap = b->byfd_cap == 0u ? 256u : b->byfd_cap;
    while (ncap < need) {
        ncap *= 2u;
    }
    struct client **t = mem_realloc(b->byfd, ncap * sizeof *t);
    if (t == NULL) {
        return 0;
    }
    memset(t + b->byfd_cap, 0, (ncap - b->byfd_cap) * sizeof *t);
    b->byfd = t;
    b->byfd_cap = ncap;
    return 1;
}

/* Moves c's timer to at when that is earlier than its current time. */
static void arm(struct broker *b, struct client *c, int64_t at)
{
    if (CLIENT_HAS_PEER(c)) {
        timers_lower(&b->timers, &c->timer, at);
    }
}

void client_watch(struct broker *b, struct client *c)
{
    if (c->fd < 0) {
        return;
    }
    if (b->foreign) { /* the loop's multiplexer is not ours to change */
        if (!c->rewatch) {
            c->rewatch = 1;
            c->next_rewatch = b->rewatch;
            b->rewatch = c;
        }
        return;
    }
    unsigned want = c->dead || b->draining ? 0u : (unsigned)EV_READ;
    if (c->q.count > 0 && c->write_stalled_since != 0 && (!c->dead || c->linger)) {
        want |= EV_WRITE;
    }
    if (ev_set(&b->ev, c->fd, want) != 0) {
        /* Only a kernel out of memory gets here; a client left waiting for
         * EV_WRITE is dropped by its write timeout. */
        log_warn("client %s: cannot change its descriptor's interest: %s",
                 client_label(c), strerror(errno));
    }
}

struct client *client_new(struct broker *b, int fd, enum client_kind kind)
{
    struct client *c = budget_alloc(b, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->id = ++b->next_id;
    c->fd = fd;
    c->kind = kind;
    c->st = ST_GREETING;
    c->need = BUSRT_GREETING_LEN;
    outq_init(&c->q, b->cfg.queue_size);
    bmap_init(&c->subs);
    bmap_init(&c->excls);
    if (kind != KIND_INTERNAL) {
        if (timers_reserve(&b->timers) != 0 ||
            (fd >= 0 && (!fd_table_fits(b, fd) || ev_set(&b->ev, fd, EV_READ) != 0))) {
            mem_free(c);
            return NULL;
        }
        if (fd >= 0) {
            b->byfd[fd] = c;
        }
        b->nconns++;
        b->nhandshakes++;
        c->in_handshake = 1;
        c->read_deadline = b->now + b->cfg.timeout_ns;
        c->next_ping = INT64_MAX;
        timers_set(&b->timers, &c->timer, c->read_deadline);
    }
    c->next = b->clients;
    if (b->clients != NULL) {
        b->clients->prev = c;
    }
    b->clients = c;
    return c;
}

/* Schedules c for closing at the end of the loop turn; removes it from
 * routing at once so nothing more is queued for it. */
void client_kill(struct broker *b, struct client *c, const char *why)
{
    if (c->dead) {
        return;
    }
    c->dead = 1;
    c->next_dead = b->dead;
    b->dead = c;
    if (c->linger) {
        c->linger_until = b->now + b->cfg.timeout_ns;
        arm(b, c, c->linger_until);
    }
    client_watch(b, c);
    if (c->link != NULL) {
        inproc_wake(c->link); /* its reader learns of the close */
    }
    if (c->registered) {
        log_info("client %s disconnected: %s", client_label(c), why);
    } else {
        log_debug("connection %llu closed during handshake: %s",
                  (unsigned long long)c->id, why);
    }
    registry_remove(b, c); /* also unlinks c from its primary */
    struct client *s;
    while ((s = c->secondary) != NULL) {
        client_kill(b, s, "its primary disconnected");
    }
}

void client_close(struct broker *b, struct client *c, const char *why)
{
    if (!c->dead && CLIENT_HAS_PEER(c)) {
        c->linger = 1; /* the reply or frames already queued still go out */
    }
    client_kill(b, c, why);
}

int client_start(struct broker *b, struct client *c)
{
    uint8_t g[BUSRT_GREETING_LEN];
    (void)busrt_greeting_encode(g, sizeof g);
    return send_raw(b, c, g, sizeof g);
}

void client_destroy(struct broker *b, struct client *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        b->clients = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (c->fd >= 0) {
        (void)ev_set(&b->ev, c->fd, 0u);
        b->byfd[c->fd] = NULL;
        (void)close(c->fd);
    }
    if (c->link != NULL) {
        inproc_detach(c->link);
        c->link = NULL;
    }
    if (c->kind != KIND_INTERNAL) {
        timers_remove(&b->timers, &c->timer);
        b->nconns--;
    }
    if (c->in_handshake) {
        b->nhandshakes--;
    }
    outq_free(&c->q);
    if (c->in != b->rbuf && c->in != c->stash) {
        mem_free(c->in);
    }
    mem_free(c->big);
    mem_free(c->name);
    mem_free(c->label);
    mem_free(c->source);
    mem_free(c);
}

/* Appends c to the loop's flush list (once until it is written). */
static void mark_flush(struct broker *b, struct client *c)
{
    if (!c->want_flush && CLIENT_HAS_PEER(c)) {
        c->want_flush = 1;
        c->next_flush = NULL;
        *b->flush_tail = c;
        b->flush_tail = &c->next_flush;
    }
}

int client_enqueue(struct broker *b, struct client *c, struct outbuf *f)
{
    if (c->dead || c->kind == KIND_INTERNAL) {
        return 0;
    }
    int rc;
    while ((rc = outq_push(&c->q, f, b->cfg.queue_bytes)) == -2 && budget_reclaim(b)) {
        if (c->dead) {
            return CLIENT_Q_DROPPED; /* c itself was dropped to make room */
        }
    }
    if (rc != 0) {
        return rc == -2 ? CLIENT_Q_NOMEM : CLIENT_Q_FULL;
    }
    mark_flush(b, c);
    return 0;
}

/* Queues a short raw reply (handshake byte, ACK); kills c when impossible. */
static int send_raw(struct broker *b, struct client *c, const uint8_t *p, size_t n)
{
    struct outbuf *f;
    while ((f = outbuf_new(n)) == NULL && budget_reclaim(b)) {
    }
    if (f == NULL) {
        client_kill(b, c, "out of memory");
        return -1;
    }
    memcpy(f->data, p, n);
    int rc = client_enqueue(b, c, f);
    outbuf_unref(f);
    if (rc != 0) {
        client_kill(b, c, rc == CLIENT_Q_NOMEM ? "out of memory" : "output queue full");
    }
    return rc;
}

void client_flush_list(struct broker *b)
{
    while (b->flush_list != NULL) {
        struct client *c = b->flush_list;
        b->flush_list = c->next_flush;
        if (b->flush_list == NULL) {
            b->flush_tail = &b->flush_list;
        }
        c->want_flush = 0;
        if (!c->dead || c->linger) {
            client_flush(b, c);
        }
    }
}

/* A write of n bytes of c's queue made progress. */
static void wrote(struct broker *b, struct client *c, size_t n)
{
    size_t frames = outq_consume(&c->q, n);
    c->w_frames += frames;
    c->w_bytes += n;
    b->w_frames += frames;
    b->w_bytes += n;
}

void client_flush(struct broker *b, struct client *c)
{
    if (c->link != NULL) { /* nothing to write: its reader takes the queue */
        if (c->q.count > 0 && (!c->dead || c->linger)) {
            if (c->write_stalled_since == 0) {
                c->write_stalled_since = b->now;
                arm(b, c, b->now + b->cfg.timeout_ns);
            }
            inproc_wake(c->link);
        }
        return;
    }
    struct iovec iov[64];
    while (c->q.count > 0 && (!c->dead || c->linger)) {
        int n = outq_iov(&c->q, iov, 64);
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (c->write_stalled_since == 0) {
                    c->write_stalled_since = b->now;
                    arm(b, c, b->now + b->cfg.timeout_ns);
                    client_watch(b, c);
                }
                return;
            }
            c->linger = 0; /* nothing more can be written */
            client_kill(b, c, errno == EPIPE || errno == ECONNRESET
                                  ? "peer closed the connection"
                                  : "write error");
            return;
        }
        wrote(b, c, (size_t)w);
        if (c->write_stalled_since != 0) {
            c->write_stalled_since = 0;
            client_watch(b, c);
        }
    }
}

size_t client_take(struct broker *b, struct client *c, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap && c->q.count > 0 && (!c->dead || c->linger)) {
        struct iovec iov[16];
        int k = outq_iov(&c->q, iov, 16);
        size_t got = 0;
        for (int i = 0; i < k && n + got < cap; i++) {
            size_t m = iov[i].iov_len < cap - n - got ? iov[i].iov_len : cap - n - got;
            memcpy(buf + n + got, iov[i].iov_base, m);
            got += m;
        }
        wrote(b, c, got);
        n += got;
    }
    if (n > 0) { /* progress: a stall, if any, starts again from now */
        c->write_stalled_since = c->q.count > 0 ? b->now : 0;
        if (c->q.count > 0) {
            arm(b, c, b->now + b->cfg.timeout_ns);
        }
    }
    return n;
}

/* The earliest deadline of c that is still to come. */
static int64_t next_due(const struct broker *b, const struct client *c)
{
    if (c->dead) {
        return c->linger && c->q.count > 0 ? c->linger_until : INT64_MAX;
    }
    int64_t t = c->read_deadline;
    if (c->write_stalled_since != 0 && c->write_stalled_since + b->cfg.timeout_ns < t) {
        t = c->write_stalled_since + b->cfg.timeout_ns;
    }
    return c->next_ping < t ? c->next_ping : t;
}

void client_on_timer(struct broker *b, struct client *c)
{
    int64_t now = b->now;
    if (c->dead) {
        if (c->linger && now >= c->linger_until) {
            log_debug("client %s: its queue could not be written out within the timeout; "
                      "discarding %zu frames", client_label(c), c->q.count);
            c->linger = 0; /* broker_reap frees it */
        }
    } else if (now >= c->read_deadline) {
        log_warn("client %s: %s timed out; dropping it", client_label(c),
                 c->st == ST_HEADER                      ? "no frame header or ping"
                 : c->st == ST_BODY || c->st == ST_SKIP ? "frame body"
                                                        : "handshake");
        client_kill(b, c, "read timeout");
    } else if (c->write_stalled_since != 0 &&
               now >= c->write_stalled_since + b->cfg.timeout_ns) {
        log_warn("client %s: write blocked for longer than the timeout; dropping it",
                 client_label(c));
        client_kill(b, c, "write timeout");
    } else if (now >= c->next_ping) {
        c->next_ping = now + b->cfg.timeout_ns / 2;
        if (c->q.count == 0) { /* REQ-KA-1: a queued frame may stand in */
            (void)router_deliver(b, c, b->nop);
        }
    }
    timers_set(&b->timers, &c->timer, next_due(b, c));
}

/* ---- input ------------------------------------------------------------------ */

/* The bytes the current state waits for, contiguous: in the read buffer, or
 * in c->big for items larger than it. NULL until all have arrived. */
static const uint8_t *take(struct client *c)
{
    size_t avail = c->in_end - c->in_start;
    if (c->big != NULL) {
        size_t k = c->big_len - c->big_have;
        if (k > avail) {
            k = avail;
        }
        memcpy(c->big + c->big_have, c->in + c->in_start, k);
        c->big_have += k;
        c->in_start += k;
        return c->big_have == c->big_len ? c->big : NULL;
    }
    if (avail >= c->need) {
        const uint8_t *p = c->in + c->in_start;
        c->in_start += c->need;
        return p;
    }
    if (c->need > c->in_cap) {
        /* c->need was checked against a configured limit before this. */
        c->big = mem_alloc(c->need);
        if (c->big == NULL) {
            return NULL;
        }
        c->big_len = c->need;
        c->big_have = 0;
        return take(c);
    }
    return NULL;
}

static void release_big(struct client *c)
{
    mem_free(c->big);
    c->big = NULL;
    c->big_len = c->big_have = 0;
}

static void expect(struct broker *b, struct client *c, enum conn_state st, size_t need)
{
    c->st = st;
    c->need = need;
    int64_t t = b->cfg.timeout_ns;
    if (st == ST_HEADER) {
        t += t / 4; /* idle clients ping; allow 1.25 x timeout between frames */
    }
    c->read_deadline = b->now + t;
    arm(b, c, c->read_deadline); /* later deadlines wait for the timer */
}

static void handshake_step(struct broker *b, struct client *c, const uint8_t *p)
{
    uint8_t code;
    switch (c->st) {
    case ST_GREETING:
        if (busrt_greeting_decode(p, BUSRT_GREETING_LEN) != (int)BUSRT_GREETING_LEN) {
            log_warn("connection %llu refused: %02x %02x %02x is not the BUS/RT v1 greeting",
                     (unsigned long long)c->id, p[0], p[1], p[2]);
            code = BUSRT_RC_NOT_SUPPORTED;
            (void)send_raw(b, c, &code, 1);
            client_close(b, c, "unsupported greeting or protocol version");
            return;
        }
        code = BUSRT_RC_OK;
        if (send_raw(b, c, &code, 1) == 0) {
            expect(b, c, ST_NAMELEN, BUSRT_NAME_LEN_FIELD);
        }
        return;
    case ST_NAMELEN: {
        uint16_t n = 0;
        (void)busrt_name_len_decode(p, BUSRT_NAME_LEN_FIELD, &n);
        if (n == 0) {
            log_warn("connection %llu refused: empty client name", (unsigned long long)c->id);
            code = BUSRT_RC_DATA;
            (void)send_raw(b, c, &code, 1);
            client_close(b, c, "empty client name");
            return;
        }
        if (n > b->cfg.max_name_len) {
            code = BUSRT_RC_DATA;
            (void)send_raw(b, c, &code, 1);
            log_warn("connection %llu refused: name of %u bytes exceeds --max-name-len %zu",
                     (unsigned long long)c->id, n, b->cfg.max_name_len);
            client_close(b, c, "name too long");
            return;
        }
        expect(b, c, ST_NAME, n);
        return;
    }
    case ST_NAME: {
        int rc = busrt_name_check(p, c->need);
        if (rc == 0 && busrt_nul_find(p, c->need, 0) != c->need) {
            rc = BUSRT_ERR_NAME; /* a NUL cannot travel in a body's sender field */
        }
        if (rc != 0) {
            log_warn("connection %llu refused: %s", (unsigned long long)c->id,
                     busrt_strerror(rc));
            code = BUSRT_RC_DATA;
            (void)send_raw(b, c, &code, 1);
            client_close(b, c, busrt_strerror(rc));
            return;
        }
        /* room for the name and what registering it stores (indexes) */
        (void)budget_admit(b, 4u * mem_charge(c->need + 1u) + 4096u, 0);
        c->name = c->dead ? NULL : budget_alloc(b, c->need + 1u);
        if (c->name == NULL || c->dead) {
            mem_free(c->name);
            c->name = NULL;
            client_kill(b, c, "out of memory");
            return;
        }
        memcpy(c->name, p, c->need);
        c->name[c->need] = '\0';
        c->name_len = c->need;
        c->primary_len = busrt_name_primary_len(c->name, c->name_len);
        set_label(c);
        if (registry_add(b, c, &code) != 0) {
            log_warn("client %s refused: %s (code 0x%02x)", client_label(c),
                     busrt_rc_str(code), code);
            (void)send_raw(b, c, &code, 1);
            client_close(b, c, busrt_rc_str(code));
            return;
        }
        if (c->in_handshake) {
            c->in_handshake = 0;
            b->nhandshakes--;
        }
        code = BUSRT_RC_OK;
        if (send_raw(b, c, &code, 1) == 0) {
            expect(b, c, ST_HEADER, BUSRT_CLIENT_HEADER_LEN);
            c->next_ping = b->now + b->cfg.timeout_ns / 2;
            arm(b, c, c->next_ping);
        }
        return;
    }
    default:
        return;
    }
}

/* A complete 9-byte frame header: check it, then wait for the body (or
 * dispatch a body-less frame at once). */
static void on_header(struct broker *b, struct client *c, const uint8_t *p)
{
    int rc = busrt_client_header_decode(p, BUSRT_CLIENT_HEADER_LEN, b->cfg.payload_limit,
                                        &c->hdr);
    if (rc == BUSRT_ERR_LIMIT) {
        struct busrt_client_header big;
        (void)busrt_client_header_decode(p, BUSRT_CLIENT_HEADER_LEN, UINT32_MAX, &big);
        log_warn("client %s: frame body of %lu bytes exceeds --payload-size-limit %lu; "
                 "closing",
                 client_label(c), (unsigned long)big.body_len,
                 (unsigned long)b->cfg.payload_limit);
        client_close(b, c, "frame too large");
        return;
    }
    if (rc < 0) {
        log_warn("client %s: %s (flags 0x%02x); closing", client_label(c), busrt_strerror(rc),
                 p[4]);
        client_close(b, c, "invalid frame header");
        return;
    }
    uint32_t blen = busrt_client_body_len(&c->hdr);
    if (blen > b->cfg.buf_size) {
        /* Collected in a buffer of its own, then copied once into the frame
         * delivered: both must fit, and leave room for small frames. */
        size_t hold = mem_charge(blen);
        size_t copy = mem_charge(sizeof(struct outbuf) + BUSRT_FRAME_HEADER_LEN +
                                 c->name_len + 1u + blen);
        int fits = hold != SIZE_MAX && copy != SIZE_MAX &&
                   budget_admit(b, hold + copy, 1);
        if (c->dead) {
            return; /* c itself was dropped to make room */
        }
        if (!fits) {
            skip_start(b, c, blen);
            return;
        }
    }
    if (blen > 0u) {
        expect(b, c, ST_BODY, blen);
        return;
    }
    c->r_frames++;
    b->r_frames++;
    expect(b, c, ST_HEADER, BUSRT_CLIENT_HEADER_LEN);
    if (c->hdr.op != BUSRT_OP_NOP || c->hdr.qos != 0u) { /* not a ping */
        router_dispatch(b, c, (const uint8_t *)"", 0);
    }
}

/* The body of the current frame cannot be held within --memory-limit: its
 * need bytes are read and discarded (ST_SKIP); skip_input answers at the
 * end of it. */
static void skip_start(struct broker *b, struct client *c, size_t need)
{
    struct budget_note *note = &b->notes[NOTE_SKIP_BODY];
    budget_warn(b, note,
                "client %s: frame body of %lu bytes (op 0x%02x) cannot be held (%zu of %zu "
                "bytes in use); reading and discarding it, result 74",
                client_label(c), (unsigned long)busrt_client_body_len(&c->hdr), c->hdr.op,
                mem_used(), mem_limit());
    expect(b, c, ST_SKIP, need);
}

/* Consumes what is there of a discarded body; 1 when it is over. */
static int skip_input(struct broker *b, struct client *c)
{
    size_t k = c->in_end - c->in_start;
    if (k > c->need) {
        k = c->need;
    }
    c->in_start += k;
    c->need -= k;
    if (c->need > 0u) {
        return 0;
    }
    uint32_t n = busrt_client_body_len(&c->hdr);
    c->r_frames++;
    c->r_bytes += n;
    b->r_frames++;
    b->r_bytes += n;
    expect(b, c, ST_HEADER, BUSRT_CLIENT_HEADER_LEN);
    /* REQ-ERR-7: never 01 for a frame that was not routed; the connection
     * stays open. Op 0 gets no ACK, as when it is handled. */
    if ((c->hdr.qos & BUSRT_QOS_PROCESSED) != 0u && c->hdr.op != BUSRT_OP_NOP) {
        router_ack(b, c, BUSRT_RC_OTHER);
    }
    return 1;
}

static void on_body(struct broker *b, struct client *c, const uint8_t *p)
{
    size_t n = c->need;
    c->r_frames++;
    c->r_bytes += n;
    b->r_frames++;
    b->r_bytes += n;
    expect(b, c, ST_HEADER, BUSRT_CLIENT_HEADER_LEN);
    router_dispatch(b, c, p, n);
}

/* Parses and handles every complete item in the read buffer. */
static void process_input(struct broker *b, struct client *c)
{
    while (!c->dead) {
        if (c->st == ST_SKIP) {
            if (!skip_input(b, c)) {
                return;
            }
            continue;
        }
        const uint8_t *p = take(c);
        if (p == NULL) {
            if (c->big == NULL && c->need > c->in_cap) {
                if (c->st == ST_BODY) { /* no buffer for the body: discard it */
                    skip_start(b, c, c->need);
                    continue;
                }
                client_kill(b, c, "out of memory");
            }
            return;
        }
        const int from_big = p == c->big;
        if (c->st < ST_HEADER) {
            handshake_step(b, c, p);
        } else if (c->st == ST_HEADER) {
            on_header(b, c, p);
        } else {
            on_body(b, c, p);
        }
        if (from_big) {
            release_big(c); /* names and bodies larger than the read buffer */
        }
    }
}

/* Makes room at the tail of the read buffer: an idle client borrows the
 * broker's shared buffer. Returns 0, or -1 when c was killed. */
static int input_space(struct broker *b, struct client *c)
{
    if (c->in == NULL) {
        c->in = b->rbuf;
        c->in_cap = b->cfg.buf_size;
        c->in_start = c->in_end = 0;
    } else if (c->in == c->stash) { /* the shared buffer is free while c reads */
        size_t left = c->in_end - c->in_start;
        memcpy(b->rbuf, c->stash + c->in_start, left);
        c->in = b->rbuf;
        c->in_cap = b->cfg.buf_size;
        c->in_start = 0;
        c->in_end = left;
    }
    if (c->in_start == c->in_end) {
        c->in_start = c->in_end = 0;
    } else if (c->in_end == c->in_cap && c->in_start > 0) {
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
    if (c->in_end == c->in_cap) { /* cannot happen: a full buffer is consumed */
        client_kill(b, c, "internal error: input buffer full");
        return -1;
    }
    return 0;
}

/* After reading: gives the shared buffer back. Bytes of an incomplete item
 * move to a buffer of c's own, which is freed once it is consumed, so an
 * idle client holds no read buffer. */
static void input_release(struct broker *b, struct client *c)
{
    size_t left = c->in_end - c->in_start;
    if (c->in != NULL && (left == 0u || c->dead)) {
        if (c->in != b->rbuf && c->in != c->stash) {
            mem_free(c->in);
        }
        c->in = NULL;
        c->in_cap = c->in_start = c->in_end = 0;
        return;
    }
    if (c->in != b->rbuf) {
        return;
    }
    uint8_t *own = budget_alloc(b, b->cfg.buf_size);
    const uint8_t *rest = b->rbuf + c->in_start;
    if (own != NULL && !c->dead) {
        memcpy(own, rest, left);
        c->in = own;
        c->in_start = 0;
        c->in_end = left;
        return;
    }
    mem_free(own);
    c->in = NULL;
    c->in_cap = c->in_start = c->in_end = 0;
    if (c->dead) {
        return; /* c itself was dropped to make room */
    }
    if (left <= CLIENT_STASH) { /* a partial header, greeting or name length */
        memcpy(c->stash, rest, left);
        c->in = c->stash;
        c->in_cap = CLIENT_STASH;
        c->in_end = left;
    } else if (c->st == ST_BODY) { /* the part read is dropped, the rest discarded */
        skip_start(b, c, c->need - left);
    } else {
        client_kill(b, c, "out of memory");
    }
}

/* Handles n bytes just appended to the read buffer. */
static void input_added(struct broker *b, struct client *c, size_t n)
{
    c->in_end += n;
    process_input(b, c);
    /* A partial item must fit: compact when the buffer's tail is too short. */
    if (!c->dead && c->big == NULL && c->in_start > 0 && c->in_end - c->in_start < c->need &&
        c->in_cap - c->in_start < c->need) {
        memmove(c->in, c->in + c->in_start, c->in_end - c->in_start);
        c->in_end -= c->in_start;
        c->in_start = 0;
    }
}

/* Reads what the socket has and processes it. Returns 0, or -1 when c was
 * killed. */
int client_on_readable(struct broker *b, struct client *c)
{
    if (input_space(b, c) != 0) {
        input_release(b, c);
        return -1;
    }
    ssize_t r;
    do {
        r = read(c->fd, c->in + c->in_end, c->in_cap - c->in_end);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            client_kill(b, c, "read error");
        }
    } else if (r == 0) {
        client_kill(b, c, "peer closed the connection");
    } else {
        input_added(b, c, (size_t)r);
    }
    input_release(b, c);
    return c->dead ? -1 : 0;
}

void client_feed(struct broker *b, struct client *c, const uint8_t *p, size_t n)
{
    while (n > 0 && !c->dead && input_space(b, c) == 0) {
        size_t k = c->in_cap - c->in_end;
        if (k > n) {
            k = n;
        }
        memcpy(c->in + c->in_end, p, k);
        p += k;
        n -= k;
        input_added(b, c, k);
    }
    input_release(b, c);
}
