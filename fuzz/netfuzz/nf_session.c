/* One fuzzing session against a broker: the actions, the reading of every
 * socket, and the comparison of each received frame with the model.
 *
 * Synchronisation. The spec orders frames only per connection (REQ-ORD-1,
 * REQ-ORD-2), so after every action each client that sent complete frames
 * sends a sync frame (QoS 1 message to the never-registered name
 * PREFIX.=void): its ACK 71 proves that the broker processed everything
 * the client sent before, and that every delivery those frames cause is
 * queued (REQ-ACK-6). Then every expected frame must arrive within
 * --wait-ms. Deliveries that are not expected are reported whenever they
 * arrive (each carries a unique tag), and a final barrier (a message from
 * the control client to every live client) flushes the receivers' queues
 * before the session ends. After a client dies (garbage, disconnect, its
 * primary leaving) the driver waits for EOF on its socket and then for the
 * broker to release its name (a message to the name must get ACK 71). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "nf.h"

/* ---- Violations ------------------------------------------------------------ */

void nf_violation(struct nf_sess *S, int conn, const char *req, const char *fmt, ...)
{
    if (S->violated) {
        return;
    }
    S->violated = 1;
    S->vconn = conn;
    snprintf(S->vreq, sizeof S->vreq, "%s", req);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(S->vmsg, sizeof S->vmsg, fmt, ap);
    va_end(ap);
    /* A crash shows as closed connections first: give the process a moment
     * to be reaped so that the report names it. */
    for (int i = 0; i < 30 && S->broker != NULL && S->broker->pid > 0; i++) {
        if (!nf_broker_alive(S->broker, S->broker->why, sizeof S->broker->why)) {
            size_t l = strlen(S->vmsg);
            snprintf(S->vmsg + l, sizeof S->vmsg - l, " [the broker %s]", S->broker->why);
            break;
        }
        nf_sleep_ms(10);
    }
    nf_trace_ev(&S->tr, EV_NOTE, conn, S->vmsg, strlen(S->vmsg), 1);
}

/* A short human-readable description of a broker frame. */
static void describe(const uint8_t *f, size_t n, char *out, size_t cap)
{
    if (n >= 6 && f[0] == BUSRT_ACK_MARKER) {
        snprintf(out, cap, "ACK op id 0x%08x code 0x%02x", nf_get32(f + 1), f[5]);
        return;
    }
    struct busrt_frame_body fb;
    if (n < 6 || busrt_frame_body_split(f[0], f + 6, n - 6, &fb) != 0) {
        snprintf(out, cap, "frame of %zu bytes (kind 0x%02x)", n, n > 0 ? f[0] : 0);
        return;
    }
    const char *k = f[0] == BUSRT_KIND_PUBLISH ? "publication"
                    : f[0] == BUSRT_KIND_MESSAGE ? "message" : "broadcast";
    struct nf_buf b = {0};
    nf_hex(&b, f + 6 + fb.payload.off, fb.payload.len < 12 ? fb.payload.len : 12);
    snprintf(out, cap, "%s from \"%.*s\"%s%.*s%s realtime %u, payload %zu bytes %s%s", k,
             (int)(fb.sender.len < 80 ? fb.sender.len : 80), (const char *)f + 6 + fb.sender.off,
             f[0] == BUSRT_KIND_PUBLISH ? " on \"" : "",
             (int)(fb.topic.len < 80 ? fb.topic.len : 80), (const char *)f + 6 + fb.topic.off,
             f[0] == BUSRT_KIND_PUBLISH ? "\"" : "", f[5], fb.payload.len,
             b.p != NULL ? (const char *)b.p : "", fb.payload.len > 12 ? "..." : "");
    nf_buf_free(&b);
}

static const char *cname(struct nf_sess *S, int c)
{
    return S->cl[c].name.p != NULL ? (const char *)S->cl[c].name.p : "?";
}

/* ---- Receiving ------------------------------------------------------------- */

/* The expectation arrived: mark its transcript event (with the ACK code
 * actually received). */
static void ev_got(struct nf_sess *S, const struct nf_exp *e, const uint8_t *f)
{
    if (e->ev < S->tr.nev && S->tr.ev[e->ev].type == EV_EXPECT) {
        S->tr.ev[e->ev].flags |= NF_EVF_GOT;
        if (e->is_ack) {
            S->tr.data.p[S->tr.ev[e->ev].off + 5] = f[5];
        }
    }
}

static int same_sender(const struct nf_exp *e, const uint8_t *snd, size_t sl)
{
    return !e->is_ack && e->n > 6 + sl && memcmp(e->b + 6, snd, sl) == 0 && e->b[6 + sl] == 0;
}

static void on_ack(struct nf_sess *S, int c, const uint8_t *a)
{
    struct nf_client *C = &S->cl[c];
    char d1[256], d2[256];
    nf_trace_ev(&S->tr, EV_RECV, C->conn, a, 6, C->st != NF_LIVE ? NF_EVF_LATE : 0);
    if (C->st != NF_LIVE || !C->reg) {
        if (C->close_opid_set && nf_get32(a + 1) == C->close_opid) {
            nf_violation(S, C->conn, "REQ-ERR-2",
                         "client \"%s\" got an ACK (code 0x%02x) for the frame (op id 0x%08x) "
                         "that must make the broker close its connection without reply",
                         cname(S, c), a[5], C->close_opid);
        }
        return;
    }
    for (size_t i = 0; i < C->nexp; i++) {
        struct nf_exp *e = &C->exp[i];
        if (!e->is_ack) {
            continue;
        }
        if (memcmp(e->b, a, 5) == 0 && (a[5] == e->b[5] || (e->alt != 0 && a[5] == e->alt))) {
            int ambiguous = 0;
            if (e->optional) {
                /* the same bytes may be the next required ACK: prefer it */
                for (size_t j = i + 1; j < C->nexp; j++) {
                    const struct nf_exp *r = &C->exp[j];
                    if (r->is_ack && !r->optional) {
                        if (memcmp(r->b, a, 5) == 0 &&
                            (a[5] == r->b[5] || (r->alt != 0 && a[5] == r->alt))) {
                            i = j;
                            e = &C->exp[i];
                            ambiguous = 1;
                        }
                        break;
                    }
                }
            }
            for (size_t j = 0; j < C->nexp && !ambiguous; j++) { /* REQ-ACK-6 */
                const struct nf_exp *d = &C->exp[j];
                if (same_sender(d, C->name.p, C->name.len) && d->seq <= e->seq) {
                    describe(d->b, d->n, d1, sizeof d1);
                    nf_violation(S, C->conn, "REQ-ACK-6",
                                 "client \"%s\" got the ACK of its frame #%u (op id 0x%08x) "
                                 "before its own delivery of frame #%u: %s",
                                 cname(S, c), e->seq, nf_get32(a + 1), d->seq, d1);
                    return;
                }
            }
            C->last_ack = a[5];
            C->last_ack_seq = e->seq;
            S->stat[NS_ACKS]++;
            ev_got(S, e, a);
            nf_exp_remove(C, i);
            for (size_t j = i; j-- > 0 && !ambiguous;) { /* optional ACKs before it: not sent */
                if (C->exp[j].is_ack && C->exp[j].optional) {
                    nf_exp_remove(C, j);
                }
            }
            return;
        }
        if (e->optional) {
            continue;
        }
        describe(e->b, e->n, d1, sizeof d1);
        if (memcmp(e->b, a, 5) == 0) {
            nf_violation(S, C->conn, e->req != NULL ? e->req : "REQ-ACK-1",
                         "client \"%s\": ACK of frame #%u (op id 0x%08x) has code 0x%02x, "
                         "the model expects 0x%02x",
                         cname(S, c), e->seq, nf_get32(a + 1), a[5], e->b[5]);
        } else {
            describe(a, 6, d2, sizeof d2);
            nf_violation(S, C->conn, "REQ-ACK-2",
                         "client \"%s\" got an unexpected %s; the next ACK the model expects "
                         "is the %s of frame #%u (ACKs come in frame order, REQ-ORD-2)",
                         cname(S, c), d2, d1, e->seq);
        }
        return;
    }
    describe(a, 6, d2, sizeof d2);
    nf_violation(S, C->conn, "REQ-ACK-2",
                 "client \"%s\" got an unexpected %s: the model expects no ACK", cname(S, c), d2);
}

/* Was the same frame already received by this connection? */
static int seen_before(struct nf_sess *S, int conn, const uint8_t *f, size_t n)
{
    size_t hits = 0;
    for (size_t i = 0; i < S->tr.nev; i++) {
        const struct nf_ev *ev = &S->tr.ev[i];
        if (ev->type == EV_RECV && ev->conn == conn && ev->len == n &&
            memcmp(S->tr.data.p + ev->off, f, n) == 0) {
            hits++;
        }
    }
    return hits > 1; /* the current frame is recorded already */
}

static const char *kind_req(uint8_t kind)
{
    return kind == BUSRT_KIND_PUBLISH ? "REQ-TOPIC-6 REQ-EXCL-1 REQ-PFOR-1"
           : kind == BUSRT_KIND_MESSAGE ? "REQ-MSG-1" : "REQ-MASK-5 REQ-MASK-6";
}

static void on_delivery(struct nf_sess *S, int c, const uint8_t *f, size_t n)
{
    struct nf_client *C = &S->cl[c];
    char d1[256], d2[256];
    nf_trace_ev(&S->tr, EV_RECV, C->conn, f, n, C->st != NF_LIVE ? NF_EVF_LATE : 0);
    struct busrt_frame_body fb;
    if (busrt_frame_body_split(f[0], f + 6, n - 6, &fb) != 0) {
        if (C->st == NF_LIVE) {
            nf_violation(S, C->conn, f[0] == BUSRT_KIND_PUBLISH ? "REQ-DLV-3" : "REQ-DLV-2",
                         "client \"%s\" got a delivered frame (kind 0x%02x, %zu body bytes) "
                         "whose body lacks its NUL separator(s)", cname(S, c), f[0], n - 6);
        }
        return;
    }
    if (C->st != NF_LIVE || !C->reg) {
        return; /* received after the broker dropped it: does not count */
    }
    const uint8_t *snd = f + 6 + fb.sender.off;
    const size_t sl = fb.sender.len;
    int known = 0;
    for (size_t i = 0; i < S->tr.nconn; i++) {
        known |= nf_buf_eq(&S->tr.conn[i].name, snd, sl);
    }
    if (!nf_model_in_ns(S, snd, sl)) {
        S->stat[NS_FOREIGN]++;
        return; /* foreign traffic */
    }
    if (!known) {
        describe(f, n, d1, sizeof d1);
        nf_violation(S, C->conn, "REQ-DLV-6",
                     "client \"%s\" got a %s whose sender is no client of the session",
                     cname(S, c), d1);
        return;
    }
    size_t first = SIZE_MAX, match = SIZE_MAX;
    for (size_t i = 0; i < C->nexp; i++) {
        const struct nf_exp *e = &C->exp[i];
        if (!same_sender(e, snd, sl)) {
            continue;
        }
        if (first == SIZE_MAX) {
            first = i;
        }
        if (e->n == n && memcmp(e->b, f, n) == 0) {
            match = i;
            break;
        }
    }
    if (match != SIZE_MAX && match != first) {
        /* skipping optional deliveries only (they will not come now) */
        int only_optional = 1;
        for (size_t i = first; i < match; i++) {
            if (same_sender(&C->exp[i], snd, sl) && !C->exp[i].optional) {
                only_optional = 0;
            }
        }
        if (only_optional) {
            for (size_t i = match; i-- > first;) {
                if (same_sender(&C->exp[i], snd, sl)) {
                    nf_exp_remove(C, i);
                    match--;
                }
            }
            first = match;
        }
    }
    if (match != SIZE_MAX && match == first) {
        ev_got(S, &C->exp[match], f);
        nf_exp_remove(C, match);
        S->stat[NS_DELIVERIES]++;
        return;
    }
    describe(f, n, d1, sizeof d1);
    if (match != SIZE_MAX) {
        describe(C->exp[first].b, C->exp[first].n, d2, sizeof d2);
        nf_violation(S, C->conn, "REQ-ORD-1",
                     "client \"%s\" got the %s of frame #%u before the %s of the earlier "
                     "frame #%u from the same sender",
                     cname(S, c), d1, C->exp[match].seq, d2, C->exp[first].seq);
        return;
    }
    struct nf_buf why = {0};
    nf_model_explain(S, c, f[0], f + 6 + fb.topic.off, fb.topic.len, &why);
    if (first != SIZE_MAX && C->exp[first].n >= 6 && C->exp[first].b[0] == f[0] &&
        !seen_before(S, C->conn, f, n)) {
        /* the frame the model expects next from this sender, altered? */
        const struct nf_exp *e = &C->exp[first];
        size_t at = 0;
        while (at < n && at < e->n && e->b[at] == f[at]) {
            at++;
        }
        describe(e->b, e->n, d2, sizeof d2);
        nf_violation(S, C->conn, at == 5 ? "REQ-DLV-1" : at < 5 ? "REQ-DLV-1 REQ-DLV-2 REQ-DLV-3"
                                                                : kind_req(f[0]),
                     "client \"%s\" got a %s (%zu bytes) where the model expects the %s of "
                     "frame #%u (%zu bytes); they first differ at byte %zu%s",
                     cname(S, c), d1, n, d2, e->seq, e->n, at,
                     at == 5 ? " (the realtime byte)" : "");
        nf_buf_free(&why);
        return;
    }
    if (seen_before(S, C->conn, f, n)) {
        nf_violation(S, C->conn, kind_req(f[0]),
                     "client \"%s\" got a duplicate %s (exactly one delivery per frame); %s",
                     cname(S, c), d1, (const char *)why.p);
    } else {
        nf_violation(S, C->conn, kind_req(f[0]),
                     "client \"%s\" got a %s that the model does not allow (wrong receiver, "
                     "excluded or non-matching, or altered content); %s",
                     cname(S, c), d1, (const char *)why.p);
    }
    nf_buf_free(&why);
}

static void close_fd(struct nf_sess *S, int c, int type)
{
    struct nf_client *C = &S->cl[c];
    if (C->fd >= 0) {
        if (type >= 0) {
            nf_trace_ev(&S->tr, type, C->conn, NULL, 0, 0);
        }
        close(C->fd);
        C->fd = -1;
    }
    C->st = NF_GONE;
    C->rx.len = 0;
    C->pend.len = 0;
}

/* The timeout that allows the broker to drop a client the model keeps
 * (NULL: none). A driver waiting for another client may leave a frame
 * half-sent, or a client silent, for longer than the broker's T; the
 * smallest T assumed is NF_MIN_T_MS. */
static const char *timed_out(const struct nf_client *C)
{
    int64_t now = nf_now_ms();
    if (C->pend.len > 0 && C->pend_body && now - C->pend_since >= NF_MIN_T_MS) {
        return "REQ-KA-3"; /* the body did not arrive within T */
    }
    int64_t idle = C->pend.len > 0 ? now - C->pend_since : now - C->last_send;
    if (idle >= NF_MIN_T_MS + NF_MIN_T_MS / 4) {
        return "REQ-KA-2"; /* no complete header within 1.25 T */
    }
    return NULL;
}

/* The broker dropped a client the model keeps, as a timeout allows. */
static int dropped_on_timeout(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    const char *req = timed_out(C);
    if (req == NULL) {
        return 0;
    }
    char note[160];
    snprintf(note, sizeof note, "the broker closed it: allowed by %s (a frame unfinished or "
             "silence for at least the smallest T assumed, %d ms)", req, NF_MIN_T_MS);
    nf_trace_ev(&S->tr, EV_NOTE, C->conn, note, strlen(note), 0);
    nf_model_kill(S, c);
    C->st = NF_DYING;
    return 1;
}

static void on_eof(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    nf_trace_ev(&S->tr, EV_EOF, C->conn, NULL, 0, 0);
    if (C->st == NF_LIVE && C->reg && !dropped_on_timeout(S, c)) {
        nf_violation(S, C->conn, "REQ-ERR-4 REQ-ERR-5",
                     "the broker closed the connection of client \"%s\", which the model "
                     "keeps registered (nothing it sent closes it)", cname(S, c));
    }
    close_fd(S, c, -1);
}

static void parse(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    while (C->rx.len >= 6 && C->fd >= 0) {
        const uint8_t *p = C->rx.p;
        if (p[0] == BUSRT_ACK_MARKER) {
            on_ack(S, c, p);
            nf_buf_consume(&C->rx, 6);
            S->frames_recv++;
            continue;
        }
        struct busrt_frame_header h;
        if (busrt_frame_header_decode(p, C->rx.len, UINT32_MAX, &h) != 6) {
            if (C->st == NF_LIVE) {
                nf_violation(S, C->conn, "REQ-DLV-1 REQ-DLV-8",
                             "client \"%s\" got a frame starting with byte 0x%02x, which is "
                             "neither an ACK nor a delivered-frame kind", cname(S, c), p[0]);
            }
            close_fd(S, c, EV_CLOSE);
            return;
        }
        if (h.kind == BUSRT_KIND_NOP) {
            if ((p[1] | p[2] | p[3] | p[4] | p[5]) != 0 && C->st == NF_LIVE) {
                nf_violation(S, C->conn, "REQ-DLV-4",
                             "client \"%s\" got a NOP that is not six 00 bytes", cname(S, c));
            }
            nf_buf_consume(&C->rx, 6);
            continue;
        }
        if (C->rx.len - 6 < h.body_len) {
            return;
        }
        on_delivery(S, c, p, 6 + (size_t)h.body_len);
        nf_buf_consume(&C->rx, 6 + (size_t)h.body_len);
        S->frames_recv++;
    }
}

static void on_readable(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    uint8_t buf[65536];
    size_t total = 0;
    int eof = 0;
    while (C->fd >= 0 && total < (1u << 20)) {
        ssize_t r = read(C->fd, buf, sizeof buf);
        if (r > 0) {
            nf_buf_add(&C->rx, buf, (size_t)r);
            total += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        eof = 1; /* 0, ECONNRESET or another error: the connection ended */
        break;
    }
    parse(S, c);
    if (eof && C->fd >= 0) {
        on_eof(S, c);
    }
}

/* Reads every open socket for up to timeout_ms (returns after the first
 * batch of events). out_fd, when >= 0, is also polled for writability. */
static void pump(struct nf_sess *S, int timeout_ms, int out_fd)
{
    struct pollfd p[NF_MAXC + 1];
    int idx[NF_MAXC + 1], n = 0;
    for (int i = 0; i < NF_MAXC; i++) {
        if (S->cl[i].fd >= 0 && (S->cl[i].st == NF_LIVE || S->cl[i].st == NF_DYING)) {
            p[n].fd = S->cl[i].fd;
            p[n].events = (short)(POLLIN | (S->cl[i].fd == out_fd ? POLLOUT : 0));
            p[n].revents = 0;
            idx[n++] = i;
        }
    }
    if (n == 0) {
        if (timeout_ms > 0) {
            nf_sleep_ms(timeout_ms);
        }
        return;
    }
    if (poll(p, (nfds_t)n, timeout_ms) <= 0) {
        return;
    }
    for (int k = 0; k < n; k++) {
        if ((p[k].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && S->cl[idx[k]].fd == p[k].fd) {
            on_readable(S, idx[k]);
        }
    }
}

/* Reads for ms milliseconds. */
static void pump_for(struct nf_sess *S, int ms)
{
    int64_t end = nf_now_ms() + ms;
    do {
        int64_t left = end - nf_now_ms();
        pump(S, left > 0 ? (int)left : 0, -1);
    } while (nf_now_ms() < end && !S->violated);
}

/* ---- Sending --------------------------------------------------------------- */

/* Sends n bytes on client c, reading every socket while it cannot write.
 * Returns 0, or -1 when the connection broke. */
static int send_all(struct nf_sess *S, int c, const uint8_t *p, size_t n)
{
    struct nf_client *C = &S->cl[c];
    size_t off = 0;
    int64_t deadline = nf_now_ms() + S->o->wait_ms;
    int rc = 0;
    while (off < n && C->fd >= 0) {
        ssize_t w = send(C->fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (nf_now_ms() > deadline) {
                if (C->st == NF_LIVE) { /* a dying one is judged by its EOF */
                    nf_violation(S, C->conn, "REQ-ORD-2",
                                 "the broker stopped reading from client \"%s\" (%zu bytes "
                                 "could not be written for %d ms)", cname(S, c), n - off,
                                 S->o->wait_ms);
                }
                rc = -1;
                break;
            }
            pump(S, 20, C->fd);
            continue;
        }
        rc = -1;
        break;
    }
    /* the bytes meant to be sent (those the model saw), all of them */
    nf_trace_ev(&S->tr, EV_SEND, C->conn, p, n, S->case_skip ? NF_EVF_SKIP : 0);
    if (off < n) {
        char note[96];
        snprintf(note, sizeof note, "only %zu of these %zu bytes were written", off, n);
        nf_trace_ev(&S->tr, EV_NOTE, C->conn, note, strlen(note), 0);
    }
    C->last_send = nf_now_ms();
    return C->fd < 0 ? -1 : rc;
}

/* The frames after seq0 were sent by a client that we close right after
 * them: a broker whose write to that client fails may drop the connection
 * before reading them (the spec does not say it must read them first), so
 * their deliveries become optional. */
static void mark_uncertain(struct nf_sess *S, uint32_t seq0)
{
    for (int i = 0; i < NF_MAXC; i++) {
        for (size_t j = 0; j < S->cl[i].nexp; j++) {
            if (S->cl[i].exp[j].seq > seq0) {
                S->cl[i].exp[j].optional = 1;
                if (S->cl[i].exp[j].ev < S->tr.nev) {
                    S->tr.ev[S->cl[i].exp[j].ev].flags |= NF_EVF_OPTIONAL;
                }
            }
        }
    }
    nf_trace_ev(&S->tr, EV_NOTE, -1, "deliveries of the frames above are optional", 43, 0);
}

/* Sends a chunk of client c through the model, in up to `pieces` writes
 * with short pauses. Applies the fate the model gives the connection. */
static int put(struct nf_sess *S, int c, const uint8_t *p, size_t n, int pieces)
{
    struct nf_client *C = &S->cl[c];
    if (C->st != NF_LIVE || C->fd < 0) {
        return NF_CLOSED;
    }
    int fate;
    const uint32_t seq0 = S->seq;
    size_t k = nf_model_feed(S, c, p, n, &fate);
    if (fate != NF_OPEN) { /* the broker may close it while we still send */
        C->st = NF_DYING;
        C->eof_deadline = nf_now_ms() + S->o->wait_ms;
        if (fate == NF_CLOSED) {
            nf_trace_ev(&S->tr, EV_DYING, C->conn, NULL, 0, 0);
        }
    }
    size_t off = 0;
    int broke = 0;
    for (int i = 0; i < pieces && off < k && !broke; i++) {
        size_t len = i == pieces - 1 ? k - off : nf_pick(&S->src, (uint32_t)(k - off + 1));
        if (len == 0) {
            continue;
        }
        broke = send_all(S, c, p + off, len) != 0;
        off += len;
        if (i < pieces - 1) {
            pump_for(S, (int)nf_pick(&S->src, 3));
        }
    }
    if (!broke && off < k) {
        broke = send_all(S, c, p + off, k - off) != 0;
    }
    S->frames_sent++;
    if (broke && fate == NF_OPEN && !S->violated && C->fd >= 0 && !dropped_on_timeout(S, c)) {
        nf_violation(S, C->conn, "REQ-ERR-4 REQ-ERR-5",
                     "the connection of client \"%s\" broke while sending, although the "
                     "model keeps it open", cname(S, c));
    }
    switch (fate) {
    case NF_OPEN:
        C->acted = 1;
        break;
    case NF_CLOSED:
        S->stat[NS_BROKER_CLOSED]++;
        if (C->fd >= 0) {
            C->eof_deadline = nf_now_ms() + S->o->wait_ms;
        }
        break;
    default: /* NF_DOOMED: the spec allows both; close it ourselves */
        S->stat[NS_WE_CLOSED]++;
        close_fd(S, c, EV_CLOSE);
        mark_uncertain(S, seq0);
        break;
    }
    return fate;
}

/* ---- Generators ------------------------------------------------------------ */

static const char *const NAME_CHUNKS[] = {"a", "b", "c", "", "?", "*", "\xc3\xa9", "x+"};
static const char *const SEC_SUFFIX[] = {"1", "2", "w.1", "", "%%", "\xc3\xa9"};
static const char *const TOPIC_CHUNKS[] = {"a", "b", "", "+", "#", "\xc3\xa9", "a+"};
static const char *const MASK_CHUNKS[] = {"a", "b", "c", "", "?", "*", "a*", "\xc3\xa9", "a%%1"};
static const char *const BAD_UTF8[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                       "\x80", "\xe2\x82", "\xff", "\xc3"};
#define NELEM(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const char *pick_s(struct nf_sess *S, const char *const *v, uint32_t n)
{
    return v[nf_pick(&S->src, n)];
}

static void gen_primary(struct nf_sess *S, struct nf_buf *b)
{
    nf_buf_add(b, S->prefix, S->prefix_len);
    uint32_t k = nf_pick(&S->src, 3);
    for (uint32_t i = 0; i < k; i++) {
        nf_buf_addc(b, '.');
        nf_buf_adds(b, pick_s(S, NAME_CHUNKS, NELEM(NAME_CHUNKS)));
    }
}

static void gen_topic(struct nf_sess *S, struct nf_buf *b)
{
    nf_buf_add(b, S->prefix, S->prefix_len);
    uint32_t k = nf_pick(&S->src, 4);
    for (uint32_t i = 0; i < k; i++) {
        nf_buf_addc(b, '/');
        nf_buf_adds(b, pick_s(S, TOPIC_CHUNKS, NELEM(TOPIC_CHUNKS)));
    }
}

static void gen_pattern(struct nf_sess *S, int c, int from_held, struct nf_buf *b)
{
    const struct nf_set *held = from_held == 1 ? &S->cl[c].subs : &S->cl[c].excls;
    if (from_held != 0 && held->n > 0 && nf_chance(&S->src, 70)) {
        const struct nf_pat *p = &held->v[nf_pick(&S->src, (uint32_t)held->n)];
        nf_buf_add(b, p->p, p->n);
        return;
    }
    uint32_t r = nf_pick(&S->src, 100);
    if (r < 70) {
        nf_buf_add(b, S->prefix, S->prefix_len);
    } else if (r < 80) {
        nf_buf_addc(b, '+');
    } else if (r < 88) {
        nf_buf_addc(b, '#');
    } else if (r < 92) {
        return; /* the empty pattern */
    } else if (r < 95) {
        nf_buf_adds(b, ".broker/warn");
        return;
    } else {
        gen_topic(S, b); /* a literal topic */
        return;
    }
    uint32_t k = nf_pick(&S->src, 4);
    for (uint32_t i = 0; i < k; i++) {
        nf_buf_addc(b, '/');
        nf_buf_adds(b, pick_s(S, TOPIC_CHUNKS, NELEM(TOPIC_CHUNKS)));
    }
}

/* A live (or any used) slot other than ctl, or -1. */
static int pick_client(struct nf_sess *S, int live_only, int allow_ctl)
{
    int v[NF_MAXC], n = 0;
    for (int i = 0; i < NF_MAXC; i++) {
        const struct nf_client *C = &S->cl[i];
        if ((C->st == NF_LIVE || (!live_only && C->name.len > 0)) && (allow_ctl || i != S->ctl)) {
            v[n++] = i;
        }
    }
    uint32_t k = nf_pick_fixed(&S->src, n > 0 ? (uint32_t)n : 1u);
    int c = n > 0 ? v[k] : -1;
    int b = nf_pick_slot(&S->src, c);
    for (int i = 0; i < n && b != c; i++) {
        c = v[i] == b ? b : c; /* a replay keeps the slot it recorded */
    }
    return c;
}

static void gen_mask(struct nf_sess *S, struct nf_buf *b)
{
    uint32_t r = nf_pick(&S->src, 100);
    if (r < 12) {
        int c = pick_client(S, 0, 1);
        if (c >= 0) {
            nf_buf_add(b, S->cl[c].name.p, S->cl[c].name.len);
            return;
        }
    }
    if (r < 80) {
        nf_buf_add(b, S->prefix, S->prefix_len);
    } else if (r < 94) {
        nf_buf_addc(b, '?');
    } else {
        nf_buf_addc(b, '*');
    }
    uint32_t k = nf_pick(&S->src, 4);
    for (uint32_t i = 0; i < k; i++) {
        nf_buf_addc(b, '.');
        nf_buf_adds(b, pick_s(S, MASK_CHUNKS, NELEM(MASK_CHUNKS)));
    }
}

static uint32_t body_room(const struct nf_sess *S)
{
    uint32_t lim = S->o->body_limit > 0 ? S->o->body_limit : S->o->assume_body;
    return lim > 1024 ? lim - 512 : lim / 2;
}

static size_t src_pos(const struct nf_sess *S);

static void gen_payload(struct nf_sess *S, struct nf_buf *b)
{
    const size_t at_r = src_pos(S);
    uint32_t r = nf_pick(&S->src, 100);
    if (r < 4) {
        return; /* empty: REQ-BODY-6 */
    }
    uint8_t tag[4];
    nf_put32(tag, ++S->ntag); /* unique per payload of the session */
    nf_buf_add(b, tag, 4);
    uint32_t n = nf_pick(&S->src, 25);
    if (r >= 94) { /* large: written in pieces by both sides */
        uint32_t room = body_room(S);
        uint32_t hi = room < 200000 ? room : 200000;
        n = hi > 1000 ? 1000 + nf_pick(&S->src, hi - 1000) : 0;
    }
    size_t at = b->len;
    for (uint32_t i = 0; i < n; i++) {
        nf_buf_addc(b, 0);
    }
    if (!S->src.compact) {
        const size_t c0 = src_pos(S);
        for (uint32_t i = 0; i < n; i++) {
            b->p[at + i] = (uint8_t)nf_pick(&S->src, 256);
        }
        if (S->npay == S->cpay) { /* for --minimize */
            S->cpay = S->cpay != 0 ? S->cpay * 2 : 64;
            S->pay = nf_xrealloc(S->pay, S->cpay * sizeof *S->pay);
        }
        S->pay[S->npay++] = (struct nf_pay){at_r, c0, src_pos(S), r >= 94 && n > 0};
    } else { /* a fuzz input: spend few bytes on payloads */
        uint8_t x = (uint8_t)nf_pick(&S->src, 256);
        for (uint32_t i = 0; i < n; i++) {
            b->p[at + i] = (uint8_t)(x + i * 7u);
        }
    }
}

static uint32_t gen_opid(struct nf_sess *S)
{
    uint32_t r = nf_pick(&S->src, 100);
    uint32_t v = r < 10 ? 0u : r < 15 ? 0xFFFFFFFFu : nf_pick(&S->src, 0xFFFFFFFFu);
    if ((v & 0xFE000000u) == (NF_SYNC_BASE & 0xFE000000u) ||
        (v & 0xFFFF0000u) == NF_BAD_BASE) {
        v ^= 0x10000000u; /* keep the ranges of sync, op 0 and garbage op ids apart */
    }
    return v;
}

/* Appends a frame: header (the core encoder for valid operations) + body. */
static void add_frame(struct nf_buf *out, uint32_t opid, uint8_t flags, const uint8_t *body,
                      size_t blen, uint32_t len_field)
{
    uint8_t h[9];
    struct busrt_client_header ch = {opid, (uint8_t)(flags % 64u), (uint8_t)(flags / 64u),
                                     len_field};
    if (busrt_client_header_encode(&ch, h, sizeof h) != 9) {
        nf_put32(h, opid);
        h[4] = flags;
        nf_put32(h + 5, len_field);
    }
    nf_buf_add(out, h, 9);
    nf_buf_add(out, body, blen);
}

enum { G_PUB, G_PFOR, G_MSG, G_BCAST, G_SUB, G_UNSUB, G_EXCL, G_UNEXCL, G_OP0, G_PING, G_N };

/* Appends one valid frame of client c. send_only: no subscribe family. */
static void gen_frame(struct nf_sess *S, int c, int send_only, struct nf_buf *out)
{
    static const unsigned w[G_N] = {22, 10, 16, 13, 16, 6, 6, 4, 3, 4};
    unsigned total = 0;
    for (int i = 0; i < G_N; i++) {
        total += (send_only && i >= G_SUB && i <= G_UNEXCL) ? 0 : w[i];
    }
    unsigned r = nf_pick(&S->src, total);
    int g = 0;
    for (g = 0; g < G_N; g++) {
        unsigned wi = (send_only && g >= G_SUB && g <= G_UNEXCL) ? 0 : w[g];
        if (r < wi) {
            break;
        }
        r -= wi;
    }
    struct nf_client *C = &S->cl[c];
    if (g == G_SUB && C->subs.n >= NF_MAXPAT - 4) {
        g = G_UNSUB;
    }
    if (g == G_EXCL && C->excls.n >= NF_MAXPAT - 4) {
        g = G_UNEXCL;
    }
    uint8_t qos = (uint8_t)nf_pick(&S->src, 4);
    uint32_t opid = gen_opid(S);
    struct nf_buf body = {0};
    uint8_t op = 0;
    switch (g) {
    case G_PUB:
    case G_PFOR:
        op = g == G_PUB ? BUSRT_OP_PUBLISH : BUSRT_OP_PUBLISH_FOR;
        gen_topic(S, &body);
        nf_buf_addc(&body, 0);
        if (g == G_PFOR) {
            int r2 = pick_client(S, 0, 0);
            uint32_t k = nf_pick(&S->src, 10);
            if (r2 >= 0 && k < 7) {
                const struct nf_client *R = &S->cl[r2];
                /* mostly the primary part; sometimes the full (secondary) name */
                nf_buf_add(&body, R->name.p, k < 5 ? R->plen : R->name.len);
            } else if (k < 9) {
                gen_primary(S, &body);
            }
            nf_buf_addc(&body, 0);
        }
        gen_payload(S, &body);
        break;
    case G_MSG: {
        op = BUSRT_OP_MESSAGE;
        int r2 = pick_client(S, nf_chance(&S->src, 75), 1);
        if (r2 >= 0 && nf_chance(&S->src, 85)) {
            nf_buf_add(&body, S->cl[r2].name.p, S->cl[r2].name.len);
        } else {
            gen_primary(S, &body);
        }
        nf_buf_addc(&body, 0);
        gen_payload(S, &body);
        break;
    }
    case G_BCAST:
        op = BUSRT_OP_BROADCAST;
        gen_mask(S, &body);
        nf_buf_addc(&body, 0);
        gen_payload(S, &body);
        break;
    case G_SUB:
    case G_UNSUB:
    case G_EXCL:
    case G_UNEXCL: {
        op = (uint8_t)(BUSRT_OP_SUBSCRIBE + (unsigned)(g - G_SUB));
        int from = g == G_UNSUB ? 1 : g == G_UNEXCL ? 2 : g == G_EXCL ? 1 : 0;
        uint32_t k = nf_pick(&S->src, 100);
        if (k < 4) {
            break; /* empty body: the one pattern "" (REQ-QUIRK-3) */
        }
        uint32_t np = 1 + nf_pick(&S->src, 3);
        for (uint32_t i = 0; i < np; i++) {
            if (i > 0) {
                nf_buf_addc(&body, 0);
            }
            gen_pattern(S, c, from, &body);
        }
        if (k < 7) {
            nf_buf_addc(&body, 0); /* trailing NUL: one more, empty, pattern */
        }
        break;
    }
    case G_OP0: /* REQ-BODY-5, REQ-QUIRK-2 */
        op = BUSRT_OP_NOP;
        qos = (uint8_t)(1 + nf_pick(&S->src, 3));
        opid = 0x5F000000u | (S->seq & 0xFFFFu); /* its ACK is optional: keep it apart */
        nf_buf_adds(&body, "x");
        nf_buf_addc(&body, 0);
        gen_payload(S, &body);
        break;
    default: { /* ping, with any op id and length field (REQ-QUIRK-7) */
        uint8_t h[9] = {0};
        if (nf_chance(&S->src, 50)) {
            nf_put32(h, opid);
            nf_put32(h + 5, nf_pick(&S->src, 0xFFFFFFFFu));
        }
        nf_buf_add(out, h, 9);
        nf_buf_free(&body);
        return;
    }
    }
    add_frame(out, opid, (uint8_t)(op + qos * 64u), body.p, body.len, (uint32_t)body.len);
    nf_buf_free(&body);
}

/* ---- Registration -------------------------------------------------------- */

/* Reads exactly n bytes from fd within timeout_ms. Returns n, the count
 * read before EOF (0..n-1), or -1 on a timeout. */
static long read_exact(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    int64_t end = nf_now_ms() + timeout_ms;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return (long)got;
        }
        int64_t left = end - nf_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        (void)poll(&p, 1, (int)left);
    }
    return (long)got;
}

static int hs_send(struct nf_sess *S, int fd, int conn, const uint8_t *p, size_t n, int flags)
{
    nf_trace_ev(&S->tr, EV_SEND, conn, p, n, flags);
    size_t off = 0;
    int64_t end = nf_now_ms() + S->o->wait_ms;
    while (off < n) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR) && nf_now_ms() < end) {
            struct pollfd q = {fd, POLLOUT, 0};
            (void)poll(&q, 1, 10);
        } else {
            return -1;
        }
    }
    return 0;
}

static int slot_free(const struct nf_client *C)
{
    return C->st == NF_FREE || (C->st == NF_GONE && C->fd < 0 && !C->reg && C->released);
}

static int free_slot(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC; i++) {
        if (slot_free(&S->cl[i])) {
            return i;
        }
    }
    return -1;
}

static void slot_reset(struct nf_client *C)
{
    nf_set_free(&C->subs);
    nf_set_free(&C->excls);
    nf_exp_clear(C);
    C->sent.len = C->rx.len = C->pend.len = 0;
    C->name.len = 0;
    C->reg = 0;
    C->acted = 0;
    C->close_opid_set = 0;
    C->close_req = NULL;
    C->released = 1;
    C->fd = -1;
    C->st = NF_FREE;
}

/* Connects, handshakes and registers name in a free slot. Returns the slot
 * (registered), -1 when the model expects a refusal (checked) or there is
 * no slot, -2 when the broker cannot be reached. */
static int do_register(struct nf_sess *S, const uint8_t *name, size_t n, int split)
{
    int c = free_slot(S);
    int b = nf_pick_slot(&S->src, c);
    if (b != c && b >= 0 && b < NF_MAXC && slot_free(&S->cl[b])) {
        c = b; /* a replay keeps the slot it recorded */
    }
    if (c < 0) {
        return -1;
    }
    struct nf_client *C = &S->cl[c];
    slot_reset(C);
    nf_buf_add(&C->name, name, n);
    C->conn = nf_trace_conn(&S->tr, name, n, c);
    const int want = nf_model_reg_reply(S, name, n);
    const uint8_t want_b = (uint8_t)want;
    nf_trace_ev(&S->tr, EV_REGISTER, C->conn, &want_b, 1, 0);
    int fd = nf_connect(S->broker->addr, S->o->wait_ms);
    if (fd < 0) {
        nf_violation(S, C->conn, "REQ-ADDR-1",
                     "the broker does not accept a connection on %s (%s)", S->broker->addr,
                     strerror(errno));
        C->name.len = 0;
        return -2;
    }
    nf_trace_ev(&S->tr, EV_CONNECT, C->conn, NULL, 0, 0);
    uint8_t g[3], r1;
    long k = read_exact(fd, g, 3, S->o->wait_ms);
    if (k > 0) {
        nf_trace_ev(&S->tr, EV_RECV, C->conn, g, (size_t)k, 0);
    }
    if (k != 3 || busrt_greeting_decode(g, 3) != 3) {
        nf_violation(S, C->conn, "REQ-HS-1", "registration of \"%.*s\": the broker's greeting "
                     "is not EB 01 00 (%ld bytes read)", (int)n, (const char *)name, k);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    uint8_t echo[3];
    (void)busrt_greeting_encode(echo, sizeof echo);
    if (split) {
        (void)hs_send(S, fd, C->conn, echo, 1, NF_EVF_HS);
        nf_sleep_ms(1);
        (void)hs_send(S, fd, C->conn, echo + 1, 2, NF_EVF_HS);
    } else {
        (void)hs_send(S, fd, C->conn, echo, 3, NF_EVF_HS);
    }
    k = read_exact(fd, &r1, 1, S->o->wait_ms);
    if (k == 1) {
        nf_trace_ev(&S->tr, EV_RECV, C->conn, &r1, 1, 0);
    }
    if (k != 1 || r1 != BUSRT_RC_OK) {
        nf_violation(S, C->conn, "REQ-HS-3", "registration of \"%.*s\": the greeting echo "
                     "got %s 0x%02x instead of 01", (int)n, (const char *)name,
                     k == 1 ? "reply" : "no reply", k == 1 ? r1 : 0);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    uint8_t nl[2];
    (void)busrt_name_len_encode(n, nl, sizeof nl);
    struct nf_buf msg = {0};
    nf_buf_add(&msg, nl, 2);
    nf_buf_add(&msg, name, n);
    if (split) {
        size_t cut = 1 + nf_pick(&S->src, (uint32_t)msg.len);
        (void)hs_send(S, fd, C->conn, msg.p, cut < msg.len ? cut : msg.len, NF_EVF_HS);
        nf_sleep_ms(1);
        if (cut < msg.len) {
            (void)hs_send(S, fd, C->conn, msg.p + cut, msg.len - cut, NF_EVF_HS);
        }
    } else {
        (void)hs_send(S, fd, C->conn, msg.p, msg.len, NF_EVF_HS);
    }
    nf_buf_free(&msg);
    k = read_exact(fd, &r1, 1, S->o->wait_ms);
    if (k == 1) {
        nf_trace_ev(&S->tr, EV_RECV, C->conn, &r1, 1, 0);
    } else if (k == 0) {
        nf_trace_ev(&S->tr, EV_EOF, C->conn, NULL, 0, 0);
    }
    int ok = want == 0 ? (k == 0 || (k == 1 && r1 == BUSRT_RC_DATA)) : (k == 1 && r1 == want);
    if (!ok) {
        const char *req = want == 0 ? "REQ-NAME-2 REQ-QUIRK-1"
                          : want == BUSRT_RC_DATA ? "REQ-NAME-1"
                          : want == BUSRT_RC_NOT_REGISTERED ? "REQ-NAME-5"
                          : want == BUSRT_RC_BUSY ? "REQ-NAME-3" : "REQ-HS-5";
        nf_violation(S, C->conn, req,
                     "registration of \"%.*s\": %s%02x, the model expects %s%02x", (int)n,
                     (const char *)name, k == 1 ? "reply 0x" : k == 0 ? "EOF, no reply " :
                     "no reply within --wait-ms ", k == 1 ? r1 : 0,
                     want == 0 ? "EOF or reply 0x" : "reply 0x", want == 0 ? 0x72 : want);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    if (want != BUSRT_RC_OK) {
        /* refused: the broker must close without sending anything else */
        S->stat[NS_REG_REFUSED]++;
        uint8_t extra[16];
        k = k == 0 ? 0 : read_exact(fd, extra, sizeof extra, S->o->wait_ms);
        if (k != 0) {
            nf_violation(S, C->conn, "REQ-HS-5",
                         "registration of \"%.*s\" was refused but the connection %s",
                         (int)n, (const char *)name,
                         k < 0 ? "stayed open" : "carried more bytes before EOF");
        }
        nf_trace_ev(&S->tr, EV_CLOSE, C->conn, NULL, 0, 0);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    C->fd = fd;
    C->last_send = nf_now_ms();
    nf_model_register(S, c);
    S->stat[NS_REG_OK]++;
    return c;
}

/* A name for a new registration, per the kinds of REQ-NAME-*. */
static void gen_reg_name(struct nf_sess *S, struct nf_buf *b)
{
    uint32_t r = nf_pick(&S->src, 100);
    int p = pick_client(S, 1, 0);
    if (r < 50 || (r < 82 && p < 0)) {
        gen_primary(S, b);
    } else if (r < 72) { /* a secondary of a registered client */
        nf_buf_add(b, S->cl[p].name.p, S->cl[p].plen);
        nf_buf_adds(b, "%%");
        nf_buf_adds(b, pick_s(S, SEC_SUFFIX, NELEM(SEC_SUFFIX)));
    } else if (r < 76) { /* a secondary of a name that is not registered */
        gen_primary(S, b);
        nf_buf_adds(b, "%%");
        nf_buf_adds(b, pick_s(S, SEC_SUFFIX, NELEM(SEC_SUFFIX)));
    } else if (r < 82) { /* a duplicate */
        nf_buf_add(b, S->cl[p].name.p, S->cl[p].name.len);
    } else if (r < 86) {
        return; /* empty */
    } else if (r < 91) {
        nf_buf_addc(b, '.');
        nf_buf_add(b, S->prefix, S->prefix_len);
    } else {
        gen_primary(S, b);
        nf_buf_adds(b, pick_s(S, BAD_UTF8, NELEM(BAD_UTF8)));
    }
}

/* ---- Actions ---------------------------------------------------------------- */

static int can_act(const struct nf_sess *S, int c)
{
    return c >= 0 && S->cl[c].st == NF_LIVE && S->cl[c].fd >= 0;
}

/* One or more frames of one client, written at once or in pieces. */
static void act_ops(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    struct nf_buf b = {0};
    nf_buf_add(&b, C->pend.p, C->pend.len); /* completes a started frame */
    C->pend.len = 0;
    const size_t at_n = src_pos(S);
    uint32_t nf = 1 + nf_pick_fixed(&S->src, 4);
    for (uint32_t i = 0; i < nf; i++) {
        const size_t at = src_pos(S);
        gen_frame(S, c, 0, &b);
        if (S->nfrm == S->cfrm) { /* for --minimize */
            S->cfrm = S->cfrm != 0 ? S->cfrm * 2 : 64;
            S->frm = nf_xrealloc(S->frm, S->cfrm * sizeof *S->frm);
        }
        S->frm[S->nfrm++] = (struct nf_frm){at_n, at, src_pos(S)};
    }
    int pieces = nf_chance(&S->src, 25) ? 2 + (int)nf_pick(&S->src, 4) : 1;
    (void)put(S, c, b.p, b.len, pieces);
    nf_buf_free(&b);
}

/* Send-type frames of two or three clients, interleaved. */
static void act_concurrent(struct nf_sess *S)
{
    int v[3], n = 0;
    for (int t = 0; t < 8 && n < 3; t++) {
        int c = pick_client(S, 1, 0);
        int dup = 0;
        for (int i = 0; i < n; i++) {
            dup |= v[i] == c;
        }
        if (c >= 0 && !dup && S->cl[c].pend.len == 0) {
            v[n++] = c;
        }
    }
    struct nf_buf b[3] = {{0}, {0}, {0}};
    size_t off[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        uint32_t nf = 1 + nf_pick(&S->src, 2);
        for (uint32_t k = 0; k < nf; k++) {
            gen_frame(S, v[i], 1, &b[i]);
        }
    }
    for (;;) {
        int open[3], no = 0;
        for (int k = 0; k < n; k++) {
            if (off[k] < b[k].len) {
                open[no++] = k;
            }
        }
        if (no == 0 || S->violated) {
            break;
        }
        int i = open[nf_pick(&S->src, (uint32_t)no)];
        size_t len = 1 + nf_pick(&S->src, (uint32_t)(b[i].len - off[i]));
        if (nf_chance(&S->src, 50)) {
            len = b[i].len - off[i];
        }
        (void)put(S, v[i], b[i].p + off[i], len, 1);
        off[i] += len;
        if (!can_act(S, v[i])) {
            off[i] = b[i].len;
        }
    }
    for (int i = 0; i < n; i++) {
        nf_buf_free(&b[i]);
    }
}

/* Sends the first part of a frame; the rest goes with a later action. */
static void act_partial(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    struct nf_buf b = {0};
    gen_frame(S, c, 0, &b);
    size_t cut = 1 + nf_pick(&S->src, (uint32_t)(b.len - 1));
    int acted = C->acted;
    (void)put(S, c, b.p, cut, 1);
    C->acted = acted; /* an incomplete frame needs no sync */
    nf_buf_add(&C->pend, b.p + cut, b.len - cut);
    C->pend_since = nf_now_ms();
    C->pend_body = cut >= 9;
    nf_buf_free(&b);
}

/* Garbage: optional valid frames, then a frame the broker must close on. */
static void act_garbage(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    struct nf_buf b = {0}, body = {0};
    nf_buf_add(&b, C->pend.p, C->pend.len);
    C->pend.len = 0;
    uint32_t pre = nf_pick(&S->src, 3);
    for (uint32_t i = 0; i < pre; i++) {
        gen_frame(S, c, 0, &b);
    }
    uint32_t opid = NF_BAD_BASE | ((S->seq + 0x100u) & 0xFFFFu);
    uint8_t qos = (uint8_t)nf_pick(&S->src, 4);
    uint32_t kind = nf_pick(&S->src, 7);
    switch (kind) {
    case 0: { /* unknown operation (REQ-FRM-4) */
        uint8_t bad[64], nb = 0;
        for (unsigned k = 0; k < 64; k++) {
            if (busrt_op_valid((uint8_t)k) != 1) {
                bad[nb++] = (uint8_t)k;
            }
        }
        uint8_t op = bad[nf_pick(&S->src, nb)];
        gen_payload(S, &body);
        uint32_t len = nf_chance(&S->src, 70) ? (uint32_t)body.len : nf_pick(&S->src, 0xFFFFFFFFu);
        add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p,
                  body.len < len ? body.len : len, len);
        break;
    }
    case 1: { /* a required NUL missing (REQ-BODY-4) */
        static const uint8_t ops[] = {BUSRT_OP_PUBLISH, BUSRT_OP_MESSAGE, BUSRT_OP_BROADCAST,
                                      BUSRT_OP_NOP, BUSRT_OP_PUBLISH_FOR};
        uint8_t op = ops[nf_pick(&S->src, 5)];
        gen_topic(S, &body);
        if (op == BUSRT_OP_PUBLISH_FOR && nf_chance(&S->src, 70)) {
            nf_buf_addc(&body, 0);
            gen_primary(S, &body); /* one NUL of two */
        }
        if (op == BUSRT_OP_NOP && qos == 0) {
            qos = 1;
        }
        add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p, body.len, (uint32_t)body.len);
        break;
    }
    case 2: { /* a text field that is not UTF-8 (REQ-UTF8-2) */
        static const uint8_t ops[] = {BUSRT_OP_PUBLISH, BUSRT_OP_MESSAGE, BUSRT_OP_BROADCAST,
                                      BUSRT_OP_PUBLISH_FOR, BUSRT_OP_SUBSCRIBE,
                                      BUSRT_OP_UNSUBSCRIBE, BUSRT_OP_EXCLUDE,
                                      BUSRT_OP_UNEXCLUDE};
        uint8_t op = ops[nf_pick(&S->src, 8)];
        int field = op == BUSRT_OP_PUBLISH_FOR ? (int)nf_pick(&S->src, 2) : 0;
        gen_topic(S, &body);
        if (field == 0) {
            nf_buf_adds(&body, pick_s(S, BAD_UTF8, NELEM(BAD_UTF8)));
        }
        if (op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE) {
            if (nf_chance(&S->src, 50)) {
                nf_buf_addc(&body, 0);
                gen_pattern(S, c, 0, &body);
            }
        } else {
            nf_buf_addc(&body, 0);
            if (op == BUSRT_OP_PUBLISH_FOR) {
                gen_primary(S, &body);
                if (field == 1) {
                    nf_buf_adds(&body, pick_s(S, BAD_UTF8, NELEM(BAD_UTF8)));
                }
                nf_buf_addc(&body, 0);
            }
            gen_payload(S, &body);
        }
        add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p, body.len, (uint32_t)body.len);
        break;
    }
    case 3: { /* a body length above every allowed limit (REQ-FRM-5, REQ-LIM-6) */
        uint32_t lo = S->o->body_limit > 0 ? S->o->body_limit : BUSRT_BODY_MAX;
        uint32_t len = lo + 1 + nf_pick(&S->src, 0xFFFFFFFFu - lo);
        static const uint8_t ops[] = {BUSRT_OP_PUBLISH, BUSRT_OP_MESSAGE, BUSRT_OP_SUBSCRIBE,
                                      BUSRT_OP_PUBLISH_FOR};
        uint8_t op = ops[nf_pick(&S->src, 4)];
        gen_topic(S, &body);
        add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p,
                  nf_chance(&S->src, 50) ? body.len : 0, len);
        break;
    }
    case 4: { /* op 0 with QoS and a non-UTF-8 first field: may close (5.6) */
        gen_topic(S, &body);
        nf_buf_adds(&body, pick_s(S, BAD_UTF8, NELEM(BAD_UTF8)));
        nf_buf_addc(&body, 0);
        add_frame(&b, opid, (uint8_t)(1u + nf_pick(&S->src, 3)) * 64u, body.p, body.len,
                  (uint32_t)body.len);
        break;
    }
    default: { /* raw bytes; the model decides what they are */
        uint32_t n = 1 + nf_pick(&S->src, 48);
        for (uint32_t i = 0; i < n; i++) {
            nf_buf_addc(&b, (uint8_t)nf_pick(&S->src, 256));
        }
        break;
    }
    }
    if (nf_chance(&S->src, 50)) {
        gen_frame(S, c, 0, &b); /* after the garbage: must have no effect */
    }
    int pieces = nf_chance(&S->src, 30) ? 2 + (int)nf_pick(&S->src, 3) : 1;
    const uint32_t seq0 = S->seq;
    int fate = put(S, c, b.p, b.len, pieces);
    if (fate == NF_OPEN && C->fd >= 0 && C->sent.len > 0) {
        /* raw bytes that end inside a frame: disconnect */
        nf_model_kill(S, c);
        close_fd(S, c, EV_CLOSE);
        mark_uncertain(S, seq0);
        S->stat[NS_WE_CLOSED]++;
    }
    nf_buf_free(&b);
    nf_buf_free(&body);
}

static void act_disconnect(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    uint32_t how = nf_pick(&S->src, 10);
    if (how < 3 && C->pend.len == 0) { /* in the middle of a frame */
        struct nf_buf b = {0};
        gen_frame(S, c, 0, &b);
        size_t cut = 1 + nf_pick(&S->src, (uint32_t)(b.len - 1));
        (void)put(S, c, b.p, cut, 1);
        nf_buf_free(&b);
    }
    if (C->st != NF_LIVE) {
        return;
    }
    nf_model_kill(S, c);
    S->stat[NS_DISCONNECT]++;
    S->stat[NS_HALF_CLOSE] += how >= 8;
    if (how >= 8 && C->fd >= 0) { /* half close: the broker must end it (REQ-ERR-3) */
        nf_trace_ev(&S->tr, EV_SHUT, C->conn, NULL, 0, 0);
        nf_trace_ev(&S->tr, EV_DYING, C->conn, NULL, 0, 0);
        (void)shutdown(C->fd, SHUT_WR);
        C->st = NF_DYING;
        C->close_req = "REQ-ERR-3";
        C->eof_deadline = nf_now_ms() + S->o->wait_ms;
    } else {
        close_fd(S, c, EV_CLOSE);
    }
}

/* Handshake garbage on a throwaway connection. */
static void act_hs_junk(struct nf_sess *S)
{
    struct nf_buf name = {0};
    nf_buf_add(&name, S->prefix, S->prefix_len);
    char tail[32];
    snprintf(tail, sizeof tail, ".=h%u", S->seq);
    nf_buf_adds(&name, tail);
    int conn = nf_trace_conn(&S->tr, name.p, name.len, -1);
    int fd = nf_connect(S->broker->addr, S->o->wait_ms);
    if (fd < 0) {
        nf_violation(S, conn, "REQ-ADDR-1", "the broker does not accept a connection (%s)",
                     strerror(errno));
        nf_buf_free(&name);
        return;
    }
    nf_trace_ev(&S->tr, EV_CONNECT, conn, NULL, 0, 0);
    nf_trace_ev(&S->tr, EV_HSEXPECT, conn, "\xeb\x01\x00", 3, 0);
    uint32_t kind = nf_pick(&S->src, 4);
    uint8_t g[3];
    long k = read_exact(fd, g, 3, S->o->wait_ms);
    if (k > 0) {
        nf_trace_ev(&S->tr, EV_RECV, conn, g, (size_t)k, 0);
    }
    if (k != 3 || busrt_greeting_decode(g, 3) != 3) {
        nf_violation(S, conn, "REQ-HS-1", "the broker's greeting is not EB 01 00");
    } else if (kind == 0) { /* a bad greeting: 75 and close (REQ-HS-3) */
        uint8_t bad[3] = {0xEB, 1, 0};
        uint32_t at = nf_pick(&S->src, 3);
        bad[at] = (uint8_t)nf_pick(&S->src, 256);
        if (busrt_greeting_decode(bad, 3) == 3) {
            bad[at] ^= 0x80u; /* still EB 01 00: change it */
        }
        (void)hs_send(S, fd, conn, bad, 3, 0);
        nf_trace_ev(&S->tr, EV_HSEXPECT, conn, "\x75", 1, 1);
        uint8_t r[4];
        k = read_exact(fd, r, sizeof r, S->o->wait_ms);
        if (k > 0) {
            nf_trace_ev(&S->tr, EV_RECV, conn, r, (size_t)k, 0);
        }
        if (k >= 0 && k < (long)sizeof r) {
            nf_trace_ev(&S->tr, EV_EOF, conn, NULL, 0, 0);
        }
        if (k != 1 || r[0] != BUSRT_RC_NOT_SUPPORTED) {
            nf_violation(S, conn, "REQ-HS-3",
                         "greeting %02x %02x %02x: the broker must reply 75 and close "
                         "(%ld bytes before EOF, first 0x%02x)", bad[0], bad[1], bad[2], k,
                         k > 0 ? r[0] : 0);
        }
    } else { /* a handshake cut short, or complete and then abandoned */
        struct nf_buf all = {0};
        uint8_t nl[2];
        (void)busrt_name_len_encode(name.len, nl, sizeof nl);
        nf_buf_add(&all, g, 3);
        size_t cut = kind == 1 ? nf_pick(&S->src, 3) : 3;
        if (kind == 1) {
            (void)hs_send(S, fd, conn, all.p, cut, 0);
        } else {
            (void)hs_send(S, fd, conn, all.p, 3, 0);
            nf_trace_ev(&S->tr, EV_HSEXPECT, conn, "\x01", 1, 0);
            uint8_t r;
            if (read_exact(fd, &r, 1, S->o->wait_ms) == 1) {
                nf_trace_ev(&S->tr, EV_RECV, conn, &r, 1, 0);
                if (r != BUSRT_RC_OK) {
                    nf_violation(S, conn, "REQ-HS-3", "the greeting echo got 0x%02x, not 01", r);
                }
            }
            all.len = 0;
            nf_buf_add(&all, nl, 2);
            nf_buf_add(&all, name.p, name.len);
            cut = kind == 2 ? nf_pick(&S->src, (uint32_t)all.len) : all.len;
            (void)hs_send(S, fd, conn, all.p, cut, 0);
        }
        nf_buf_free(&all);
    }
    nf_trace_ev(&S->tr, EV_CLOSE, conn, NULL, 0, 0);
    close(fd);
    nf_buf_free(&name);
}

/* ---- Settling ---------------------------------------------------------------- */

static void sync_frame(struct nf_sess *S, int c, const uint8_t *target, size_t tn,
                       const char *payload)
{
    struct nf_buf b = {0}, body = {0};
    nf_buf_add(&body, target, tn);
    nf_buf_addc(&body, 0);
    nf_buf_adds(&body, payload);
    uint32_t opid = NF_SYNC_BASE | (S->nsync++ & 0xFFFFu);
    add_frame(&b, opid, BUSRT_OP_MESSAGE + 64u, body.p, body.len, (uint32_t)body.len);
    int acted = S->cl[c].acted;
    (void)put(S, c, b.p, b.len, 1);
    S->cl[c].acted = acted;
    nf_buf_free(&b);
    nf_buf_free(&body);
}

static int outstanding(const struct nf_client *C)
{
    for (size_t i = 0; i < C->nexp; i++) {
        if (!C->exp[i].optional) {
            return 1;
        }
    }
    return 0;
}

/* Waits until every live client received every expected frame and every
 * dying connection reached EOF. */
static void wait_expected(struct nf_sess *S)
{
    int64_t deadline = nf_now_ms() + S->o->wait_ms;
    for (;;) {
        if (S->violated) {
            return;
        }
        int busy = 0;
        int64_t now = nf_now_ms();
        for (int i = 0; i < NF_MAXC; i++) {
            struct nf_client *C = &S->cl[i];
            if (C->st == NF_LIVE && outstanding(C)) {
                busy = 1;
                if (now > deadline) {
                    const struct nf_exp *e = NULL;
                    for (size_t j = 0; j < C->nexp && e == NULL; j++) {
                        e = C->exp[j].optional ? NULL : &C->exp[j];
                    }
                    char d[256];
                    describe(e->b, e->n, d, sizeof d);
                    nf_violation(S, C->conn, e->is_ack ? "REQ-ACK-2" : e->req,
                                 "client \"%s\" did not receive the %s of frame #%u within "
                                 "%d ms (%zu frames outstanding)", cname(S, i), d, e->seq,
                                 S->o->wait_ms, C->nexp);
                    return;
                }
            }
            if (C->st == NF_DYING && C->fd >= 0) {
                busy = 1;
                if (now > C->eof_deadline) {
                    nf_violation(S, C->conn, C->close_req != NULL ? C->close_req : "REQ-ERR-1",
                                 "the broker did not close the connection of \"%s\" within "
                                 "%d ms", cname(S, i), S->o->wait_ms);
                    return;
                }
            }
        }
        if (!busy) {
            return;
        }
        pump(S, 20, -1);
    }
}

/* After a client died: a message to its name must get ACK 71 (REQ-ERR-3). */
static void wait_released(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC && !S->violated; i++) {
        struct nf_client *C = &S->cl[i];
        if (C->reg || C->released || C->name.len == 0 || C->st == NF_LIVE) {
            continue;
        }
        if (!can_act(S, S->ctl)) {
            C->released = 1;
            continue;
        }
        int64_t deadline = nf_now_ms() + S->o->wait_ms;
        for (int tries = 0; !S->violated; tries++) {
            S->force_alt = BUSRT_RC_OK; /* still registered: 01 and a delivery */
            S->case_skip = 1;
            sync_frame(S, S->ctl, C->name.p, C->name.len, "nf-release");
            S->case_skip = 0;
            S->force_alt = 0;
            uint32_t seq = S->seq;
            wait_expected(S);
            if (S->violated) {
                return;
            }
            if (S->cl[S->ctl].last_ack_seq == seq && S->cl[S->ctl].last_ack == 0x71) {
                C->released = 1;
                break;
            }
            if (nf_now_ms() > deadline) {
                nf_violation(S, C->conn, "REQ-ERR-3",
                             "the name \"%s\" is still registered %d ms after its connection "
                             "ended", cname(S, i), S->o->wait_ms);
                return;
            }
            pump_for(S, tries < 5 ? 1 : 10);
        }
    }
}

static void settle(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC && !S->violated; i++) {
        struct nf_client *C = &S->cl[i];
        if (C->acted && can_act(S, i) && C->pend.len == 0) {
            uint8_t vn[64];
            memcpy(vn, S->prefix, S->prefix_len);
            memcpy(vn + S->prefix_len, ".=void", 6);
            sync_frame(S, i, vn, S->prefix_len + 6, "nf-sync");
        }
        C->acted = 0;
    }
    wait_expected(S);
    wait_released(S);
    nf_trace_ev(&S->tr, EV_SETTLE, -1, NULL, 0, 0);
}

/* Pings idle clients and finishes frames started long ago (keep-alive,
 * REQ-KA-2: the broker's timeout is assumed to be at least 2 s). */
static int keepalive(struct nf_sess *S)
{
    int64_t now = nf_now_ms();
    for (int i = 0; i < NF_MAXC && !S->violated; i++) {
        struct nf_client *C = &S->cl[i];
        if (!can_act(S, i)) {
            continue;
        }
        if (C->pend.len > 0 && now - C->pend_since > 700) {
            struct nf_buf b = {0};
            nf_buf_add(&b, C->pend.p, C->pend.len);
            C->pend.len = 0;
            (void)put(S, i, b.p, b.len, 1);
            nf_buf_free(&b);
            return 1; /* one at a time: the caller syncs it */
        } else if (C->pend.len == 0 && now - C->last_send > 900) {
            static const uint8_t ping[9] = {0};
            int acted = C->acted;
            (void)put(S, i, ping, 9, 1);
            C->acted = acted;
        }
    }
    return 0;
}

/* ---- The session ------------------------------------------------------------- */

static void make_prefix(struct nf_sess *S)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    static uint64_t counter;
    counter++;
    uint64_t x = (uint64_t)getpid() * UINT64_C(0x100000001);
    x ^= (uint64_t)nf_now_ms() ^ (counter << 40) ^ (uint64_t)S->index;
    x = nf_mix64(x);
    memcpy(S->prefix, "nf", 2);
    for (int i = 0; i < 12; i++) {
        S->prefix[2 + i] = al[x % 36u];
        x /= 36u;
    }
    S->prefix[14] = 0;
    S->prefix_len = 14;
}

static void cleanup(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC; i++) {
        struct nf_client *C = &S->cl[i];
        if (C->fd >= 0) {
            close(C->fd);
            C->fd = -1;
        }
        slot_reset(C);
        nf_buf_free(&C->name);
        nf_buf_free(&C->sent);
        nf_buf_free(&C->rx);
        nf_buf_free(&C->pend);
        free(C->exp);
        C->exp = NULL;
        C->cexp = 0;
    }
}

static int register_named(struct nf_sess *S, const char *suffix)
{
    struct nf_buf n = {0};
    nf_buf_add(&n, S->prefix, S->prefix_len);
    nf_buf_adds(&n, suffix);
    int c = do_register(S, n.p, n.len, 0);
    nf_buf_free(&n);
    return c;
}

/* Where the next choice comes from: an offset into the recorded or fed
 * bytes. */
static size_t src_pos(const struct nf_sess *S)
{
    if (S->src.rec != NULL) {
        return S->src.rec->len;
    }
    return S->src.data != NULL ? S->src.pos : 0;
}

static void mark_action(struct nf_sess *S)
{
    if (S->nact == S->cact) {
        S->cact = S->cact != 0 ? S->cact * 2 : 64;
        S->act_off = nf_xrealloc(S->act_off, S->cact * sizeof *S->act_off);
    }
    S->act_off[S->nact++] = src_pos(S);
}

int nf_session_run(struct nf_sess *S, char *case_path, size_t cap)
{
    case_path[0] = 0;
    memset(S->cl, 0, sizeof S->cl);
    for (int i = 0; i < NF_MAXC; i++) {
        S->cl[i].fd = -1;
        S->cl[i].released = 1;
    }
    nf_trace_reset(&S->tr);
    S->violated = 0;
    S->vmsg[0] = S->vreq[0] = 0;
    S->vconn = -1;
    S->seq = S->nsync = S->ntag = 0;
    S->force_alt = 0;
    S->actions = 0;
    make_prefix(S);
    int64_t start = nf_now_ms();
    S->t_end = start + S->o->session_ms;
    int unreachable = 0;

    S->ctl = register_named(S, ".=ctl");
    if (S->ctl < 0) {
        unreachable = 1;
    }
    int max_actions = 1 << 20; /* a fuzz input: until it runs out */
    if (S->replay) {
        max_actions = S->replay_actions;
    } else if (S->src.data == NULL) { /* not a choice a replay repeats */
        struct nf_buf *rec = S->src.rec;
        S->src.rec = NULL;
        max_actions = 4 + (int)nf_pick(&S->src, (uint32_t)S->o->max_actions);
        S->src.rec = rec;
    }
    S->nact = 0;
    S->npay = 0;
    S->nfrm = 0;
    while (!S->violated && !unreachable && S->actions < max_actions && !S->src.exhausted &&
           nf_now_ms() < S->t_end) {
        mark_action(S);
        if (keepalive(S)) {
            settle(S); /* a completed frame may change state: sync it first */
        }
        S->actions++;
        uint32_t a = nf_pick(&S->src, 100);
        int c = pick_client(S, 1, 0);
        if (c < 0 || a < 14) {
            struct nf_buf name = {0};
            gen_reg_name(S, &name);
            if (do_register(S, name.p, name.len, nf_chance(&S->src, 25)) == -2) {
                unreachable = 1;
            }
            nf_buf_free(&name);
        } else if (a < 52 || a >= 90) {
            S->stat[NS_OPS]++;
            act_ops(S, c);
        } else if (a < 62) {
            S->stat[NS_CONC]++;
            act_concurrent(S);
        } else if (a < 68) {
            if (S->cl[c].pend.len == 0) {
                S->stat[NS_PARTIAL]++;
                act_partial(S, c);
            } else {
                S->stat[NS_OPS]++;
                act_ops(S, c);
            }
        } else if (a < 78) {
            S->stat[NS_GARBAGE]++;
            act_garbage(S, c);
        } else if (a < 86) {
            act_disconnect(S, c);
        } else {
            S->stat[NS_HS_JUNK]++;
            act_hs_junk(S);
        }
        settle(S);
    }
    S->act_end = src_pos(S);
    S->loop_violated = S->violated;
    /* End: finish or abandon started frames, flush every queue with a
     * barrier, close everything, then probe the broker. */
    if (!S->violated && !unreachable) {
        for (int i = 0; i < NF_MAXC; i++) {
            if (can_act(S, i) && S->cl[i].pend.len > 0 && nf_chance(&S->src, 50)) {
                struct nf_buf b = {0};
                nf_buf_add(&b, S->cl[i].pend.p, S->cl[i].pend.len);
                S->cl[i].pend.len = 0;
                (void)put(S, i, b.p, b.len, 1);
                nf_buf_free(&b);
                settle(S); /* one client at a time: the model is sequential */
            }
        }
        settle(S);
        for (int i = 0; i < NF_MAXC && !S->violated; i++) {
            if (i != S->ctl && can_act(S, i)) {
                sync_frame(S, S->ctl, S->cl[i].name.p, S->cl[i].name.len, "nf-barrier");
            }
        }
        settle(S);
    }
    int written = S->no_case;
    if (S->violated && !written) { /* while the outstanding expectations are known */
        nf_case_write(S, case_path, cap);
        written = 1;
    }
    for (int i = 0; i < NF_MAXC; i++) {
        if (S->cl[i].fd >= 0) {
            nf_model_kill(S, i);
            close_fd(S, i, EV_CLOSE);
        }
        S->cl[i].reg = 0;
        S->cl[i].released = 1;
        S->cl[i].st = S->cl[i].st == NF_FREE ? NF_FREE : NF_GONE;
    }
    if (!S->violated && !unreachable) { /* the probe: a new client round-trips a message */
        int p = register_named(S, ".=probe");
        if (p >= 0) {
            S->cl[p].acted = 0;
            sync_frame(S, p, S->cl[p].name.p, S->cl[p].name.len, "nf-probe");
            wait_expected(S);
            close_fd(S, p, EV_CLOSE);
        } else if (!S->violated) {
            nf_violation(S, -1, "REQ-HS-5", "the probe client could not register");
        }
    }
    int v = S->violated;
    if (v && !written) {
        nf_case_write(S, case_path, cap);
    }
    cleanup(S);
    return v ? (unreachable ? 2 : 1) : 0;
}
